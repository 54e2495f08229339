/**
 * Owns every ioredis connection of the process (commands, pub/sub, BullMQ) so they are all closed on shutdown —
 * BullMQ does not close connections it is given. Connections retry forever with a capped backoff, so a Redis
 * restart pauses delivery instead of crashing the server. It holds no keys itself; key names start with `prefix`.
 */
import { Redis } from 'ioredis';

/** Reconnect backoff: 50 ms growing to at most 2 s, so a restarted Redis is picked up within ~2 s. */
const MAX_RECONNECT_DELAY_MS = 2_000;

export type RedisOptions = { url: string; prefix: string };

export class RedisRepository {
  private readonly connections = new Set<Redis>();

  constructor(readonly options: RedisOptions) {}

  get prefix(): string {
    return this.options.prefix;
  }

  /** A new connection; `maxRetriesPerRequest: null` keeps commands queued while Redis is away (required by BullMQ). */
  connect(name: string): Redis {
    const redis = new Redis(this.options.url, {
      connectionName: `cove:${name}`,
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      retryStrategy: (times) => Math.min(MAX_RECONNECT_DELAY_MS, 50 * times),
    });
    /** Connection errors are retried by ioredis; without a listener Node would print them as unhandled. */
    redis.on('error', () => undefined);
    this.connections.add(redis);
    return redis;
  }

  async close(): Promise<void> {
    const all = [...this.connections];
    this.connections.clear();
    await Promise.all(
      all.map(async (redis) => {
        if (redis.status !== 'ready') {
          redis.disconnect();
          return;
        }
        try {
          await redis.quit();
        } catch {
          redis.disconnect();
        }
      }),
    );
  }
}
