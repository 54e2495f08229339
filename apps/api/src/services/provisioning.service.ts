/**
 * Provisioning channels: a device not yet in any account opens `/v1/provisioning`, gets a fresh address and waits;
 * one authenticated device (of any account) puts one opaque body to that address; the body is handed over the bus
 * to whichever instance holds the channel, written to the socket, and the channel closes. The address is claimed
 * atomically before relaying, so a second put (on any instance) finds nothing; a channel with no message after
 * `PROVISIONING_TTL` (10 minutes) closes as expired. The server never reads the body (it is encrypted to the
 * waiting device's ephemeral key) and logs only addresses' existence, never a body. It does not decide who may link
 * to an account: that takes a provisioning code, checked by the device service.
 */
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ErrorCode,
  ProvisioningCloseCode,
  type ProvisioningAddressFrame,
  type ProvisioningMessageFrame,
} from '@cove/protocol';

import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { ProvisioningRepository, type ProvisioningSocket } from '../repositories/provisioning.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { rateLimitAddressKey } from '../utils/client-address.js';
import { ApiError } from './api-error.js';
import { DeliveryService } from './delivery.service.js';

/** A waiting channel of this instance. */
type Channel = { socket: ProvisioningSocket; timer: NodeJS.Timeout };

@Injectable()
export class ProvisioningService implements OnModuleInit, OnModuleDestroy {
  private readonly channels = new Map<string, Channel>();
  /** How long a channel waits (`PROVISIONING_TTL`). */
  private readonly ttlMs: number;

  constructor(
    private readonly repository: ProvisioningRepository,
    private readonly delivery: DeliveryService,
    private readonly crypto: CryptoRepository,
    private readonly limits: RateLimitRepository,
    private readonly config: ConfigRepository,
    private readonly metrics: MetricsRepository,
  ) {
    this.ttlMs = config.config.provisioningTtlMs;
  }

  onModuleInit(): void {
    this.delivery.onProvisioning((address, body) => this.hand(address, body));
  }

  onModuleDestroy(): void {
    for (const [address, channel] of this.channels) {
      clearTimeout(channel.timer);
      channel.socket.close(1001, 'server shutting down');
      this.channels.delete(address);
    }
  }

  /** A device opened a channel from `address` (its client address, for the rate limit). */
  async open(raw: unknown, clientAddress: string | undefined): Promise<void> {
    const socket = this.repository.adopt(raw);
    if (this.config.config.rateLimits) {
      const verdict = await this.limits.consume('provisioning', `channel:${rateLimitAddressKey(clientAddress ?? '')}`);
      if (!verdict.allowed) {
        socket.close(ProvisioningCloseCode.RateLimited, `retry after ${verdict.retryAfterSeconds}`);
        return;
      }
    }
    const address = this.crypto.randomBytes(16).toString('base64url');
    const expiresAt = Date.now() + this.ttlMs;
    const timer = setTimeout(() => this.expire(address), this.ttlMs);
    timer.unref();
    this.channels.set(address, { socket, timer });
    socket.listen(
      () => this.drop(address, ProvisioningCloseCode.Unexpected, 'the new device sends nothing on this channel'),
      () => this.drop(address),
    );
    try {
      await this.repository.open(address, this.ttlMs);
    } catch {
      this.drop(address, 1013, 'try again later');
      return;
    }
    if (!this.channels.has(address)) return;
    this.metrics.provisioningChannels.inc({ event: 'opened' });
    socket.send({ type: 'provisioning-address', address, expiresAt } satisfies ProvisioningAddressFrame);
  }

  /** `PUT /v1/provisioning/{address}`: relays `body` once; 404 for an unknown, expired or used address. */
  async send(address: string, body: string): Promise<void> {
    const instance = await this.repository.claim(address);
    if (!instance) throw new ApiError(404, ErrorCode.NotFound, 'unknown, expired or already used provisioning address');
    this.delivery.relayProvisioning(instance, address, body);
  }

  /** A body for a channel of this instance (from this instance or over the bus). */
  private hand(address: string, body: string): void {
    const channel = this.channels.get(address);
    if (!channel) return;
    this.channels.delete(address);
    clearTimeout(channel.timer);
    channel.socket.send({ type: 'provisioning-message', body } satisfies ProvisioningMessageFrame);
    channel.socket.close(ProvisioningCloseCode.Delivered, 'delivered');
    this.metrics.provisioningChannels.inc({ event: 'delivered' });
  }

  private expire(address: string): void {
    if (!this.channels.has(address)) return;
    this.metrics.provisioningChannels.inc({ event: 'expired' });
    this.drop(address, ProvisioningCloseCode.Expired, 'provisioning channel expired');
  }

  /** Ends the channel at `address` (closing its socket with `code` when given) and frees its address. */
  private drop(address: string, code?: number, reason = ''): void {
    const channel = this.channels.get(address);
    if (!channel) return;
    this.channels.delete(address);
    clearTimeout(channel.timer);
    if (code !== undefined) channel.socket.close(code, reason);
    this.repository.forget(address).catch(() => undefined);
  }
}
