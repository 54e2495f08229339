/**
 * Rate-limit counters (`rate-limiter-flexible`), one fixed window per named limit and key, in this process's
 * memory, and the plain expiring counters and marks that failed-authentication throttling keeps (`increment`,
 * `hold`, `remaining`, `forget`, each in a named bucket). With several instances behind one address a Redis-backed
 * limiter of the same library replaces the memory one here, without changing callers. It knows nothing about routes,
 * requesters or what a count means.
 */
import { Injectable } from '@nestjs/common';
import rateLimiter from 'rate-limiter-flexible';

import { RATE_LIMITS, type RateLimitName, type RateLimitWindow } from '../rate-limits.js';
import { ConfigRepository } from './config.repository.js';

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

@Injectable()
export class RateLimitRepository {
  private readonly limiters = new Map<RateLimitName, InstanceType<typeof rateLimiter.RateLimiterMemory>>();
  private readonly buckets = new Map<string, InstanceType<typeof rateLimiter.RateLimiterMemory>>();

  constructor(config: ConfigRepository) {
    /** The send limits come from the configuration (`RATE_LIMIT_SENDS`, `RATE_LIMIT_SENDS_PER_RECIPIENT`). */
    const limits: Record<RateLimitName, RateLimitWindow> = {
      ...RATE_LIMITS,
      ...config.config.sendRateLimits,
      attachmentUpload: config.config.attachments.uploadRateLimit,
    };
    for (const [name, limit] of Object.entries(limits) as Array<[RateLimitName, RateLimitWindow]>) {
      this.limiters.set(
        name,
        new rateLimiter.RateLimiterMemory({ keyPrefix: name, points: limit.limit, duration: limit.ttl / 1000 }),
      );
    }
  }

  /** Counts an event of `key` in a window of `ttlMs` that starts with its first count; returns the count so far. */
  async increment(bucket: string, key: string, ttlMs: number): Promise<number> {
    const result = await this.bucket(bucket).penalty(key, 1, { customDuration: ttlMs / 1000 });
    return result.consumedPoints;
  }

  /** Marks `key` for `ttlMs` (replacing an earlier mark or count). */
  async hold(bucket: string, key: string, ttlMs: number): Promise<void> {
    await this.bucket(bucket).set(key, 1, ttlMs / 1000);
  }

  /** Milliseconds left of `key`'s mark or count window; 0 when there is none. */
  async remaining(bucket: string, key: string): Promise<number> {
    const result = await this.bucket(bucket).get(key);
    return result && result.msBeforeNext > 0 ? result.msBeforeNext : 0;
  }

  async forget(bucket: string, key: string): Promise<void> {
    await this.bucket(bucket).delete(key);
  }

  private bucket(name: string): InstanceType<typeof rateLimiter.RateLimiterMemory> {
    let bucket = this.buckets.get(name);
    if (!bucket) {
      /** Points are not used: each call gives its own duration and reads the count itself. */
      bucket = new rateLimiter.RateLimiterMemory({ keyPrefix: `bucket:${name}`, points: 1, duration: 1 });
      this.buckets.set(name, bucket);
    }
    return bucket;
  }

  /** Counts `points` events of `key` against the named limit (a multi-recipient send counts its devices). */
  async consume(name: RateLimitName, key: string, points = 1): Promise<RateLimitVerdict> {
    const limiter = this.limiters.get(name);
    if (!limiter) return { allowed: true };
    try {
      await limiter.consume(key, points);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof Error) throw rejection;
      const ms = (rejection as { msBeforeNext?: number }).msBeforeNext ?? 1000;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
    }
  }
}
