/**
 * Single sign-on rules (`REGISTRATION=sso`): who the identity provider may let in (a verified e-mail in an allowed
 * domain, membership of a required group), which username a person gets (from a configured claim, the provider's
 * spelling kept when valid), one account per person (the provider's issuer and subject, stored as a digest), and
 * the single-use grants that a finished sign-in yields: one registers an account, or links a new device to the
 * person's own account after they signed in again. The device still makes its own keys: the provider gates
 * membership but never holds a key. It speaks to the provider only through the OIDC repository and logs no token,
 * claim or code.
 */
import { createHash } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { ErrorCode, USERNAME_PATTERN, type SsoDeviceStartResponse, type SsoGrantResponse } from '@cove/protocol';

import { ConfigRepository, type SsoConfig } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import type { Bytes } from '../repositories/database.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { OidcError, OidcRepository, type IdTokenClaims } from '../repositories/oidc.repository.js';
import { SsoRepository } from '../repositories/sso.repository.js';
import { ApiError } from './api-error.js';

/** A browser has this long to come back from the identity provider. */
const WEB_SIGN_IN_TTL_MS = 10 * 60_000;
/** A finished sign-in's grant must be used this soon (the client registers right after). */
const GRANT_TTL_MS = 10 * 60_000;
/** RFC 8628: after `slow_down`, wait 5 seconds longer between polls. */
const SLOW_DOWN_STEP_S = 5;

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** Where a browser sign-in ends: the PWA, with the outcome in the fragment (never sent to a server or a log). */
export type WebSignInEnd = { redirect: string };

@Injectable()
export class SsoService {
  constructor(
    private readonly config: ConfigRepository,
    private readonly oidc: OidcRepository,
    private readonly store: SsoRepository,
    private readonly crypto: CryptoRepository,
    private readonly logger: LoggingRepository,
  ) {}

  private requireSso(): SsoConfig {
    const sso = this.config.config.sso;
    if (!sso) throw new ApiError(404, ErrorCode.NotFound, 'single sign-on is not enabled on this server');
    return sso;
  }

  /** Starts a browser sign-in: the provider's authorization URL to redirect to. */
  async startWeb(): Promise<string> {
    this.requireSso();
    const state = base64url(this.crypto.randomBytes(32));
    const { url, codeVerifier, nonce } = await this.provider(() => this.oidc.authorizationUrl(state));
    await this.store.saveWebSignIn(
      this.crypto.hash(Buffer.from(state)),
      { codeVerifier, nonce },
      new Date(Date.now() + WEB_SIGN_IN_TTL_MS),
    );
    return url;
  }

  /**
   * Ends a browser sign-in at the callback: the PWA's address with `#sso-token=…&sso-username=…` (and
   * `&sso-existing=1` when this person already has an account: the token then links a device to it), or
   * `#sso-error=<code>` when the state is unknown or used, the provider refused, or the person is not allowed.
   */
  async finishWeb(query: URLSearchParams): Promise<WebSignInEnd> {
    const sso = this.requireSso();
    const fail = (code: string): WebSignInEnd => ({
      redirect: `${sso.publicUrl}/#${new URLSearchParams({ 'sso-error': code }).toString()}`,
    });
    const state = query.get('state') ?? '';
    const signIn = state ? await this.store.takeWebSignIn(this.crypto.hash(Buffer.from(state))) : null;
    if (!signIn) return fail('expired');
    if (query.get('error')) return fail(query.get('error') === 'access_denied' ? 'denied' : 'provider');
    let claims: IdTokenClaims;
    try {
      claims = await this.oidc.finishAuthorization(query.toString(), { state, ...signIn });
    } catch (error) {
      this.logger.warn('sso sign-in failed', { code: error instanceof OidcError ? error.code : 'unknown' });
      return fail('provider');
    }
    let grant: SsoGrantResponse;
    try {
      grant = await this.admit(claims);
    } catch (error) {
      if (error instanceof ApiError) return fail('not-allowed');
      throw error;
    }
    const fragment = new URLSearchParams({ 'sso-token': grant.ssoToken, 'sso-username': grant.username });
    if (grant.existingAccount) fragment.set('sso-existing', '1');
    return { redirect: `${sso.publicUrl}/#${fragment.toString()}` };
  }

  /** Starts a device authorization grant for the command line. */
  async startDevice(): Promise<SsoDeviceStartResponse> {
    this.requireSso();
    const started = await this.provider(() => this.oidc.startDeviceAuthorization());
    const handle = base64url(this.crypto.randomBytes(16));
    const expiresAt = new Date(Date.now() + started.expiresInSeconds * 1000);
    await this.store.saveDeviceSignIn(this.crypto.hash(Buffer.from(handle)), {
      deviceCode: started.deviceCode,
      interval: started.intervalSeconds,
      expiresAt,
    });
    return {
      handle,
      userCode: started.userCode,
      verificationUri: started.verificationUri,
      ...(started.verificationUriComplete ? { verificationUriComplete: started.verificationUriComplete } : {}),
      interval: started.intervalSeconds,
      expiresAt: expiresAt.getTime(),
    };
  }

  /** One poll of a device grant: `428 sso_pending` (with `interval`) until the person finished, then the grant. */
  async pollDevice(handle: string): Promise<SsoGrantResponse> {
    this.requireSso();
    const key = this.crypto.hash(Buffer.from(handle));
    const signIn = await this.store.deviceSignIn(key);
    if (!signIn) throw new ApiError(404, ErrorCode.NotFound, 'no such sign-in, or it expired: start again');
    let poll;
    try {
      poll = await this.oidc.pollDeviceAuthorization(signIn.deviceCode);
    } catch (error) {
      await this.store.endDeviceSignIn(key);
      const code = error instanceof OidcError ? error.code : 'provider_error';
      if (code === 'access_denied') throw new ApiError(403, ErrorCode.Forbidden, 'the sign-in was declined');
      if (code === 'expired_token') throw new ApiError(404, ErrorCode.NotFound, 'the sign-in expired: start again');
      this.logger.warn('sso device sign-in failed', { code });
      throw new ApiError(503, ErrorCode.Unavailable, 'the identity provider did not complete the sign-in');
    }
    if (poll.state === 'pending' || poll.state === 'slow-down') {
      const interval = poll.state === 'slow-down' ? signIn.interval + SLOW_DOWN_STEP_S : signIn.interval;
      if (interval !== signIn.interval) await this.store.slowDownDeviceSignIn(key, interval);
      throw new ApiError(428, ErrorCode.SsoPending, 'waiting for the person to sign in', { interval });
    }
    if (!(await this.store.endDeviceSignIn(key))) {
      throw new ApiError(404, ErrorCode.NotFound, 'this sign-in was already completed');
    }
    return this.admit(poll.claims);
  }

  /** For `POST /v1/accounts` under `REGISTRATION=sso`: the username and person a valid grant names (used up). */
  async redeemForRegistration(token: string | undefined): Promise<{ username: string; subject: Bytes }> {
    const grant = token ? await this.store.takeGrant(this.crypto.hash(Buffer.from(token))) : null;
    if (!grant) {
      throw new ApiError(403, ErrorCode.SsoRequired, 'registration needs a single sign-on: sign in first');
    }
    if (await this.store.accountOf(grant.subject)) {
      throw new ApiError(409, ErrorCode.SsoAccountExists, 'you already have an account: link this device to it');
    }
    return grant;
  }

  /** For `POST /v1/devices` under `REGISTRATION=sso`: the grant (used up) must name the account's own person. */
  async redeemForLink(token: string | undefined, accountId: string): Promise<void> {
    const grant = token ? await this.store.takeGrant(this.crypto.hash(Buffer.from(token))) : null;
    const subject = await this.store.subjectOf(accountId);
    if (!grant || !subject || !this.crypto.equal(grant.subject, subject)) {
      throw new ApiError(403, ErrorCode.SsoRequired, 'linking a device needs a single sign-on as this account’s owner');
    }
  }

  /** Whether the provider's claims let this person in; their grant when they do. */
  private async admit(claims: IdTokenClaims): Promise<SsoGrantResponse> {
    const sso = this.requireSso();
    if (sso.allowedDomains.length) {
      const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : '';
      const domain = email.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : '';
      if (claims.email_verified !== true || !sso.allowedDomains.includes(domain)) {
        throw new ApiError(403, ErrorCode.SsoNotAllowed, 'this e-mail domain may not join this server');
      }
    }
    if (sso.requiredGroup) {
      const groups = claims[sso.groupsClaim];
      if (!Array.isArray(groups) || !groups.includes(sso.requiredGroup)) {
        throw new ApiError(403, ErrorCode.SsoNotAllowed, 'membership of the required group is missing');
      }
    }
    const username = usernameFrom(claims[sso.usernameClaim]);
    if (!username) {
      throw new ApiError(403, ErrorCode.SsoNotAllowed, `the identity provider gave no usable ${sso.usernameClaim}`);
    }
    const subject = subjectDigest(claims.iss, claims.sub);
    // Someone who already has an account gets a grant too: it links a new device to that account (never registers).
    const existingAccount = (await this.store.accountOf(subject)) !== null;
    const ssoToken = base64url(this.crypto.randomBytes(32));
    const expiresAt = new Date(Date.now() + GRANT_TTL_MS);
    await this.store.saveGrant(this.crypto.hash(Buffer.from(ssoToken)), { username, subject }, expiresAt);
    this.logger.info('sso sign-in', {});
    return { username, ssoToken, existingAccount, expiresAt: expiresAt.getTime() };
  }

  private async provider<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.logger.warn('identity provider unavailable', { code: error instanceof OidcError ? error.code : 'unknown' });
      throw new ApiError(503, ErrorCode.Unavailable, 'the identity provider cannot be reached; try again later');
    }
  }
}

/**
 * A Cove username from the provider's claim: kept as spelled when valid; otherwise the part before an `@`, with
 * characters a username cannot hold (`-`, spaces…) turned into `_` and cut to 32. Null when nothing usable is left.
 */
export function usernameFrom(claim: unknown): string | null {
  if (typeof claim !== 'string') return null;
  if (USERNAME_PATTERN.test(claim)) return claim;
  const local = claim.includes('@') ? claim.slice(0, claim.indexOf('@')) : claim;
  const cleaned = local
    .normalize('NFKC')
    .replace(/[^A-Za-z0-9_.]/g, '_')
    .slice(0, 32);
  return USERNAME_PATTERN.test(cleaned) ? cleaned : null;
}

/** One person at one provider, as stored: SHA-256 of issuer and subject (the provider's user id is not kept). */
export function subjectDigest(issuer: string, subject: string): Bytes {
  return createHash('sha256').update(`cove sso v1\0${issuer}\0${subject}`).digest();
}
