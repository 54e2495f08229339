/**
 * The `@RateLimit(name)` decorator that picks a route's limit from `../rate-limits.ts` (where every limit is listed
 * with its reason); routes without it use `default`. The rate-limit guard reads it; this module counts nothing.
 */
import { SetMetadata } from '@nestjs/common';

import type { RateLimitName } from '../rate-limits.js';

export const RATE_LIMIT_KEY = 'cove:rate-limit';

/** Applies the named limit to a route; `null` exempts it (health checks, metrics). */
export const RateLimit = (name: RateLimitName | null): MethodDecorator => SetMetadata(RATE_LIMIT_KEY, name);
