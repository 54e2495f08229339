/**
 * Throttling of failed authentication on HTTP Basic credentials, WebSocket credential frames and WebSocket tickets:
 * per client address and per account, with lockout windows that grow, and no cost for successful authentication.
 * Clients come from distinct loopback addresses (127.0.0.x, all routed to the server's 127.0.0.1), so each test has
 * addresses of its own and the server sees real client addresses, not headers. Refused attempts are checked against
 * snapshots of the devices and tickets tables: a locked-out attempt does not even reach the credential lookup.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';

import { AUTH_THROTTLE } from '../../src/rate-limits.js';
import { register, startServer, type TestDevice, type TestServer } from '../support/harness.js';

/** The first lockout in this suite (the default is a minute); each repeat doubles it. */
const LOCKOUT_SECONDS = 3;

type Answer = { status: number; retryAfter: number | undefined; body: Record<string, unknown> };

const basic = (accountId: string, deviceId: number, secret: string): string =>
  `Basic ${Buffer.from(`${accountId}.${deviceId}:${secret}`).toString('base64')}`;
const wrongSecret = (): string => randomBytes(32).toString('base64');

describe('failed-authentication throttling', () => {
  let server: TestServer;
  let port: number;
  /** Each test takes fresh client addresses. */
  let nextHost = 10;
  const newAddress = (): string => `127.0.0.${nextHost++}`;

  beforeAll(async () => {
    server = await startServer('postgres', { RATE_LIMITS: 'on', AUTH_LOCKOUT: `${LOCKOUT_SECONDS}s` });
    port = Number(new URL(server.url).port);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  /** An HTTP call from a given local address. */
  const call = (from: string, method: string, path: string, authorization?: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          localAddress: from,
          agent: false,
          headers: authorization ? { authorization } : {},
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => {
            const retryAfter = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: retryAfter === undefined ? undefined : Number(retryAfter),
              body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
            });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  const devices = (from: string, device: TestDevice, secret = device.secret): Promise<Answer> =>
    call(from, 'GET', '/v1/devices', basic(device.accountId, device.deviceId, secret));

  /** A WebSocket from a given local address that sends one auth frame: `ready`, or the close code and reason. */
  const socketAuth = (
    from: string,
    frame: Record<string, unknown>,
  ): Promise<{ ready: boolean; code?: number; reason?: string }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/websocket`, { localAddress: from });
      ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', ...frame })));
      ws.once('message', (data) => {
        const parsed = JSON.parse((data as Buffer).toString('utf8')) as { type: string };
        if (parsed.type === 'ready') {
          ws.close();
          resolve({ ready: true });
        }
      });
      ws.once('close', (code, reason) => resolve({ ready: false, code, reason: reason.toString() }));
      ws.once('error', reject);
    });

  /** What a refused attempt must leave alone: credentials, last-seen times, tickets. */
  const snapshot = async (): Promise<string> =>
    JSON.stringify([
      await server.query(
        `SELECT account_id, id, encode(credential_hash, 'hex') AS h, last_seen_at FROM devices ORDER BY account_id, id`,
      ),
      await server.query(
        `SELECT encode(ticket_hash, 'hex') AS t, account_id, device_id FROM websocket_tickets ORDER BY 1`,
      ),
    ]);

  /** Failed attempts from one address, each naming another (unknown) account. */
  const fail = async (from: string, times: number): Promise<void> => {
    for (let i = 0; i < times; i++) {
      const answer = await call(from, 'GET', '/v1/devices', basic(randomUUID(), 1, wrongSecret()));
      expect(answer.status).toBe(401);
    }
  };

  it('should lock out an address after repeated failed Basic auth, even for a correct credential, and only there', async () => {
    const victim = await register(server);
    const attacker = newAddress();
    const elsewhere = newAddress();
    await fail(attacker, AUTH_THROTTLE.perAddress);
    const before = await snapshot();
    const locked = await devices(attacker, victim);
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('rate_limited');
    expect(locked.retryAfter).toBeGreaterThan(0);
    expect(locked.retryAfter).toBeLessThanOrEqual(LOCKOUT_SECONDS);
    expect(locked.body.retryAfter).toBe(locked.retryAfter);
    // The WebSocket from the same address is refused too, before its credential is checked.
    const socket = await socketAuth(attacker, { accountId: victim.accountId, deviceId: 1, secret: victim.secret });
    expect(socket).toMatchObject({ ready: false, code: 4029 });
    expect(socket.reason).toMatch(/too many failed attempts, retry in \d+ s/);
    expect(await snapshot()).toBe(before);
    // Another address is not affected.
    expect((await devices(elsewhere, victim)).status).toBe(200);
  });

  it('should not let successful logins in between reset the failure count', async () => {
    const own = await register(server);
    const attacker = newAddress();
    await fail(attacker, AUTH_THROTTLE.perAddress - 1);
    expect((await devices(attacker, own)).status).toBe(200);
    await fail(attacker, 1);
    expect((await devices(attacker, own)).status).toBe(429);
  });

  it('should lock out an account for addresses it was not seen at, while its own devices carry on', async () => {
    const victim = await register(server);
    const home = newAddress();
    expect((await devices(home, victim)).status).toBe(200);
    // A distributed attempt: one failure from each of many addresses, so no address reaches its own limit.
    for (let i = 0; i < AUTH_THROTTLE.perAccount; i++) {
      expect((await devices(newAddress(), victim, wrongSecret())).status).toBe(401);
    }
    const before = await snapshot();
    const stranger = newAddress();
    const wrong = await devices(stranger, victim, wrongSecret());
    expect(wrong.status).toBe(429);
    expect(wrong.retryAfter).toBeGreaterThan(0);
    // Even the right secret from an address the account was never seen at waits out the lockout...
    expect((await devices(stranger, victim)).status).toBe(429);
    const socket = await socketAuth(stranger, { accountId: victim.accountId, deviceId: 1, secret: victim.secret });
    expect(socket).toMatchObject({ ready: false, code: 4029 });
    expect(await snapshot()).toBe(before);
    // ...while the account's own device, at its usual address, is not slowed at all, over HTTP and WebSocket.
    expect((await devices(home, victim)).status).toBe(200);
    expect(await socketAuth(home, { accountId: victim.accountId, deviceId: 1, secret: victim.secret })).toEqual({
      ready: true,
    });
    // The lockout names the account in any spelling.
    const upper = await call(stranger, 'GET', '/v1/devices', basic(victim.accountId.toUpperCase(), 1, victim.secret));
    expect(upper.status).toBe(429);
  });

  it('should make each repeated lockout longer than the one before', async () => {
    const attacker = newAddress();
    await fail(attacker, AUTH_THROTTLE.perAddress);
    const first = await call(attacker, 'GET', '/v1/devices', basic(randomUUID(), 1, wrongSecret()));
    expect(first.status).toBe(429);
    // Wait the lockout out: attempts meanwhile are refused without counting.
    const deadline = Date.now() + 30_000;
    let answer = first;
    while (answer.status === 429) {
      if (Date.now() > deadline) throw new Error('the first lockout never ended');
      await new Promise((r) => setTimeout(r, 200));
      answer = await call(attacker, 'GET', '/v1/devices', basic(randomUUID(), 1, wrongSecret()));
    }
    expect(answer.status).toBe(401);
    await fail(attacker, AUTH_THROTTLE.perAddress - 1);
    const second = await call(attacker, 'GET', '/v1/devices', basic(randomUUID(), 1, wrongSecret()));
    expect(second.status).toBe(429);
    expect(second.retryAfter).toBeGreaterThan(LOCKOUT_SECONDS);
    expect(second.retryAfter).toBeLessThanOrEqual(2 * LOCKOUT_SECONDS);
  }, 60_000);

  it('should lock out an address after repeated bad WebSocket tickets, leaving a valid ticket unused', async () => {
    const device = await register(server);
    const attacker = newAddress();
    for (let i = 0; i < AUTH_THROTTLE.perAddress; i++) {
      const answer = await socketAuth(attacker, { ticket: randomBytes(32).toString('base64url') });
      expect(answer).toMatchObject({ ready: false, code: 4001 });
    }
    const ticket = (await device.request('POST', '/v1/websocket/ticket')).body.ticket as string;
    const before = await snapshot();
    expect(await socketAuth(attacker, { ticket })).toMatchObject({ ready: false, code: 4029 });
    expect(await snapshot()).toBe(before);
    // The same address is locked for HTTP too: one throttle for every way of authenticating.
    expect((await devices(attacker, device)).status).toBe(429);
    // The ticket was not spent: it still works from elsewhere.
    expect(await socketAuth(newAddress(), { ticket })).toEqual({ ready: true });
  });

  it('should lock out an address after repeated wrong WebSocket credentials', async () => {
    const device = await register(server);
    const attacker = newAddress();
    for (let i = 0; i < AUTH_THROTTLE.perAddress; i++) {
      const answer = await socketAuth(attacker, { accountId: randomUUID(), deviceId: 1, secret: wrongSecret() });
      expect(answer).toMatchObject({ ready: false, code: 4001 });
    }
    expect(
      await socketAuth(attacker, { accountId: device.accountId, deviceId: 1, secret: device.secret }),
    ).toMatchObject({ ready: false, code: 4029 });
    expect((await devices(attacker, device)).status).toBe(429);
    expect(await socketAuth(newAddress(), { accountId: device.accountId, deviceId: 1, secret: device.secret })).toEqual(
      { ready: true },
    );
  });

  it('should never slow or lock out successful authentication', async () => {
    const device = await register(server);
    const from = newAddress();
    for (let i = 0; i < 3 * AUTH_THROTTLE.perAddress; i++) expect((await devices(from, device)).status).toBe(200);
    expect(await socketAuth(from, { accountId: device.accountId, deviceId: 1, secret: device.secret })).toEqual({
      ready: true,
    });
  });
});
