/**
 * Password login (OPAQUE) against the running server, the test playing the client with `@serenity-kit/opaque`:
 * registration needs a device; hostile bodies (not JSON, wrong shapes, well-formed base64url that is no OPAQUE
 * message, oversized backups) get `400` with a stable code, never a crash; a login releases the backup and a link
 * token that links one device once; an unknown username, an account without a password and a wrong password all get
 * a login answer of the same shape and end in the same `401`; a finish is taken once and expires; removal deletes the
 * record and the backup; a start on one instance finishes on another (Redis); one address is locked out after 20
 * unfinished logins and a username after 5 from any addresses, for twice as long the second time (`429` with
 * `Retry-After`), while the account's devices carry on; the logs hold no OPAQUE message, backup or password.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as opaque from '@serenity-kit/opaque';
import { MAX_ACCOUNT_BACKUP_BYTES } from '@cove/protocol';

import { Cluster, REDIS_URL } from '../support/cluster.js';
import { register, request, startServer, type TestDevice, type TestServer } from '../support/harness.js';

const PASSWORD = `correct horse ${randomBytes(4).toString('hex')}`;
const BACKUP = randomBytes(600).toString('base64');

/** Registers `password` for the device's account through the two registration calls; returns the record sent. */
async function setPassword(device: TestDevice, password: string, backup = BACKUP): Promise<string> {
  const started = opaque.client.startRegistration({ password });
  const response = await device.request<{ registrationResponse: string }>(
    'POST',
    '/v1/accounts/password/registration/start',
    { registrationRequest: started.registrationRequest },
  );
  expect(response.status).toBe(200);
  const finished = opaque.client.finishRegistration({
    clientRegistrationState: started.clientRegistrationState,
    registrationResponse: response.body.registrationResponse,
    password,
  });
  const stored = await device.request('POST', '/v1/accounts/password/registration/finish', {
    registrationRecord: finished.registrationRecord,
    backup,
  });
  expect(stored.status).toBe(204);
  return finished.registrationRecord;
}

type Started = { clientLoginState: string; loginId: string; loginResponse: string; status: number };

async function startLogin(server: { url: string }, username: string, password: string): Promise<Started> {
  const started = opaque.client.startLogin({ password });
  const response = await request<{ loginId: string; loginResponse: string }>(
    server as TestServer,
    'POST',
    '/v1/accounts/password/login/start',
    { username, startLoginRequest: started.startLoginRequest },
  );
  return { clientLoginState: started.clientLoginState, status: response.status, ...response.body };
}

/** A login start from a given loopback address (127.0.0.x all reach the server), as a separate client would. */
const startFrom = (
  server: TestServer,
  from: string,
  username: string,
): Promise<{ status: number; retryAfter: number | undefined }> =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({
      username,
      startLoginRequest: opaque.client.startLogin({ password: 'guess' }).startLoginRequest,
    });
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: Number(new URL(server.url).port),
        method: 'POST',
        path: '/v1/accounts/password/login/start',
        localAddress: from,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const after = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: after === undefined ? undefined : Number(after) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });

/** A finish the way an attacker without the password would send it: 64 random bytes in the right encoding. */
const forgedFinish = (): string => randomBytes(64).toString('base64url');

describe('password login', () => {
  let server: TestServer;
  let alice: TestDevice;

  beforeAll(async () => {
    await opaque.ready;
    server = await startServer('pglite', { RATE_LIMITS: 'on', PASSWORD_LOGIN_TTL: '3s', AUTH_LOCKOUT: '2s' });
    alice = await register(server, { username: 'Opaque_Alice' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should need a device to register or remove a password', async () => {
    const { registrationRequest } = opaque.client.startRegistration({ password: PASSWORD });
    const anonymous = await request(server, 'POST', '/v1/accounts/password/registration/start', {
      registrationRequest,
    });
    expect(anonymous.status).toBe(401);
    expect((await request(server, 'DELETE', '/v1/accounts/password')).status).toBe(401);
    expect((await request(server, 'GET', '/v1/accounts/password')).status).toBe(401);
  });

  it('should refuse hostile bodies with 400 (413 when too long) and a stable code', async () => {
    const notOpaque = 'A'.repeat(43);
    const cases: Array<[string, string, unknown, number?]> = [
      ['POST', '/v1/accounts/password/registration/start', '{"registrationRequest":'],
      ['POST', '/v1/accounts/password/registration/start', {}],
      ['POST', '/v1/accounts/password/registration/start', { registrationRequest: 'not base64url!' }],
      ['POST', '/v1/accounts/password/registration/start', { registrationRequest: notOpaque, extra: 1 }],
      ['POST', '/v1/accounts/password/registration/start', { registrationRequest: 'A'.repeat(600) }, 413],
      ['POST', '/v1/accounts/password/registration/start', { registrationRequest: notOpaque.slice(0, 3) }],
      ['POST', '/v1/accounts/password/registration/finish', { registrationRecord: notOpaque, backup: BACKUP }],
      ['POST', '/v1/accounts/password/registration/finish', { registrationRecord: 'A'.repeat(256), backup: '%%%' }],
      [
        'POST',
        '/v1/accounts/password/registration/finish',
        { registrationRecord: 'A'.repeat(256), backup: Buffer.alloc(MAX_ACCOUNT_BACKUP_BYTES + 3).toString('base64') },
        413,
      ],
      ['PUT', '/v1/accounts/password/backup', { backup: 12 }],
      ['POST', '/v1/accounts/password/login/start', { username: 'x', startLoginRequest: notOpaque }],
      ['POST', '/v1/accounts/password/login/start', { username: 'opaque_alice', startLoginRequest: 'A'.repeat(86) }],
      ['POST', '/v1/accounts/password/login/start', { username: ['opaque_alice'], startLoginRequest: notOpaque }],
      ['POST', '/v1/accounts/password/login/finish', { loginId: 'short', finishLoginRequest: notOpaque }],
      ['POST', '/v1/accounts/password/login/finish', { loginId: 'A'.repeat(22), finishLoginRequest: null }],
    ];
    for (const [method, path, body, expected = 400] of cases) {
      const response = await alice.request(method, path, body);
      expect({ path, body: JSON.stringify(body).slice(0, 80), status: response.status }).toEqual({
        path,
        body: JSON.stringify(body).slice(0, 80),
        status: expected,
      });
      expect(['invalid_request', 'malformed_json', 'payload_too_large']).toContain(response.body.error);
    }
    // Still alive, and nothing was stored.
    expect((await alice.request('GET', '/v1/accounts/password')).body).toEqual({ enabled: false, updatedAt: null });
  });

  it('should release the backup and a single-use link token to the right password only', async () => {
    await setPassword(alice, PASSWORD);
    expect((await alice.request('GET', '/v1/accounts/password')).body.enabled).toBe(true);

    const login = await startLogin(server, 'opaque_ALICE', PASSWORD);
    expect(login.status).toBe(200);
    const finished = opaque.client.finishLogin({
      clientLoginState: login.clientLoginState,
      loginResponse: login.loginResponse,
      password: PASSWORD,
    });
    expect(finished).toBeDefined();
    const released = await request(server, 'POST', '/v1/accounts/password/login/finish', {
      loginId: login.loginId,
      finishLoginRequest: finished?.finishLoginRequest,
    });
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ accountId: alice.accountId, backup: BACKUP });
    // The token links exactly one device, like a provisioning code.
    const { identityKey: _unused, ...keys } = alice.identity.registration({}, 0);
    const linked = await request(server, 'POST', '/v1/devices', { ...keys, provisioningCode: released.body.linkToken });
    expect(linked.status).toBe(201);
    expect(linked.body).toEqual({ accountId: alice.accountId, deviceId: 2 });
    const { identityKey: _again, ...more } = alice.identity.registration({}, 0);
    const reused = await request(server, 'POST', '/v1/devices', { ...more, provisioningCode: released.body.linkToken });
    expect(reused.status).toBe(403);

    // A finish is taken once: replaying it is refused.
    const replay = await request(server, 'POST', '/v1/accounts/password/login/finish', {
      loginId: login.loginId,
      finishLoginRequest: finished?.finishLoginRequest,
    });
    expect(replay.status).toBe(401);
  });

  it('should answer an unknown username, an account without a password and a wrong password alike', async () => {
    await register(server, { username: 'no_password' });
    const outcomes = [];
    for (const [username, password] of [
      ['opaque_alice', 'a wrong password'],
      ['nobody_here', PASSWORD],
      ['no_password', PASSWORD],
    ] as const) {
      const login = await startLogin(server, username, password);
      expect(login.status).toBe(200);
      // Same shape and size as a real answer; the client cannot finish, and a forged finish is a plain 401.
      expect(login.loginResponse).toHaveLength(427);
      expect(
        opaque.client.finishLogin({
          clientLoginState: login.clientLoginState,
          loginResponse: login.loginResponse,
          password,
        }),
      ).toBeUndefined();
      const finish = await request(server, 'POST', '/v1/accounts/password/login/finish', {
        loginId: login.loginId,
        finishLoginRequest: forgedFinish(),
      });
      outcomes.push([finish.status, finish.body]);
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
    expect(outcomes[2]).toEqual(outcomes[0]);
    expect(outcomes[0]?.[0]).toBe(401);
  });

  it('should expire an unfinished login', async () => {
    const login = await startLogin(server, 'opaque_alice', PASSWORD);
    const finished = opaque.client.finishLogin({
      clientLoginState: login.clientLoginState,
      loginResponse: login.loginResponse,
      password: PASSWORD,
    });
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const late = await request(server, 'POST', '/v1/accounts/password/login/finish', {
      loginId: login.loginId,
      finishLoginRequest: finished?.finishLoginRequest,
    });
    expect(late.status).toBe(401);
  });

  it('should replace the backup, then delete record and backup on removal', async () => {
    const fresh = randomBytes(900).toString('base64');
    expect((await alice.request('PUT', '/v1/accounts/password/backup', { backup: fresh })).status).toBe(204);
    const login = await startLogin(server, 'opaque_alice', PASSWORD);
    const finished = opaque.client.finishLogin({
      clientLoginState: login.clientLoginState,
      loginResponse: login.loginResponse,
      password: PASSWORD,
    });
    const released = await request(server, 'POST', '/v1/accounts/password/login/finish', {
      loginId: login.loginId,
      finishLoginRequest: finished?.finishLoginRequest,
    });
    expect(released.body.backup).toBe(fresh);

    expect((await alice.request('DELETE', '/v1/accounts/password')).status).toBe(204);
    expect((await alice.request('GET', '/v1/accounts/password')).body).toEqual({ enabled: false, updatedAt: null });
    expect((await alice.request('PUT', '/v1/accounts/password/backup', { backup: fresh })).status).toBe(404);
    const after = await startLogin(server, 'opaque_alice', PASSWORD);
    expect(
      opaque.client.finishLogin({
        clientLoginState: after.clientLoginState,
        loginResponse: after.loginResponse,
        password: PASSWORD,
      }),
    ).toBeUndefined();
    for (const secret of [PASSWORD, BACKUP.slice(0, 40), fresh.slice(0, 40), after.loginResponse.slice(0, 40)])
      expect(server.logs.some((line) => line.includes(secret))).toBe(false);
  });

  it('should lock a username out for every address after 5 unfinished logins, doubling, devices unaffected', async () => {
    const victim = await register(server, { username: 'guessed_at' });
    await setPassword(victim, PASSWORD);
    // Five starts from five addresses: each address stays far below its own limit.
    for (let i = 0; i < 5; i++) expect((await startFrom(server, `127.0.0.${20 + i}`, 'Guessed_At')).status).toBe(200);
    const first = await startFrom(server, '127.0.0.30', 'guessed_at');
    expect(first.status).toBe(429);
    expect(first.retryAfter).toBeGreaterThanOrEqual(1);
    expect(first.retryAfter).toBeLessThanOrEqual(2);
    // The account's own device is not locked out by guesses at its password.
    expect((await victim.request('GET', '/v1/devices')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    for (let i = 0; i < 5; i++) expect((await startFrom(server, `127.0.0.${40 + i}`, 'guessed_at')).status).toBe(200);
    const second = await startFrom(server, '127.0.0.50', 'guessed_at');
    expect(second.status).toBe(429);
    // The second lockout in a day is twice as long.
    expect(second.retryAfter).toBeGreaterThanOrEqual(3);
    expect(second.retryAfter).toBeLessThanOrEqual(4);
  });

  it('should lock an address out after 20 unfinished logins, with Retry-After', async () => {
    const statuses: number[] = [];
    // Earlier tests started 10 logins from this address; each username gets fewer than its own limit of 5.
    for (let i = 0; statuses.at(-1) !== 429 && i < 30; i++)
      statuses.push((await startLogin(server, `guess_${Math.floor(i / 4)}`, 'guess')).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(20);
    const locked = await request(server, 'POST', '/v1/accounts/password/login/start', {
      username: 'someone_else',
      startLoginRequest: opaque.client.startLogin({ password: 'x' }).startLoginRequest,
    });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('rate_limited');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('password login across instances', () => {
  let cluster: Cluster | undefined;

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it('should finish on instance B a login started on instance A (one setup, login state in Redis)', async () => {
    await opaque.ready;
    cluster = await Cluster.create({ redisUrl: REDIS_URL });
    const a = await cluster.start();
    const b = await cluster.start();
    const device = await register(a, { username: 'two_instances' });
    await setPassword(device, PASSWORD);
    const login = await startLogin(a, 'two_instances', PASSWORD);
    const finished = opaque.client.finishLogin({
      clientLoginState: login.clientLoginState,
      loginResponse: login.loginResponse,
      password: PASSWORD,
    });
    expect(finished).toBeDefined();
    const released = await request(b, 'POST', '/v1/accounts/password/login/finish', {
      loginId: login.loginId,
      finishLoginRequest: finished?.finishLoginRequest,
    });
    expect(released.status).toBe(200);
    expect(released.body.accountId).toBe(device.accountId);
    // Taken once, whichever instance is asked.
    const replay = await request(a, 'POST', '/v1/accounts/password/login/finish', {
      loginId: login.loginId,
      finishLoginRequest: finished?.finishLoginRequest,
    });
    expect(replay.status).toBe(401);
  }, 120_000);
});
