/**
 * Throttling of failed authentication, one scheme for HTTP Basic credentials, WebSocket credential frames and
 * WebSocket tickets (rules and reasons in `AUTH_THROTTLE`): failures are counted per client address (an IPv6 client
 * by its /64) and per account named; past the limits, the address, or the account for every address it was not seen
 * at, is locked out for `AUTH_LOCKOUT`, doubling with each repeat within a day. A locked-out attempt is refused with
 * `429 rate_limited` before any credential is looked at. A successful authentication is never delayed: it costs a
 * lookup or two and marks its address as one the account is known at. This module verifies no credential and keeps
 * nothing but expiring counters (in the rate-limit repository). Off with `RATE_LIMITS=off`.
 *
 * Password logins (OPAQUE) are throttled in their own buckets (`PASSWORD_THROTTLE`): a wrong password shows only on
 * the client, which then never sends the finish, so every login start counts as a failure until its finish
 * succeeds; the account is keyed by the username tried (known or not, alike), and its lockout holds for every
 * address, since its own devices never log in by password.
 */
import { Injectable } from '@nestjs/common';
import { AccountId, ErrorCode } from '@cove/protocol';

import { AUTH_THROTTLE, PASSWORD_THROTTLE } from '../rate-limits.js';
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
type Scope = 'auth' | 'password';

/** Counter buckets in the rate-limit repository, per scope (device credentials, password logins). */
const FAILURES = (scope: Scope, kind: Kind): string => `${scope}-failures-${kind}`;
const STRIKES = (scope: Scope, kind: Kind): string => `${scope}-strikes-${kind}`;
const LOCKED = (scope: Scope, kind: Kind): string => `${scope}-locked-${kind}`;
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
    let waitMs = address ? await this.counters.remaining(LOCKED('auth', 'address'), address) : 0;
    if (!waitMs && account) {
      const accountWaitMs = await this.counters.remaining(LOCKED('auth', 'account'), account);
      const knownHere =
        accountWaitMs > 0 && address ? (await this.counters.remaining(KNOWN_AT, `${account}|${address}`)) > 0 : false;
      if (!knownHere) waitMs = accountWaitMs;
    }
    this.refuseFor(waitMs);
  }

  private refuseFor(waitMs: number): void {
    if (!waitMs) return;
    this.metrics.authRefused.inc({ reason: 'throttled' });
    throw new AuthThrottled(Math.max(1, Math.ceil(waitMs / 1000)));
  }

  private async failed(address: string | undefined, account: string | undefined): Promise<void> {
    this.metrics.authRefused.inc({ reason: 'invalid' });
    if (address) await this.count('auth', 'address', address, AUTH_THROTTLE.perAddress);
    if (account) await this.count('auth', 'account', account, AUTH_THROTTLE.perAccount);
  }

  /**
   * A password login starts from `rawAddress` for `usernameKey`: refused ({@link AuthThrottled}) while either is
   * locked out, else counted as a failure (until {@link passwordLoginSucceeded}), which may start a lockout.
   */
  async passwordLoginStarted(rawAddress: string | undefined, usernameKey: string): Promise<void> {
    if (!this.enabled) return;
    const address = rawAddress === undefined ? undefined : rateLimitAddressKey(rawAddress);
    const addressWaitMs = address ? await this.counters.remaining(LOCKED('password', 'address'), address) : 0;
    this.refuseFor(addressWaitMs || (await this.counters.remaining(LOCKED('password', 'account'), usernameKey)));
    if (address) await this.count('password', 'address', address, PASSWORD_THROTTLE.perAddress);
    await this.count('password', 'account', usernameKey, PASSWORD_THROTTLE.perAccount);
  }

  /** A password login finished: the account's failures so far were the user's own typos, forgotten. */
  async passwordLoginSucceeded(usernameKey: string): Promise<void> {
    if (!this.enabled) return;
    await this.counters.forget(FAILURES('password', 'account'), usernameKey);
  }

  /** Counts a failure; at the limit, starts a lockout twice as long as the previous one (within a day). */
  private async count(scope: Scope, kind: Kind, key: string, limit: number): Promise<void> {
    const failures = await this.counters.increment(FAILURES(scope, kind), key, AUTH_THROTTLE.window);
    if (failures < limit) return;
    await this.counters.forget(FAILURES(scope, kind), key);
    const strikes = await this.counters.increment(STRIKES(scope, kind), key, AUTH_THROTTLE.strikesFor);
    const longest = Math.max(AUTH_THROTTLE.maxLockout, this.lockoutMs);
    const lockoutMs = Math.min(longest, this.lockoutMs * 2 ** Math.min(strikes - 1, 30));
    await this.counters.hold(LOCKED(scope, kind), key, lockoutMs);
    this.logger.warn('authentication lockout', { scope, kind, seconds: Math.round(lockoutMs / 1000), strikes });
  }

  private async known(account: string, address: string): Promise<void> {
    const key = `${account}|${address}`;
    if (!(await this.counters.remaining(KNOWN_AT, key))) {
      await this.counters.hold(KNOWN_AT, key, AUTH_THROTTLE.trustedFor);
    }
  }
}
