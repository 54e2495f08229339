/**
 * Provisioning channels: which instance holds the socket waiting at each address, as a key that expires with the
 * channel, and the atomic claim (`GETDEL` with Redis, a map delete without) that lets exactly one message through
 * per address, whichever instance receives it. Also wraps the raw `ws` sockets of this instance's channels. It
 * stores only addresses and instance ids, never a message body; what a channel relays, and when, is the
 * provisioning service's business.
 */
import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';

import type { RedisRepository } from './redis.repository.js';

/** One waiting device's socket on this instance. */
export class ProvisioningSocket {
  constructor(private readonly socket: WebSocket) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  send(frame: object): void {
    if (this.open) this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  /** `onFrame` for any frame the device sends (it should send none); `onClose` once the socket is gone. */
  listen(onFrame: () => void, onClose: () => void): void {
    this.socket.on('message', () => onFrame());
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => onClose());
  }
}

export abstract class ProvisioningRepository {
  constructor(readonly instanceId: string) {}

  /** Wraps a freshly upgraded socket. */
  adopt(raw: unknown): ProvisioningSocket {
    return new ProvisioningSocket(raw as WebSocket);
  }

  /** Records that the channel at `address` waits on this instance for `ttlMs`. */
  abstract open(address: string, ttlMs: number): Promise<void>;
  /** Takes the channel at `address` (only the first caller gets it): the instance holding it, or null. */
  abstract claim(address: string): Promise<string | null>;
  /** Forgets the channel at `address` (closed or expired) if nobody claimed it yet. */
  abstract forget(address: string): Promise<void>;
}

export class RedisProvisioningRepository extends ProvisioningRepository {
  private readonly client: Redis;

  constructor(
    instanceId: string,
    private readonly redis: RedisRepository,
  ) {
    super(instanceId);
    this.client = redis.connect('provisioning');
  }

  private key(address: string): string {
    return `${this.redis.prefix}:provisioning:${address}`;
  }

  async open(address: string, ttlMs: number): Promise<void> {
    await this.client.set(this.key(address), this.instanceId, 'PX', ttlMs);
  }

  async claim(address: string): Promise<string | null> {
    return this.client.getdel(this.key(address));
  }

  async forget(address: string): Promise<void> {
    await this.client.del(this.key(address));
  }
}

export class InProcessProvisioningRepository extends ProvisioningRepository {
  private readonly channels = new Map<string, number>();

  constructor(
    instanceId: string,
    private readonly now: () => number = Date.now,
  ) {
    super(instanceId);
  }

  open(address: string, ttlMs: number): Promise<void> {
    this.channels.set(address, this.now() + ttlMs);
    return Promise.resolve();
  }

  claim(address: string): Promise<string | null> {
    const expiresAt = this.channels.get(address);
    this.channels.delete(address);
    return Promise.resolve(expiresAt !== undefined && expiresAt > this.now() ? this.instanceId : null);
  }

  forget(address: string): Promise<void> {
    this.channels.delete(address);
    return Promise.resolve();
  }
}
