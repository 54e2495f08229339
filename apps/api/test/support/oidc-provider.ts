/**
 * A real OpenID Connect provider in this process (`oidc-provider`) for the single sign-on tests: authorization code
 * with PKCE, the device authorization grant, ID tokens signed with its own keys, and people whose claims a test
 * sets. Its login and consent screens are replaced by `signIn`, which plays a browser that is signed in as a chosen
 * person (cookies kept, redirects followed) and approves; `approveDevice` does the same for a device grant's user
 * code. It asserts nothing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export type Person = {
  sub: string;
  email: string;
  email_verified: boolean;
  preferred_username: string;
  groups: string[];
};

export class TestIdentityProvider {
  readonly people = new Map<string, Person>();
  /** Who the next interaction signs in as, and whether they approve. */
  private current: { sub: string; approve: boolean } | null = null;

  private constructor(
    readonly issuer: string,
    private readonly provider: Provider,
    private readonly server: Server,
  ) {}

  static async start(clientId: string, clientSecret: string, redirectUri: string): Promise<TestIdentityProvider> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let self: TestIdentityProvider | null = null;
    const { privateKey: signingKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false }, deviceFlow: { enabled: true } },
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['preferred_username'],
        groups: ['groups'],
      },
      // Claims go into the ID token itself (what the server reads), not only the userinfo endpoint.
      conformIdTokenClaims: false,
      cookies: { keys: ['cove-test-cookie-key-0123456789'] },
      jwks: { keys: [{ ...signingKey.export({ format: 'jwk' }), kid: 'test-signing-key', use: 'sig', alg: 'RS256' }] },
      findAccount: (_ctx: KoaContextWithOIDC, sub: string) => {
        const person = self?.people.get(sub);
        return person ? { accountId: sub, claims: () => ({ ...person }) } : undefined;
      },
      interactions: {
        url: (_ctx: KoaContextWithOIDC, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      },
    });
    self = new TestIdentityProvider(issuer, provider, server);
    const callback = provider.callback();
    server.on('request', (req, res) => {
      if (req.url?.startsWith('/interaction/')) {
        void self.interact(req, res).catch((error: unknown) => {
          res.statusCode = 500;
          res.end(String(error));
        });
        return;
      }
      void callback(req, res);
    });
    return self;
  }

  /** The login and consent screens: the chosen person signs in and approves (or declines) what the client asks. */
  private async interact(
    req: Parameters<Provider['interactionDetails']>[0],
    res: Parameters<Provider['interactionDetails']>[1],
  ) {
    const details = await this.provider.interactionDetails(req, res);
    const who = this.current;
    if (!who || !who.approve) {
      await this.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'declined' });
      return;
    }
    if (details.prompt.name === 'login') {
      await this.provider.interactionFinished(req, res, { login: { accountId: who.sub } });
      return;
    }
    const grant = new this.provider.Grant({ accountId: who.sub, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope));
    await this.provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } });
  }

  /**
   * Follows `url` as a browser signed in as `sub` would (cookies kept, every redirect followed) until it leaves the
   * provider; returns that last address (the client's callback).
   */
  async signIn(url: string, sub: string, approve = true): Promise<string> {
    this.current = { sub, approve };
    const jar = new Map<string, string>();
    let next = url;
    for (let hop = 0; hop < 20; hop += 1) {
      if (!next.startsWith(this.issuer)) return next;
      const response = await fetch(next, {
        redirect: 'manual',
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const [name = '', value = ''] = pair.split('=');
        if (value) jar.set(name, value);
        else jar.delete(name);
      }
      const location = response.headers.get('location');
      if (!location)
        throw new Error(`the provider stopped at ${next} with ${response.status}: ${await response.text()}`);
      next = new URL(location, next).href;
    }
    throw new Error('too many redirects');
  }

  /** The person enters the user code on the provider's device page and approves, as they would in a browser. */
  async approveDevice(verificationUriComplete: string, sub: string, approve = true): Promise<void> {
    this.current = { sub, approve };
    const jar = new Map<string, string>();
    const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
      const response = await fetch(url, {
        ...init,
        redirect: 'manual',
        headers: {
          ...(init.headers as Record<string, string>),
          cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        },
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const [name = '', value = ''] = pair.split('=');
        if (value) jar.set(name, value);
        else jar.delete(name);
      }
      return response;
    };
    // The confirmation form carries a CSRF token and the code.
    const page = await (await send(verificationUriComplete)).text();
    const field = (name: string): string => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1] ?? '';
    const form = new URLSearchParams({ xsrf: field('xsrf'), user_code: field('user_code'), confirm: 'yes' });
    let response = await send(`${this.issuer}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    for (let hop = 0; hop < 20 && response.headers.get('location'); hop += 1) {
      response = await send(new URL(response.headers.get('location')!, this.issuer).href);
    }
    if (response.status >= 400) throw new Error(`device approval failed: ${response.status} ${await response.text()}`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
