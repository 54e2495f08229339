/**
 * The server's side of OpenID Connect (`REGISTRATION=sso`), through `openid-client`: discovery of the identity
 * provider (cached, retried after a failure), the authorization code flow with PKCE and a nonce for browsers, and the
 * device authorization grant (RFC 8628) for the command line, each ending in the ID token's verified claims. The
 * library checks the ID token's signature, issuer, audience, expiry and nonce. It decides nothing about who may join
 * (the SSO service does) and stores nothing; it logs nothing of tokens or claims.
 */
import { Injectable } from '@nestjs/common';
import * as oidc from 'openid-client';

import { ConfigRepository, type SsoConfig } from './config.repository.js';

/** The verified claims of an ID token (the provider's own names). */
export type IdTokenClaims = Record<string, unknown> & { iss: string; sub: string };

export type DeviceAuthorization = {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  expiresInSeconds: number;
  intervalSeconds: number;
};

/** A poll of the device grant: the person has not finished, asks to slow down, or is done (or refused: throws). */
export type DevicePoll = { state: 'pending' } | { state: 'slow-down' } | { state: 'done'; claims: IdTokenClaims };

/** The identity provider answered with an OAuth error (`access_denied`, `expired_token`…) or not at all. */
export class OidcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 8628's default polling interval when the provider names none. */
const DEFAULT_DEVICE_INTERVAL_S = 5;
/** How long one request to the identity provider may take before the sign-in fails (not hangs). */
const PROVIDER_TIMEOUT_S = 10;

const isLoopback = (url: string): boolean => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

@Injectable()
export class OidcRepository {
  private configuration: Promise<oidc.Configuration> | null = null;

  constructor(private readonly config: ConfigRepository) {}

  private get sso(): SsoConfig {
    const sso = this.config.config.sso;
    if (!sso) throw new OidcError('not_configured', 'single sign-on is not configured');
    return sso;
  }

  /** The provider's metadata, discovered once; a failed discovery is retried by the next sign-in. */
  private provider(): Promise<oidc.Configuration> {
    if (!this.configuration) {
      const sso = this.sso;
      this.configuration = oidc
        .discovery(new URL(sso.issuer), sso.clientId, sso.clientSecret, undefined, {
          timeout: PROVIDER_TIMEOUT_S,
          // Plain HTTP only for a provider on this machine (development, tests); anything else must be HTTPS.
          ...(isLoopback(sso.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        })
        .catch((error: unknown) => {
          this.configuration = null;
          throw new OidcError('discovery_failed', `identity provider unreachable: ${(error as Error).message}`);
        });
    }
    return this.configuration;
  }

  /** A fresh PKCE verifier and nonce, and the provider's authorization URL that carries their derivatives. */
  async authorizationUrl(state: string): Promise<{ url: string; codeVerifier: string; nonce: string }> {
    const provider = await this.provider();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(provider, {
      redirect_uri: this.sso.redirectUri,
      scope: this.sso.scopes,
      response_type: 'code',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, codeVerifier, nonce };
  }

  /** Exchanges the callback's code (checking state, PKCE and nonce) for the ID token's verified claims. */
  async finishAuthorization(
    callbackQuery: string,
    checks: { state: string; codeVerifier: string; nonce: string },
  ): Promise<IdTokenClaims> {
    const provider = await this.provider();
    try {
      const tokens = await oidc.authorizationCodeGrant(provider, new URL(`${this.sso.redirectUri}?${callbackQuery}`), {
        expectedState: checks.state,
        pkceCodeVerifier: checks.codeVerifier,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      return this.claimsOf(tokens);
    } catch (error) {
      throw this.asOidcError(error);
    }
  }

  async startDeviceAuthorization(): Promise<DeviceAuthorization> {
    const provider = await this.provider();
    try {
      const started = await oidc.initiateDeviceAuthorization(provider, { scope: this.sso.scopes });
      return {
        deviceCode: started.device_code,
        userCode: started.user_code,
        verificationUri: started.verification_uri,
        verificationUriComplete: started.verification_uri_complete,
        expiresInSeconds: started.expires_in,
        intervalSeconds: started.interval ?? DEFAULT_DEVICE_INTERVAL_S,
      };
    } catch (error) {
      throw this.asOidcError(error);
    }
  }

  /** One poll of the token endpoint for a device grant. */
  async pollDeviceAuthorization(deviceCode: string): Promise<DevicePoll> {
    const provider = await this.provider();
    try {
      const tokens = await oidc.genericGrantRequest(provider, 'urn:ietf:params:oauth:grant-type:device_code', {
        device_code: deviceCode,
      });
      return { state: 'done', claims: this.claimsOf(tokens) };
    } catch (error) {
      const failure = this.asOidcError(error);
      if (failure.code === 'authorization_pending') return { state: 'pending' };
      if (failure.code === 'slow_down') return { state: 'slow-down' };
      throw failure;
    }
  }

  private claimsOf(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): IdTokenClaims {
    const claims = tokens.claims();
    if (!claims) throw new OidcError('no_id_token', 'the identity provider returned no ID token');
    return claims;
  }

  private asOidcError(error: unknown): OidcError {
    if (error instanceof OidcError) return error;
    if (error instanceof oidc.ResponseBodyError)
      return new OidcError(error.error, error.error_description ?? error.error);
    if (error instanceof oidc.AuthorizationResponseError) {
      return new OidcError(error.error, error.error_description ?? error.error);
    }
    return new OidcError('provider_error', error instanceof Error ? error.message : String(error));
  }
}
