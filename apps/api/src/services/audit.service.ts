/**
 * Records organization and security events in the hash-chained audit log: who (an account id, or `operator` for the
 * local admin socket) did what to whom (an account id, `account.device`, an invite id, or for a retention change the
 * new lifetimes in seconds), and when. Never content,
 * message metadata, keys, codes or addresses. A failed append is logged and does not fail the action it records
 * (the action already happened; refusing it afterwards would lie about it).
 */
import { Injectable } from '@nestjs/common';

import { Clock } from '../repositories/clock.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { OrganizationRepository } from '../repositories/organization.repository.js';

/** The audit log's events (stable names: the chain covers them, and auditors search for them). */
export const AuditEvent = {
  Registered: 'registered',
  OwnerInviteCreated: 'owner_invite_created',
  OrganizationKeyPublished: 'organization_key_published',
  InviteCreated: 'invite_created',
  InviteRevoked: 'invite_revoked',
  RoleOwner: 'role_owner',
  RoleAdmin: 'role_admin',
  RoleMember: 'role_member',
  AccountDisabled: 'account_disabled',
  AccountEnabled: 'account_enabled',
  DeviceAdded: 'device_added',
  DeviceRemoved: 'device_removed',
  AccountDeleted: 'account_deleted',
  RetentionChanged: 'retention_changed',
} as const;
export type AuditEvent = (typeof AuditEvent)[keyof typeof AuditEvent];

/** The actor of actions taken through the local admin socket (the server's operator). */
export const OPERATOR = 'operator';

@Injectable()
export class AuditService {
  constructor(
    private readonly organization: OrganizationRepository,
    private readonly clock: Clock,
    private readonly logger: LoggingRepository,
  ) {}

  async record(event: AuditEvent, actor: string | null, target: string | null): Promise<void> {
    try {
      await this.organization.appendAudit({ at: new Date(this.clock.now()), event, actor, target });
    } catch {
      this.logger.error('could not append to the audit log', { event });
    }
  }
}
