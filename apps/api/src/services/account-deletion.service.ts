/**
 * Deleting an account at the request of its primary device: the account row goes in one transaction, and with it
 * (foreign keys) every device, credential, one-time and signed key, queued envelope, WebSocket ticket, push
 * subscription and provisioning code, and the username; then its attachments (blob and row), and the live
 * connections of its devices are closed with `4006 account deleted` on whichever instance holds them. From the
 * commit on, its credentials are refused and sends to it answer `404 not_found` like any unknown account. It cannot
 * reach what the operator copied elsewhere (database backups, logs kept outside the server).
 */
import { Injectable } from '@nestjs/common';
import { CloseCode, ErrorCode } from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { AuditEvent, AuditService } from './audit.service.js';
import { ApiError } from './api-error.js';
import { AttachmentService } from './attachment.service.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { DeliveryService } from './delivery.service.js';
import { PRIMARY_DEVICE_ID } from './device.service.js';

@Injectable()
export class AccountDeletionService {
  constructor(
    private readonly accounts: AccountRepository,
    private readonly attachments: AttachmentService,
    private readonly delivery: DeliveryService,
    private readonly logger: LoggingRepository,
    private readonly audit: AuditService,
  ) {}

  /** Only the primary device may delete the account, as only it manages the other devices (and as in Signal). */
  async deleteAccount(device: AuthenticatedDevice): Promise<void> {
    if (device.deviceId !== PRIMARY_DEVICE_ID) {
      throw new ApiError(403, ErrorCode.Forbidden, 'only the primary device may do this');
    }
    const devices = await this.accounts.remove(device.accountId);
    /** A concurrent deletion by another device of the account won: this one has nothing left to delete. */
    if (!devices) throw new ApiError(404, ErrorCode.NotFound, 'no such account');
    for (const deviceId of devices) {
      this.delivery.disconnectDevice(device.accountId, deviceId, CloseCode.AccountDeleted, 'account deleted');
    }
    const attachments = await this.attachments.removeAccount(device.accountId);
    this.logger.info('account deleted', { devices: devices.length, attachments });
    await this.audit.record(AuditEvent.AccountDeleted, device.accountId, device.accountId);
  }
}
