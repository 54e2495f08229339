/**
 * The database going away (issue 9): while a private PostgreSQL cluster is stopped, every request that needs it
 * answers `503 unavailable` with `Retry-After` (never a `500` or a stack), a WebSocket `send` gets a `result` 503, a
 * socket that cannot authenticate is closed `1013` with a reason, the process keeps serving, and everything works
 * again once the database is back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { messagesFor, register, request, startServer, TestSocket, type TestServer } from '../support/harness.js';
import { PrivatePostgres } from '../support/private-postgres.js';

describe('database outage', () => {
  let database: PrivatePostgres;
  let server: TestServer;

  beforeAll(async () => {
    database = await PrivatePostgres.start();
    server = await startServer('postgres', { DATABASE_URL: database.url, DATABASE_POOL_SIZE: '4' });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await database?.close();
  }, 60_000);

  const expectUnavailable = (res: { status: number; body: any; headers: Headers }): void => {
    expect({ status: res.status, error: res.body?.error }).toEqual({ status: 503, error: 'unavailable' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.stringify(res.body)).not.toMatch(/at |stack|ECONNREFUSED|postgres/i);
  };

  it('should answer 503 unavailable and close sockets 1013 while the database is down, then recover', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const live = await alice.connect();
    expect(await live.drain()).toEqual([]);

    await database.down();
    try {
      expectUnavailable(await alice.request('GET', '/v1/devices'));
      expectUnavailable(await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob])));
      expectUnavailable(await request(server, 'POST', '/v1/accounts', alice.identity.registration()));
      expect((await request(server, 'GET', '/readyz')).status).toBe(503);

      live.sendJson({ type: 'send', id: 1, destination: bob.accountId, message: messagesFor([bob]) });
      expect(await live.next()).toMatchObject({ type: 'result', id: 1, status: 503, body: { error: 'unavailable' } });

      const socket = await TestSocket.open(server.wsUrl);
      socket.sendJson({ type: 'auth', accountId: bob.accountId, deviceId: 1, secret: bob.secret });
      expect(await socket.waitClosed()).toEqual({ code: 1013, reason: 'database unavailable, retry later' });
    } finally {
      await database.up();
    }

    // Back: the same connection and fresh ones work; the process never crashed.
    await until(async () => (await request(server, 'GET', '/readyz')).status === 200);
    expect((await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob]))).status).toBe(200);
    live.sendJson({ type: 'send', id: 2, destination: bob.accountId, message: messagesFor([bob]) });
    expect(await live.next()).toMatchObject({ type: 'result', id: 2, status: 200 });
    const inbox = await bob.connect();
    expect(await inbox.drain()).toHaveLength(2);
    inbox.close();
    live.close();
    expect(server.logs.filter((line) => line.includes('unhandled error'))).toEqual([]);
  }, 120_000);
});

async function until(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
