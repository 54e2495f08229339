/**
 * Device authentication: the `Authorization: Basic base64("<accountId>.<deviceId>:<secret>")` header of HTTP calls,
 * the credential or single-use ticket of a WebSocket `auth` frame, and issuing those tickets. The stored credential
 * is a hash, compared in constant time. Every attempt that presents a credential or ticket runs under the
 * failed-authentication throttle (per client address and per account). It does not decide what an authenticated
 * device may do.
 */
import { Injectable } from '@nestjs/common';
import { AccountId, DeviceId, ErrorCode, Secret } from '@cove/protocol';

import { Clock } from '../repositories/clock.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { DeviceRepository } from '../repositories/device.repository.js';
import { ApiError } from './api-error.js';
import { AuthThrottleService } from './auth-throttle.service.js';

/** An authenticated device; `accountId` is always in its canonical lower-case spelling, whatever the client sent. */
export type AuthenticatedDevice = { accountId: string; deviceId: number };

/** Tickets only bridge an HTTP call and the WebSocket opened right after it. */
const TICKET_TTL_MS = 60_000;
/** `lastSeenAt` is coarse on purpose: updating it on every request would be a write per read, and it leaks less. */
const LAST_SEEN_RESOLUTION_MS = 60 * 60 * 1000;

export class Unauthorized extends ApiError {
  constructor(message = 'missing or invalid credentials') {
    super(401, ErrorCode.Unauthorized, message);
  }
}

/** The device authenticated, then was removed before its request could write (`401 unauthorized`). */
export class DeviceRemoved extends Unauthorized {
  constructor() {
    super('this device was removed from its account');
  }
}

@Injectable()
export class AuthService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly crypto: CryptoRepository,
    private readonly throttle: AuthThrottleService,
    private readonly clock: Clock,
  ) {}

  /**
   * Authenticates a Basic header sent from `address`; throws {@link Unauthorized} (no header at all is not counted as
   * a failed attempt), or `AuthThrottled` (429) while the address or account is locked out.
   */
  async authenticateHeader(header: string | undefined, address?: string): Promise<AuthenticatedDevice> {
    if (!header?.startsWith('Basic ')) throw new Unauthorized();
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon);
    const dot = user.lastIndexOf('.');
    if (colon < 0 || dot < 0) {
      return this.throttled(address, undefined, () => Promise.reject(new Unauthorized()));
    }
    const deviceId = Number(user.slice(dot + 1));
    return this.authenticate(user.slice(0, dot), deviceId, decoded.slice(colon + 1), address);
  }

  /** Authenticates a device credential presented from `address`; throws {@link Unauthorized} or `AuthThrottled`. */
  authenticate(accountId: string, deviceId: number, secret: string, address?: string): Promise<AuthenticatedDevice> {
    return this.throttled(address, accountId, () => this.verify(accountId, deviceId, secret));
  }

  private throttled(
    address: string | undefined,
    accountId: string | undefined,
    attempt: () => Promise<AuthenticatedDevice>,
  ): Promise<AuthenticatedDevice> {
    return this.throttle.attempt(address, accountId, attempt, (error) => error instanceof Unauthorized);
  }

  private async verify(claimedAccountId: string, deviceId: number, secret: string): Promise<AuthenticatedDevice> {
    const account = AccountId.safeParse(claimedAccountId);
    if (!account.success || !DeviceId.safeParse(deviceId).success || !Secret.safeParse(secret).success) {
      throw new Unauthorized();
    }
    /** The canonical (lower-case) id: every rate-limit key, socket, presence entry and comparison uses this one. */
    const accountId = account.data;
    const stored = await this.devices.credential(accountId, deviceId);
    const presented = this.crypto.hash(Buffer.from(secret, 'base64'));
    if (!stored || !this.crypto.equal(presented, stored.credentialHash)) throw new Unauthorized();
    if (this.clock.now() - stored.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS) {
      void this.devices.touch(accountId, deviceId).catch(() => undefined);
    }
    return { accountId, deviceId };
  }

  async issueTicket(device: AuthenticatedDevice): Promise<{ ticket: string; expiresAt: number }> {
    const raw = this.crypto.randomBytes(32);
    const expiresAt = this.clock.now() + TICKET_TTL_MS;
    await this.devices.createTicket(this.crypto.hash(raw), device.accountId, device.deviceId, new Date(expiresAt));
    return { ticket: raw.toString('base64url'), expiresAt };
  }

  /**
   * Redeems a ticket (once) presented from `address`; throws {@link Unauthorized} when unknown, used or expired, or
   * `AuthThrottled` while the address is locked out (the ticket is then left unused).
   */
  redeemTicket(ticket: string, address?: string): Promise<AuthenticatedDevice> {
    return this.throttled(address, undefined, () => this.redeem(ticket));
  }

  private async redeem(ticket: string): Promise<AuthenticatedDevice> {
    const raw = Buffer.from(ticket, 'base64url');
    if (raw.length !== 32) throw new Unauthorized('unknown or expired ticket');
    const device = await this.devices.redeemTicket(this.crypto.hash(raw));
    if (!device) throw new Unauthorized('unknown or expired ticket');
    return device;
  }
}
