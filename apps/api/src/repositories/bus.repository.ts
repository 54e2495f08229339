/**
 * Cross-instance messages ("envelopes are available for device X", "close device X's socket"), addressed to one
 * instance or to all. With Redis: pub/sub through ioredis on one channel per instance plus a broadcast channel;
 * messages from one instance arrive in the order they were published, batched per event-loop turn. Without Redis:
 * the only instance is this one, so messages are handed to the local subscriber directly.
 *
 * Pub/sub is at-most-once: a message published while a subscriber's connection is down is lost. Callers must treat
 * the bus as a latency path over durable state (envelopes stay in PostgreSQL until acknowledged), and
 * `onResubscribed` tells them when such a gap may have happened so they can resynchronise. No database access here.
 */
import type { Redis } from 'ioredis';

import type { RedisRepository } from './redis.repository.js';

export type BusHandler = (message: unknown) => void;

export abstract class BusRepository {
  protected handler: BusHandler = () => undefined;
  protected resubscribed: () => void = () => undefined;

  constructor(readonly instanceId: string) {}

  /** Starts receiving messages for this instance (and broadcasts). */
  abstract start(handler: BusHandler, onResubscribed?: () => void): Promise<void>;
  /** Sends `message` to one instance; messages to the same instance keep their order. */
  abstract publish(instanceId: string, message: object): void;
  /** Sends `message` to every instance, this one included. */
  abstract broadcast(message: object): void;
  abstract close(): Promise<void>;
}

export class RedisBusRepository extends BusRepository {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly outbox = new Map<string, object[]>();
  private flushScheduled = false;
  private ready = false;

  constructor(
    instanceId: string,
    private readonly redis: RedisRepository,
  ) {
    super(instanceId);
    this.publisher = redis.connect('bus:pub');
    this.subscriber = redis.connect('bus:sub');
  }

  private channel(instanceId: string): string {
    return `${this.redis.prefix}:bus:${instanceId}`;
  }

  private get broadcastChannel(): string {
    return `${this.redis.prefix}:bus:*all`;
  }

  async start(handler: BusHandler, onResubscribed?: () => void): Promise<void> {
    this.handler = handler;
    if (onResubscribed) this.resubscribed = onResubscribed;
    this.subscriber.on('message', (_channel: string, raw: string) => this.receive(raw));
    /** ioredis re-subscribes after a reconnect; messages published meanwhile are gone, so report the gap. */
    this.subscriber.on('ready', () => {
      if (this.ready) this.resubscribed();
    });
    await this.subscriber.subscribe(this.channel(this.instanceId), this.broadcastChannel);
    this.ready = true;
  }

  private receive(raw: string): void {
    let batch: unknown;
    try {
      batch = JSON.parse(raw);
    } catch {
      return;
    }
    if (!Array.isArray(batch)) return;
    for (const message of batch) this.handler(message);
  }

  publish(instanceId: string, message: object): void {
    this.enqueue(this.channel(instanceId), message);
  }

  broadcast(message: object): void {
    this.enqueue(this.broadcastChannel, message);
  }

  private enqueue(channel: string, message: object): void {
    let list = this.outbox.get(channel);
    if (!list) this.outbox.set(channel, (list = []));
    list.push(message);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** One PUBLISH per channel per event-loop turn, in order, over a single connection (Redis keeps its order). */
  private flush(): void {
    this.flushScheduled = false;
    const batches = [...this.outbox];
    this.outbox.clear();
    if (batches.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const [channel, messages] of batches) pipeline.publish(channel, JSON.stringify(messages));
    /** A lost publish only delays delivery until the device's next (re)connection, which reads the database. */
    pipeline.exec().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.flush();
    this.ready = false;
    await this.subscriber.unsubscribe().catch(() => undefined);
  }
}

export class InProcessBusRepository extends BusRepository {
  private running = false;

  start(handler: BusHandler, onResubscribed?: () => void): Promise<void> {
    this.handler = handler;
    if (onResubscribed) this.resubscribed = onResubscribed;
    this.running = true;
    return Promise.resolve();
  }

  publish(_instanceId: string, message: object): void {
    /** Asynchronous like the Redis bus, so callers cannot come to rely on re-entrant delivery. */
    if (this.running) queueMicrotask(() => this.handler(message));
  }

  broadcast(message: object): void {
    this.publish(this.instanceId, message);
  }

  close(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }
}
