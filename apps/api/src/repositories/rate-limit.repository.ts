/**
 * Rate-limit counters (`rate-limiter-flexible`), one fixed window per named limit and key, in this process's
 * memory. With several instances behind one address a Redis-backed limiter of the same library replaces the
 * memory one here, without changing callers. It knows nothing about routes or requesters.
 */
import { Injectable } from '@nestjs/common';
import rateLimiter from 'rate-limiter-flexible';

import { RATE_LIMITS, type RateLimitName, type RateLimitWindow } from '../controllers/rate-limits.js';
import { ConfigRepository } from './config.repository.js';

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

@Injectable()
export class RateLimitRepository {
  private readonly limiters = new Map<RateLimitName, InstanceType<typeof rateLimiter.RateLimiterMemory>>();

  constructor(config: ConfigRepository) {
    /** The send limits come from the configuration (`RATE_LIMIT_SENDS`, `RATE_LIMIT_SENDS_PER_RECIPIENT`). */
    const limits: Record<RateLimitName, RateLimitWindow> = { ...RATE_LIMITS, ...config.config.sendRateLimits };
    for (const [name, limit] of Object.entries(limits) as Array<[RateLimitName, RateLimitWindow]>) {
      this.limiters.set(
        name,
        new rateLimiter.RateLimiterMemory({ keyPrefix: name, points: limit.limit, duration: limit.ttl / 1000 }),
      );
    }
  }

  async consume(name: RateLimitName, key: string): Promise<RateLimitVerdict> {
    const limiter = this.limiters.get(name);
    if (!limiter) return { allowed: true };
    try {
      await limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof Error) throw rejection;
      const ms = (rejection as { msBeforeNext?: number }).msBeforeNext ?? 1000;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
    }
  }
}
