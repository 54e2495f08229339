/**
 * Retention: envelopes nobody acknowledged within `ENVELOPE_TTL` (or the override administrators stored from the
 * admin console, which wins; attachments likewise with `ATTACHMENT_TTL`) are deleted by a repeatable job, and devices idle
 * past `IDLE_DEVICE_AFTER` are counted into the metrics for the operator — never deleted automatically, since a
 * device that comes back after a long trip must still find its account. The same job removes shared payloads
 * (multi-recipient ciphertexts) that no envelope row references any more. Nothing else is purged here.
 */
import { Injectable } from '@nestjs/common';

import { OnJob } from '../decorators.js';
import { JobName } from '../enum.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MailboxRepository } from '../repositories/mailbox.repository.js';
import { DeliveryMetricsRepository } from '../repositories/delivery-metrics.repository.js';
import { RetentionSettingsRepository, type RetentionOverrides } from '../repositories/retention-settings.repository.js';

/**
 * How long a read of the overrides is reused: attachment downloads check the TTL on every request, and a change made
 * on one instance reaches the others within this (purges run far less often than that).
 */
const OVERRIDES_CACHE_MS = 5_000;

export type RetentionTtls = { envelopeTtlMs: number; attachmentTtlMs: number };

@Injectable()
export class RetentionService {
  private cached: { at: number; overrides: RetentionOverrides } | undefined;

  constructor(
    private readonly config: ConfigRepository,
    private readonly mailbox: MailboxRepository,
    private readonly metrics: DeliveryMetricsRepository,
    private readonly logger: LoggingRepository,
    private readonly clock: Clock,
    private readonly settings: RetentionSettingsRepository,
  ) {}

  /** The stored overrides (null: the environment's value applies), read at most every few seconds. */
  async overrides(): Promise<RetentionOverrides> {
    const now = this.clock.now();
    if (!this.cached || now - this.cached.at >= OVERRIDES_CACHE_MS) {
      this.cached = { at: now, overrides: await this.settings.read() };
    }
    return this.cached.overrides;
  }

  /** The lifetimes applied now: the override where one is stored, else the environment's. */
  async ttls(): Promise<RetentionTtls> {
    const overrides = await this.overrides();
    return {
      envelopeTtlMs: overrides.envelopeTtlMs ?? this.config.config.delivery.envelopeTtlMs,
      attachmentTtlMs: overrides.attachmentTtlMs ?? this.config.config.attachments.ttlMs,
    };
  }

  /** The environment's lifetimes, for showing next to an override. */
  defaults(): RetentionTtls {
    return {
      envelopeTtlMs: this.config.config.delivery.envelopeTtlMs,
      attachmentTtlMs: this.config.config.attachments.ttlMs,
    };
  }

  /** Stores new overrides (bounds are the caller's rule) and applies them here at once. */
  async setOverrides(overrides: RetentionOverrides): Promise<void> {
    await this.settings.write(overrides, new Date(this.clock.now()));
    this.cached = { at: this.clock.now(), overrides };
  }

  @OnJob(JobName.PurgeExpiredEnvelopes)
  async handlePurge(): Promise<void> {
    await this.purgeExpired(this.clock.now());
  }

  @OnJob(JobName.ReportIdleDevices)
  async handleReportIdle(): Promise<void> {
    await this.reportIdle(this.clock.now());
  }

  /** Deletes envelopes accepted more than the envelope TTL before `now`; returns how many. */
  async purgeExpired(now: number): Promise<number> {
    const purged = await this.mailbox.purgeAcceptedBefore(now - (await this.ttls()).envelopeTtlMs);
    if (purged > 0) {
      this.metrics.envelopesExpired.inc(purged);
      this.logger.info('expired envelopes purged', { count: purged });
    }
    /** Expired rows took their shared payloads with them (trigger); this catches the ones concurrent deletes left. */
    const orphans = await this.mailbox.purgeOrphanPayloads();
    if (orphans > 0) this.logger.info('orphaned shared payloads purged', { count: orphans });
    return purged;
  }

  async reportIdle(now: number): Promise<{ devices: number; envelopes: number }> {
    const idle = await this.mailbox.idleDevices(new Date(now - this.config.config.delivery.idleDeviceAfterMs));
    this.metrics.idleDevices.set(idle.devices);
    this.metrics.idleDeviceEnvelopes.set(idle.envelopes);
    return idle;
  }
}
