/**
 * Devices of an account: listing, linking a new device with a single-use provisioning code issued by the primary
 * device, and removal (by the primary, or a linked device removing itself; the device's keys, queued envelopes and credential go with it, and its live
 * connection is closed). Transferring the identity private key to a new device is the clients' business, not the
 * server's: the server never sees it.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  MAX_DEVICE_ID,
  type DeviceListResponse,
  type LinkDeviceRequest,
  type LinkDeviceResponse,
  type ProvisioningCodeResponse,
} from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { DeviceRepository } from '../repositories/device.repository.js';
import { SsoService } from './sso.service.js';
import { ApiError } from './api-error.js';
import { AuditEvent, AuditService } from './audit.service.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { DeliveryService } from './delivery.service.js';
import { PreKeyService } from './prekey.service.js';

/** The primary device's id: it registered the account and alone manages the others. */
export const PRIMARY_DEVICE_ID = 1;
/** Long enough to scan a QR code and type a name on the new device. */
const PROVISIONING_CODE_TTL_MS = 10 * 60 * 1000;

@Injectable()
export class DeviceService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly accounts: AccountRepository,
    private readonly preKeys: PreKeyService,
    private readonly crypto: CryptoRepository,
    private readonly delivery: DeliveryService,
    private readonly clock: Clock,
    private readonly config: ConfigRepository,
    private readonly audit: AuditService,
    private readonly sso: SsoService,
  ) {}

  async list(device: AuthenticatedDevice): Promise<DeviceListResponse> {
    const devices = await this.devices.list(device.accountId);
    return {
      devices: devices.map((d) => ({
        deviceId: d.deviceId,
        registrationId: d.registrationId,
        createdAt: d.createdAt.getTime(),
        lastSeenAt: d.lastSeenAt.getTime(),
        name: d.name ? Buffer.from(d.name).toString('base64') : null,
      })),
    };
  }

  async provisioningCode(device: AuthenticatedDevice): Promise<ProvisioningCodeResponse> {
    this.requirePrimary(device);
    const raw = this.crypto.randomBytes(32);
    const expiresAt = this.clock.now() + PROVISIONING_CODE_TTL_MS;
    await this.devices.createProvisioningCode(device.accountId, this.crypto.hash(raw), new Date(expiresAt));
    return { code: raw.toString('base64url'), expiresAt };
  }

  async link(body: LinkDeviceRequest): Promise<LinkDeviceResponse> {
    const raw = Buffer.from(body.provisioningCode, 'base64url');
    if (raw.length !== 32) throw new ApiError(403, ErrorCode.Forbidden, 'unknown, used or expired provisioning code');
    const codeHash = this.crypto.hash(raw);
    const accountId = await this.devices.provisioningAccount(codeHash);
    const identityKey = accountId ? await this.accounts.identityKey(accountId) : null;
    if (!identityKey) throw new ApiError(403, ErrorCode.Forbidden, 'unknown, used or expired provisioning code');
    // Under single sign-on a new device also needs its owner to have signed in again (a grant for the same person).
    if (this.config.config.registration === 'sso' && accountId) await this.sso.redeemForLink(body.ssoToken, accountId);
    const keys = this.preKeys.check(identityKey, body);
    if (!keys.signedPreKey || !keys.kyberLastResortPreKey) {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'signedPreKey and kyberLastResortPreKey are required');
    }
    const result = await this.devices.link(
      codeHash,
      {
        registrationId: body.registrationId,
        credentialHash: this.crypto.hash(Buffer.from(body.secret, 'base64')),
        signedPreKey: keys.signedPreKey,
        kyberLastResortPreKey: keys.kyberLastResortPreKey,
        preKeys: keys.preKeys,
        kyberPreKeys: keys.kyberPreKeys,
        name: body.name === undefined ? undefined : new Uint8Array(Buffer.from(body.name, 'base64')),
      },
      this.config.config.maxDevices,
      MAX_DEVICE_ID,
    );
    if (result === 'invalid_code') {
      throw new ApiError(403, ErrorCode.Forbidden, 'unknown, used or expired provisioning code');
    }
    if (result === 'limit_reached') {
      throw new ApiError(
        409,
        ErrorCode.LimitReached,
        `an account has at most ${this.config.config.maxDevices} devices`,
      );
    }
    await this.audit.record(AuditEvent.DeviceAdded, result.accountId, `${result.accountId}.${result.deviceId}`);
    return result;
  }

  /** The primary removes any other device; a linked device may remove itself (logging out). */
  async remove(device: AuthenticatedDevice, deviceId: number): Promise<void> {
    if (deviceId !== device.deviceId) this.requirePrimary(device);
    if (deviceId === PRIMARY_DEVICE_ID) {
      throw new ApiError(403, ErrorCode.Forbidden, 'the primary device cannot be removed');
    }
    if (!(await this.devices.remove(device.accountId, deviceId))) {
      throw new ApiError(404, ErrorCode.NotFound, 'no such device');
    }
    this.delivery.disconnectDevice(device.accountId, deviceId);
    await this.audit.record(AuditEvent.DeviceRemoved, device.accountId, `${device.accountId}.${deviceId}`);
  }

  private requirePrimary(device: AuthenticatedDevice): void {
    if (device.deviceId !== PRIMARY_DEVICE_ID) {
      throw new ApiError(403, ErrorCode.Forbidden, 'only the primary device may do this');
    }
  }
}
