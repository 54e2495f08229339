/**
 * The admin console's server side beyond members, invites and the audit log (organization.service.ts): removing one
 * device of a member (a lost laptop), the retention overrides (stored within bounds, audited, applied by the
 * retention service) and the server's status in counts. Every call requires an admin or the owner, enforced here.
 * It answers with numbers and ids only: never content, keys, addresses or push endpoints.
 */
import { Injectable } from '@nestjs/common';
import { ErrorCode, type RetentionRequest, type RetentionResponse, type ServerStatusResponse } from '@cove/protocol';

import { QueueName } from '../enum.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { DeviceRepository } from '../repositories/device.repository.js';
import { JobRepository } from '../repositories/job.repository.js';
import { MailboxRepository } from '../repositories/mailbox.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';
import { ApiError } from './api-error.js';
import { AuditEvent, AuditService } from './audit.service.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { DeliveryService } from './delivery.service.js';
import { PRIMARY_DEVICE_ID } from './device.service.js';
import { OrganizationService } from './organization.service.js';
import { RetentionService } from './retention.service.js';

const SECOND_MS = 1000;

@Injectable()
export class OrganizationAdminService {
  private readonly startedAt: number;

  constructor(
    private readonly organization: OrganizationService,
    private readonly devices: DeviceRepository,
    private readonly delivery: DeliveryService,
    private readonly retention: RetentionService,
    private readonly jobs: JobRepository,
    private readonly sockets: WebSocketRepository,
    private readonly mailbox: MailboxRepository,
    private readonly config: ConfigRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  /**
   * Removes one device of a member: its keys, queued envelopes and credential go, and its socket closes at once on
   * every instance. Not the primary (that is the account: disable it instead); the owner's devices only by the owner,
   * an admin's only by the owner (as with disabling).
   */
  async removeDevice(actor: AuthenticatedDevice, accountId: string, deviceId: number): Promise<void> {
    const actorRole = await this.organization.requireAdmin(actor);
    if (accountId !== actor.accountId) {
      const targetRole = await this.organization.enforcedRole(accountId);
      if (targetRole !== 'member' && actorRole !== 'owner') {
        throw new ApiError(403, ErrorCode.AdminRequired, "only the owner removes an admin's or the owner's devices");
      }
    }
    if (deviceId === PRIMARY_DEVICE_ID) {
      throw new ApiError(403, ErrorCode.Forbidden, 'the primary device cannot be removed: disable the account instead');
    }
    if (!(await this.devices.remove(accountId, deviceId)))
      throw new ApiError(404, ErrorCode.NotFound, 'no such device');
    this.delivery.disconnectDevice(accountId, deviceId);
    await this.audit.record(AuditEvent.DeviceRemoved, actor.accountId, `${accountId}.${deviceId}`);
  }

  async retentionSettings(actor: AuthenticatedDevice): Promise<RetentionResponse> {
    await this.organization.requireAdmin(actor);
    return this.retentionView();
  }

  /** Stores the overrides (null clears one); the request schema holds the bounds. Audited with the new values. */
  async setRetention(actor: AuthenticatedDevice, request: RetentionRequest): Promise<RetentionResponse> {
    await this.organization.requireAdmin(actor);
    const toMs = (seconds: number | null): number | null => (seconds === null ? null : seconds * SECOND_MS);
    await this.retention.setOverrides({
      envelopeTtlMs: toMs(request.envelopeTtlSeconds),
      attachmentTtlMs: toMs(request.attachmentTtlSeconds),
    });
    const word = (seconds: number | null): string => (seconds === null ? 'default' : String(seconds));
    await this.audit.record(
      AuditEvent.RetentionChanged,
      actor.accountId,
      `envelope=${word(request.envelopeTtlSeconds)};attachment=${word(request.attachmentTtlSeconds)}`,
    );
    return this.retentionView();
  }

  private async retentionView(): Promise<RetentionResponse> {
    const overrides = await this.retention.overrides();
    const defaults = this.retention.defaults();
    const value = (override: number | null, fallback: number) => ({
      effectiveSeconds: Math.round((override ?? fallback) / SECOND_MS),
      defaultSeconds: Math.round(fallback / SECOND_MS),
      overrideSeconds: override === null ? null : Math.round(override / SECOND_MS),
    });
    return {
      envelope: value(overrides.envelopeTtlMs, defaults.envelopeTtlMs),
      attachment: value(overrides.attachmentTtlMs, defaults.attachmentTtlMs),
    };
  }

  /** Counts only: this instance's live connections, the job queues, waiting envelopes, accounts and devices. */
  async status(actor: AuthenticatedDevice): Promise<ServerStatusResponse> {
    await this.organization.requireAdmin(actor);
    const queues = await Promise.all(
      [QueueName.Push, QueueName.Maintenance].map(async (name) => ({ name, ...(await this.jobs.counts(name)) })),
    );
    const totals = await this.mailbox.totals();
    return {
      version: this.config.config.version,
      uptimeSeconds: Math.floor((this.clock.now() - this.startedAt) / SECOND_MS),
      connections: this.sockets.size,
      queues,
      pendingEnvelopes: totals.envelopes,
      accounts: totals.accounts,
      devices: totals.devices,
    };
  }
}
