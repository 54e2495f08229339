/**
 * Rate limits per route (requests per window, per requester or per requester and target), each with its reason,
 * and the `@RateLimit(name)` decorator that picks one. Routes without it use `default`. `send` and
 * `sendToRecipient` are applied by the message service to every send (HTTP and WebSocket), with the values from the
 * configuration. All are off with `RATE_LIMITS=off`.
 */
import { SetMetadata } from '@nestjs/common';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const RATE_LIMITS = {
  /** Any call: far above what a client does, low enough to blunt floods. */
  default: { limit: 1200, ttl: MINUTE },
  /** New accounts per address: a family behind one NAT registers a few, a bot registers thousands. */
  registration: { limit: 30, ttl: HOUR },
  /** Username lookups per device: enumerating the namespace must be slow. */
  usernameLookup: { limit: 60, ttl: MINUTE },
  /** Bundle fetches per (requester, target): sessions are rare; 200 one-time keys must not be drainable quickly. */
  preKeyBundle: { limit: 20, ttl: HOUR },
  /** Device links per address: a user links a handful of devices, ever. */
  link: { limit: 20, ttl: HOUR },
  /**
   * Sends per sender device, over HTTP and WebSocket alike (`RATE_LIMIT_SENDS`): 10 a second for a minute is far
   * beyond a person (receipts are merged per peer) and still lets a bot answer many users; a flood stops here.
   */
  send: { limit: 600, ttl: MINUTE },
  /**
   * Sends per (sender device, recipient account) (`RATE_LIMIT_SENDS_PER_RECIPIENT`): two a second for a minute is a
   * fast conversation; one sender cannot fill a recipient's queue in seconds.
   */
  sendToRecipient: { limit: 120, ttl: MINUTE },
} as const;

export type RateLimitName = keyof typeof RATE_LIMITS;

/** At most `limit` requests per `ttl` milliseconds. */
export type RateLimitWindow = { limit: number; ttl: number };

export const RATE_LIMIT_KEY = 'cove:rate-limit';

/** Applies the named limit to a route; `null` exempts it (health checks, metrics). */
export const RateLimit = (name: RateLimitName | null): MethodDecorator => SetMetadata(RATE_LIMIT_KEY, name);
