/**
 * A real OpenID Connect provider in this process (`oidc-provider`) for the single sign-on tests: authorization code
 * with PKCE, the device authorization grant, ID tokens signed with its own keys, and people whose claims a test
 * sets. A scripted person: `signIn` plays a browser that is signed in as a chosen person (cookies kept, redirects
 * followed) and approves or declines; `approveDevice` does the same for a device grant's user code. Otherwise a real
 * browser meets real (plain HTML) login and consent pages: the login form takes a person's username, e-mail or
 * subject (`#login`, `#sign-in`), the consent page allows or denies (`#allow`, `#deny`). Shared by the API spec and
 * the PWA and CLI tests. It asserts nothing.
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

  /**
   * The login and consent screens: a scripted person (`signIn`, `approveDevice`) signs in and approves (or declines)
   * at once; otherwise the pages are shown and their forms answered.
   */
  private async interact(
    req: Parameters<Provider['interactionDetails']>[0],
    res: Parameters<Provider['interactionDetails']>[1],
  ) {
    const details = await this.provider.interactionDetails(req, res);
    const who = this.current;
    if (!who) {
      await this.page(req, res, details);
      return;
    }
    if (!who.approve) {
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

  /** The HTML login and consent pages for a real browser, and their form posts. */
  private async page(
    req: Parameters<Provider['interactionDetails']>[0],
    res: Parameters<Provider['interactionDetails']>[1],
    details: Awaited<ReturnType<Provider['interactionDetails']>>,
  ): Promise<void> {
    const base = `/interaction/${details.uid}`;
    const action = (req.url ?? '').slice(base.length);
    const form =
      req.method === 'POST'
        ? new URLSearchParams(
            await new Promise<string>((resolve, reject) => {
              let body = '';
              req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
              req.on('end', () => resolve(body));
              req.on('error', reject);
            }),
          )
        : new URLSearchParams();
    const show = (title: string, body: string): void => {
      res.statusCode = 200;
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      res.end(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
          `<body><h1>${title}</h1>${body}</body></html>`,
      );
    };
    if (action === '/abort') {
      await this.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'declined' });
      return;
    }
    if (details.prompt.name === 'login') {
      if (action === '/login') {
        const login = (form.get('login') ?? '').trim().toLowerCase();
        const person = [...this.people.values()].find((p) =>
          [p.sub, p.email, p.preferred_username].some((name) => name.toLowerCase() === login),
        );
        if (person) {
          await this.provider.interactionFinished(req, res, { login: { accountId: person.sub } });
          return;
        }
      }
      show(
        'Example Org sign-in',
        `${action === '/login' ? '<p id="login-error">Unknown user.</p>' : ''}` +
          `<form method="post" action="${base}/login"><label>Username or e-mail ` +
          `<input id="login" name="login" autocomplete="username"></label>` +
          `<button id="sign-in" type="submit">Sign in</button></form>`,
      );
      return;
    }
    if (action === '/confirm') {
      const grant = new this.provider.Grant({
        accountId: String(details.session?.accountId),
        clientId: String(details.params.client_id),
      });
      grant.addOIDCScope(String(details.params.scope));
      await this.provider.interactionFinished(
        req,
        res,
        { consent: { grantId: await grant.save() } },
        {
          mergeWithLastSubmission: true,
        },
      );
      return;
    }
    show(
      'Allow access?',
      `<p>${String(details.params.client_id)} asks for: ${String(details.params.scope)}</p>` +
        `<form method="post" action="${base}/confirm"><button id="allow" type="submit">Allow</button></form>` +
        `<form method="post" action="${base}/abort"><button id="deny" type="submit">Deny</button></form>`,
    );
  }

  /**
   * Follows `url` as a browser signed in as `sub` would (cookies kept, every redirect followed) until it leaves the
   * provider; returns that last address (the client's callback).
   */
  async signIn(url: string, sub: string, approve = true): Promise<string> {
    this.current = { sub, approve };
    try {
      return await this.follow(url);
    } finally {
      this.current = null;
    }
  }

  private async follow(url: string): Promise<string> {
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
    try {
      await this.enterUserCode(verificationUriComplete);
    } finally {
      this.current = null;
    }
  }

  private async enterUserCode(verificationUriComplete: string): Promise<void> {
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
