/**
 * Presence: which instance holds each connected device's WebSocket. With Redis, a key per device names its
 * instance, and a heartbeat key per instance says the instance is alive; both expire, so the devices of an instance
 * that died (SIGKILL, lost host) count as offline within `instanceTtlMs` and their keys vanish on their own.
 * Without Redis there is one instance and presence is a local set. It never stores anything but ids.
 */
import type { Redis } from 'ioredis';

import type { RedisRepository } from './redis.repository.js';

export type PresenceOptions = {
  /** How long an instance counts as alive after its last heartbeat. */
  instanceTtlMs: number;
  /** How long a device's presence key lives without refresh (refreshed at a third of it). */
  deviceTtlMs: number;
};

/** `${accountId}.${deviceId}`, the same key the WebSocket layer uses. */
export type DeviceKey = string;

export abstract class PresenceRepository {
  constructor(readonly instanceId: string) {}

  abstract start(): Promise<void>;
  /** Records that `device` is connected here; returns the other instance that held it before, if any. */
  abstract add(device: DeviceKey): Promise<string | null>;
  /** Records that `device` left this instance (no effect if it has since connected elsewhere). */
  abstract remove(device: DeviceKey): Promise<void>;
  /** The live instance holding each device, or null when it is offline. */
  abstract lookup(devices: DeviceKey[]): Promise<Map<DeviceKey, string | null>>;
  abstract close(): Promise<void>;
}

/** Deletes a device's key only if it still names this instance (a reconnection elsewhere must survive). */
const REMOVE_IF_OWNER = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * How long a positive heartbeat check is reused: saves a Redis round trip per routed batch, at the cost of sending
 * to an instance that died in the last second (its devices reconnect elsewhere and drain, so nothing is lost).
 */
const ALIVE_CACHE_MS = 1_000;

export class RedisPresenceRepository extends PresenceRepository {
  private readonly client: Redis;
  private readonly local = new Set<DeviceKey>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly aliveUntil = new Map<string, number>();

  constructor(
    instanceId: string,
    private readonly redis: RedisRepository,
    private readonly options: PresenceOptions,
  ) {
    super(instanceId);
    this.client = redis.connect('presence');
  }

  private deviceKey(device: DeviceKey): string {
    return `${this.redis.prefix}:presence:${device}`;
  }

  private instanceKey(instanceId: string): string {
    return `${this.redis.prefix}:instance:${instanceId}`;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timers.push(setInterval(() => void this.beat().catch(() => undefined), this.options.instanceTtlMs / 3));
    this.timers.push(setInterval(() => void this.refresh().catch(() => undefined), this.options.deviceTtlMs / 3));
  }

  private async beat(): Promise<void> {
    await this.client.set(this.instanceKey(this.instanceId), '1', 'PX', this.options.instanceTtlMs);
  }

  /** Re-asserts every local device: also repairs keys lost when Redis restarted without persistence. */
  private async refresh(): Promise<void> {
    const devices = [...this.local];
    for (let i = 0; i < devices.length; i += 500) {
      const pipeline = this.client.pipeline();
      for (const device of devices.slice(i, i + 500)) {
        pipeline.set(this.deviceKey(device), this.instanceId, 'PX', this.options.deviceTtlMs);
      }
      await pipeline.exec();
    }
  }

  async add(device: DeviceKey): Promise<string | null> {
    this.local.add(device);
    const previous = (await this.client.call(
      'SET',
      this.deviceKey(device),
      this.instanceId,
      'PX',
      String(this.options.deviceTtlMs),
      'GET',
    )) as string | null;
    return previous !== null && previous !== this.instanceId ? previous : null;
  }

  async remove(device: DeviceKey): Promise<void> {
    this.local.delete(device);
    await this.client.eval(REMOVE_IF_OWNER, 1, this.deviceKey(device), this.instanceId);
  }

  async lookup(devices: DeviceKey[]): Promise<Map<DeviceKey, string | null>> {
    const result = new Map<DeviceKey, string | null>();
    if (devices.length === 0) return result;
    const owners = await this.client.mget(devices.map((d) => this.deviceKey(d)));
    const now = Date.now();
    const alive = new Set<string>([this.instanceId]);
    const unknown: string[] = [];
    for (const owner of new Set(owners)) {
      if (owner === null || owner === this.instanceId) continue;
      if ((this.aliveUntil.get(owner) ?? 0) > now) alive.add(owner);
      else unknown.push(owner);
    }
    if (unknown.length > 0) {
      const beats = await this.client.mget(unknown.map((i) => this.instanceKey(i)));
      unknown.forEach((instance, i) => {
        if (beats[i] === null) {
          this.aliveUntil.delete(instance);
          return;
        }
        alive.add(instance);
        this.aliveUntil.set(instance, now + Math.min(ALIVE_CACHE_MS, this.options.instanceTtlMs / 3));
      });
    }
    devices.forEach((device, i) => {
      const owner = owners[i] ?? null;
      result.set(device, owner !== null && alive.has(owner) ? owner : null);
    });
    return result;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    const devices = [...this.local];
    this.local.clear();
    if (this.client.status !== 'ready') return;
    /** A clean shutdown hands its devices back at once instead of waiting for the heartbeat to expire. */
    const pipeline = this.client.pipeline();
    for (const device of devices) pipeline.eval(REMOVE_IF_OWNER, 1, this.deviceKey(device), this.instanceId);
    pipeline.del(this.instanceKey(this.instanceId));
    await pipeline.exec().catch(() => undefined);
  }
}

export class InProcessPresenceRepository extends PresenceRepository {
  private readonly local = new Set<DeviceKey>();

  start(): Promise<void> {
    return Promise.resolve();
  }

  add(device: DeviceKey): Promise<string | null> {
    this.local.add(device);
    return Promise.resolve(null);
  }

  remove(device: DeviceKey): Promise<void> {
    this.local.delete(device);
    return Promise.resolve();
  }

  lookup(devices: DeviceKey[]): Promise<Map<DeviceKey, string | null>> {
    return Promise.resolve(new Map(devices.map((d) => [d, this.local.has(d) ? this.instanceId : null])));
  }

  close(): Promise<void> {
    this.local.clear();
    return Promise.resolve();
  }
}
