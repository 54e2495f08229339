/**
 * Throttling of failed authentication, one scheme for HTTP Basic credentials, WebSocket credential frames and
 * WebSocket tickets (rules and reasons in `AUTH_THROTTLE`): failures are counted per client address (an IPv6 client
 * by its /64) and per account named; past the limits, the address, or the account for every address it was not seen
 * at, is locked out for `AUTH_LOCKOUT`, doubling with each repeat within a day. A locked-out attempt is refused with
 * `429 rate_limited` before any credential is looked at. A successful authentication is never delayed: it costs a
 * lookup or two and marks its address as one the account is known at. This module verifies no credential and keeps
 * nothing but expiring counters (in the rate-limit repository). Off with `RATE_LIMITS=off`.
 */
import { Injectable } from '@nestjs/common';
import { AccountId, ErrorCode } from '@cove/protocol';

import { AUTH_THROTTLE } from '../rate-limits.js';
import { rateLimitAddressKey } from '../utils/client-address.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { ApiError } from './api-error.js';

/** Refused without looking at the credential: too many failures from this address or against this account. */
export class AuthThrottled extends ApiError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, ErrorCode.RateLimited, 'too many failed authentication attempts, retry later', {
      retryAfter: retryAfterSeconds,
    });
  }
}

type Kind = 'address' | 'account';

/** Counter buckets in the rate-limit repository. */
const FAILURES: Record<Kind, string> = { address: 'auth-failures-address', account: 'auth-failures-account' };
const STRIKES: Record<Kind, string> = { address: 'auth-strikes-address', account: 'auth-strikes-account' };
const LOCKED: Record<Kind, string> = { address: 'auth-locked-address', account: 'auth-locked-account' };
/** `${accountId}|${address}` marks: the account authenticated from that address lately. */
const KNOWN_AT = 'auth-known-at';

@Injectable()
export class AuthThrottleService {
  private readonly enabled: boolean;
  private readonly lockoutMs: number;

  constructor(
    config: ConfigRepository,
    private readonly counters: RateLimitRepository,
    private readonly metrics: MetricsRepository,
    private readonly logger: LoggingRepository,
  ) {
    this.enabled = config.config.rateLimits;
    this.lockoutMs = config.config.authLockoutMs;
  }

  /**
   * Runs one authentication attempt under the throttle: refused at once ({@link AuthThrottled}) while its address,
   * or the account it names (from an address the account is not known at), is locked out; a failure (an
   * `Unauthorized` from `attempt`) is counted; a success marks the address as known for the account.
   */
  async attempt<T extends { accountId: string }>(
    rawAddress: string | undefined,
    claimedAccountId: string | undefined,
    attempt: () => Promise<T>,
    isFailure: (error: unknown) => boolean,
  ): Promise<T> {
    if (!this.enabled) return attempt();
    const address = rawAddress === undefined ? undefined : rateLimitAddressKey(rawAddress);
    const account =
      claimedAccountId && AccountId.safeParse(claimedAccountId).success ? claimedAccountId.toLowerCase() : undefined;
    await this.check(address, account);
    let result: T;
    try {
      result = await attempt();
    } catch (error) {
      if (isFailure(error)) await this.failed(address, account);
      throw error;
    }
    if (address) await this.known(result.accountId.toLowerCase(), address);
    return result;
  }

  private async check(address: string | undefined, account: string | undefined): Promise<void> {
    let waitMs = address ? await this.counters.remaining(LOCKED.address, address) : 0;
    if (!waitMs && account) {
      const accountWaitMs = await this.counters.remaining(LOCKED.account, account);
      const knownHere =
        accountWaitMs > 0 && address ? (await this.counters.remaining(KNOWN_AT, `${account}|${address}`)) > 0 : false;
      if (!knownHere) waitMs = accountWaitMs;
    }
    if (!waitMs) return;
    this.metrics.authRefused.inc({ reason: 'throttled' });
    throw new AuthThrottled(Math.max(1, Math.ceil(waitMs / 1000)));
  }

  private async failed(address: string | undefined, account: string | undefined): Promise<void> {
    this.metrics.authRefused.inc({ reason: 'invalid' });
    if (address) await this.count('address', address, AUTH_THROTTLE.perAddress);
    if (account) await this.count('account', account, AUTH_THROTTLE.perAccount);
  }

  /** Counts a failure; at the limit, starts a lockout twice as long as the previous one (within a day). */
  private async count(kind: Kind, key: string, limit: number): Promise<void> {
    const failures = await this.counters.increment(FAILURES[kind], key, AUTH_THROTTLE.window);
    if (failures < limit) return;
    await this.counters.forget(FAILURES[kind], key);
    const strikes = await this.counters.increment(STRIKES[kind], key, AUTH_THROTTLE.strikesFor);
    const longest = Math.max(AUTH_THROTTLE.maxLockout, this.lockoutMs);
    const lockoutMs = Math.min(longest, this.lockoutMs * 2 ** Math.min(strikes - 1, 30));
    await this.counters.hold(LOCKED[kind], key, lockoutMs);
    this.logger.warn('authentication lockout', { kind, seconds: Math.round(lockoutMs / 1000), strikes });
  }

  private async known(account: string, address: string): Promise<void> {
    const key = `${account}|${address}`;
    if (!(await this.counters.remaining(KNOWN_AT, key))) {
      await this.counters.hold(KNOWN_AT, key, AUTH_THROTTLE.trustedFor);
    }
  }
}
