/**
 * Single sign-on with OpenID Connect (`REGISTRATION=sso`, issue 15) against a real provider in this process
 * (`oidc-provider`): a browser's authorization code flow with PKCE ends in a single-use grant in the PWA's URL
 * fragment, which registers exactly one account under the username the provider gives; the command line's device
 * authorization grant ends in the same kind of grant. Refused: registration without a grant or with a used one, a
 * person outside the allowed e-mail domain or the required group or with an unverified e-mail, a declined sign-in, a
 * replayed or forged state, a second account for one person, and linking a device without signing in again as the
 * account's own person. An invite is a separate check: under `sso` it is optional, and the owner invite (from the
 * admin socket) still makes the owner, who also needs a grant. The canary: no token, e-mail or provider user id in
 * the server's logs or tables.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { answer } from '../support/admin-socket.js';
import { TestIdentityProvider } from '../support/oidc-provider.js';
import { request, startServer, TestDevice, TestIdentity, type TestServer } from '../support/harness.js';
import { freePort } from '../support/tls-fixtures.js';

const CLIENT_ID = 'cove-server';
const CLIENT_SECRET = 'cove-client-secret-0123456789';

/** Asks the admin socket for the owner invite. */
const ownerInvite = async (path: string): Promise<string> => {
  const reply = await answer(path, { command: 'owner-invite' });
  if (reply.ok !== true || typeof reply.code !== 'string')
    throw new Error(`owner-invite refused: ${JSON.stringify(reply)}`);
  return reply.code;
};

describe('single sign-on with OpenID Connect', () => {
  let idp: TestIdentityProvider;
  let server: TestServer;
  let publicUrl: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cove-sso-spec-'));
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    idp = await TestIdentityProvider.start(CLIENT_ID, CLIENT_SECRET, `${publicUrl}/v1/sso/callback`);
    const person = (sub: string, email: string, username: string, groups = ['staff'], verified = true) =>
      idp.people.set(sub, { sub, email, email_verified: verified, preferred_username: username, groups });
    person('u-ann-0001', 'ann@example.org', 'ann.lee');
    person('u-ben-0002', 'ben@example.org', 'Ben Okafor');
    person('u-eve-0003', 'eve@evil.example', 'eve');
    person('u-gus-0004', 'gus@example.org', 'gus', ['contractors']);
    person('u-una-0005', 'una@example.org', 'una', ['staff'], false);
    person('u-olu-0006', 'olu@example.org', 'olu');
    server = await startServer('pglite', {
      PORT: String(port),
      REGISTRATION: 'sso',
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      OIDC_NAME: 'Example Org',
      OIDC_ALLOWED_DOMAINS: 'example.org',
      OIDC_REQUIRED_GROUP: 'staff',
      OIDC_SCOPES: 'openid email profile groups',
      PUBLIC_URL: publicUrl,
      RATE_LIMITS: 'on',
      ADMIN_SOCKET: join(dir, 'admin.sock'),
    });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await idp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A browser sign-in from the PWA's button to the PWA's fragment. */
  const browserSignIn = async (sub: string, approve = true): Promise<URLSearchParams> => {
    const start = await fetch(`${server.url}/v1/sso/authorize`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const toProvider = start.headers.get('location') ?? '';
    expect(toProvider.startsWith(idp.issuer)).toBe(true);
    const authorizeParams = new URL(toProvider).searchParams;
    expect(authorizeParams.get('code_challenge_method')).toBe('S256');
    expect(authorizeParams.get('nonce')).toBeTruthy();
    const callback = await idp.signIn(toProvider, sub, approve);
    expect(callback.startsWith(`${publicUrl}/v1/sso/callback?`)).toBe(true);
    return finishCallback(callback);
  };

  const finishCallback = async (callback: string): Promise<URLSearchParams> => {
    const back = await fetch(callback, { redirect: 'manual' });
    expect(back.status).toBe(303);
    const landing = new URL(back.headers.get('location') ?? '');
    expect(`${landing.origin}${landing.pathname}`).toBe(`${publicUrl}/`);
    return new URLSearchParams(landing.hash.slice(1));
  };

  const registerWith = (ssoToken: string | undefined, username = 'chosen_by_client', inviteCode?: string) => {
    const identity = new TestIdentity();
    const body = identity.registration({
      username,
      ...(ssoToken ? { ssoToken } : {}),
      ...(inviteCode ? { inviteCode } : {}),
    });
    return request<{ accountId: string; error?: string }>(server, 'POST', '/v1/accounts', body).then((res) => ({
      res,
      device: (accountId: string) =>
        new TestDevice(server, accountId, 1, body.secret, body.registrationId as number, identity),
    }));
  };

  it('should name the sign-in in /v1/info and refuse registration without a grant', async () => {
    const info = (await request(server, 'GET', '/v1/info')).body as { registration: string; sso?: { name: string } };
    expect(info).toMatchObject({ registration: 'sso', sso: { name: 'Example Org' } });
    expect((await registerWith(undefined)).res).toMatchObject({ status: 403, body: { error: 'sso_required' } });
    const forged = 'A'.repeat(43);
    expect((await registerWith(forged)).res).toMatchObject({ status: 403, body: { error: 'sso_required' } });
  });

  let ann: TestDevice;

  it('should register one account from a browser sign-in, under the provider’s username, with a single-use grant', async () => {
    const fragment = await browserSignIn('u-ann-0001');
    expect(fragment.get('sso-error')).toBeNull();
    expect(fragment.get('sso-username')).toBe('ann.lee');
    expect(fragment.get('sso-existing')).toBeNull();
    const token = fragment.get('sso-token') ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const first = await registerWith(token, 'not_what_sso_says');
    expect(first.res.status).toBe(201);
    ann = first.device(first.res.body.accountId);
    const lookup = await ann.request<{ accountId: string; username: string }>('GET', '/v1/accounts/username/ann.lee');
    expect(lookup.body).toMatchObject({ accountId: ann.accountId, username: 'ann.lee' });
    // The grant worked once.
    expect((await registerWith(token)).res).toMatchObject({ status: 403, body: { error: 'sso_required' } });

    // The same person signing in again gets a grant marked for an existing account, which cannot make a second one.
    const again = await browserSignIn('u-ann-0001');
    expect(again.get('sso-existing')).toBe('1');
    expect((await registerWith(again.get('sso-token') ?? '')).res).toMatchObject({
      status: 409,
      body: { error: 'sso_account_exists' },
    });
  });

  it('should refuse people outside the domain or the group, unverified e-mails, and declined sign-ins', async () => {
    expect((await browserSignIn('u-eve-0003')).get('sso-error')).toBe('not-allowed');
    expect((await browserSignIn('u-gus-0004')).get('sso-error')).toBe('not-allowed');
    expect((await browserSignIn('u-una-0005')).get('sso-error')).toBe('not-allowed');
    expect((await browserSignIn('u-ben-0002', false)).get('sso-error')).toBe('denied');
  });

  it('should refuse a replayed callback and a forged state', async () => {
    const start = await fetch(`${server.url}/v1/sso/authorize`, { redirect: 'manual' });
    const callback = await idp.signIn(start.headers.get('location') ?? '', 'u-ben-0002');
    expect((await finishCallback(callback)).get('sso-token')).toBeTruthy();
    expect((await finishCallback(callback)).get('sso-error')).toBe('expired');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'x'.repeat(43));
    expect((await finishCallback(forged.href)).get('sso-error')).toBe('expired');
  });

  it('should sign the command line in with the device authorization grant', async () => {
    const started = await request<{
      handle: string;
      userCode: string;
      verificationUri: string;
      verificationUriComplete: string;
      interval: number;
    }>(server, 'POST', '/v1/sso/device');
    expect(started.status).toBe(200);
    expect(started.body.verificationUri.startsWith(idp.issuer)).toBe(true);
    const poll = () => request(server, 'POST', '/v1/sso/device/token', { handle: started.body.handle });
    expect(await poll()).toMatchObject({ status: 428, body: { error: 'sso_pending', interval: expect.any(Number) } });
    expect((await request(server, 'POST', '/v1/sso/device/token', { handle: 'nope' })).status).toBe(400);

    await idp.approveDevice(started.body.verificationUriComplete, 'u-ben-0002');
    let done = await poll();
    // The provider may ask to slow down when polled faster than its interval; the server passes that on as pending.
    for (let i = 0; i < 10 && done.status === 428; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      done = await poll();
    }
    expect(done).toMatchObject({ status: 200, body: { username: 'Ben_Okafor', existingAccount: false } });
    expect((await poll()).status).toBe(404);
    const { ssoToken } = done.body as { ssoToken: string };
    expect((await registerWith(ssoToken)).res.status).toBe(201);
  });

  it('should link a device only after its owner signed in again', async () => {
    const link = async (ssoToken?: string) => {
      const code = await ann.request<{ code: string }>('POST', '/v1/devices/provisioning-code');
      const { identityKey: _unused, ...body } = ann.identity.registration({}, 0);
      return request(server, 'POST', '/v1/devices', {
        ...body,
        provisioningCode: code.body.code,
        ...(ssoToken ? { ssoToken } : {}),
      });
    };
    expect(await link()).toMatchObject({ status: 403, body: { error: 'sso_required' } });
    // Another person's grant does not link to Ann's account.
    const ben = (await browserSignIn('u-ben-0002')).get('sso-token') ?? '';
    expect(await link(ben)).toMatchObject({ status: 403, body: { error: 'sso_required' } });
    const annAgain = (await browserSignIn('u-ann-0001')).get('sso-token') ?? '';
    expect(await link(annAgain)).toMatchObject({ status: 201, body: { accountId: ann.accountId, deviceId: 2 } });
  });

  it('should make the owner only from a grant and the owner invite together (independent checks)', async () => {
    const code = await ownerInvite(join(dir, 'admin.sock'));
    // The invite alone registers no one under single sign-on, and is not used up by the refusal.
    expect((await registerWith(undefined, 'olu', code)).res).toMatchObject({
      status: 403,
      body: { error: 'sso_required' },
    });
    const fragment = await browserSignIn('u-olu-0006');
    const created = await registerWith(fragment.get('sso-token') ?? '', 'ignored', code);
    expect(created.res.status).toBe(201);
    const rows = await server.query<{ username: string; role: string }>(
      'SELECT username, role FROM accounts WHERE id = $1',
      [created.res.body.accountId],
    );
    expect(rows).toEqual([{ username: 'olu', role: 'owner' }]);
    // Ann, registered with a grant and no invite, is a member.
    const ann = await server.query<{ role: string }>('SELECT role FROM accounts WHERE username = $1', ['ann.lee']);
    expect(ann).toEqual([{ role: 'member' }]);
  });

  it('should keep tokens, e-mails and the provider’s user ids out of logs and tables', async () => {
    const logs = server.logs.join('\n');
    for (const secret of ['u-ann-0001', 'ann@example.org', 'u-ben-0002', 'u-olu-0006', 'sso-token', CLIENT_SECRET]) {
      expect(logs).not.toContain(secret);
    }
    const subjects = await server.query<{ sso_subject: Uint8Array | null }>('SELECT sso_subject FROM accounts');
    expect(subjects.filter((r) => r.sso_subject).map((r) => r.sso_subject!.length)).toEqual([32, 32, 32]);
    const dump = JSON.stringify([
      await server.query('SELECT * FROM accounts'),
      await server.query('SELECT * FROM sso_transactions'),
      await server.query('SELECT * FROM sso_grants'),
    ]);
    for (const secret of ['u-ann-0001', 'ann@example.org', 'ben@example.org']) expect(dump).not.toContain(secret);
  });
});
