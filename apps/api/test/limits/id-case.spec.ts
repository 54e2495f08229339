/**
 * Ids in any spelling (issue 9, server 1): PostgreSQL compares uuids regardless of case, so every key the server
 * derives from an id — rate limits, sockets, acks — must use one spelling, or an upper-case id is a fresh count. These
 * tests present account ids and guids in upper and mixed case (in paths, Basic-auth usernames, WebSocket credentials
 * and ack frames) and check that limits hold, no prekey is drained past a limit, live delivery finds the socket, and
 * an ack answers as it deletes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { messagesFor, register, startServer, TestDevice, TestSocket, type TestServer } from '../support/harness.js';

/** Upper case every other hex letter: neither the lower- nor the upper-case spelling. */
const mixed = (id: string): string => [...id].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');

/** The same device presenting its account id in another spelling (Basic username and WebSocket credentials). */
const spelled = (device: TestDevice, spell: (id: string) => string): TestDevice =>
  new TestDevice(
    device.server,
    spell(device.accountId),
    device.deviceId,
    device.secret,
    device.registrationId,
    device.identity,
  );

const upper = (id: string): string => id.toUpperCase();

/** `RATE_LIMITS.preKeyBundle.limit` and `RATE_LIMITS.usernameLookup.limit` (controllers/rate-limits.ts). */
const BUNDLE_LIMIT = 20;
const LOOKUP_LIMIT = 60;

describe('ids in any spelling', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('postgres', { RATE_LIMITS: 'on' });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  const preKeysLeft = async (device: TestDevice): Promise<number> => {
    const [row] = await server.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM pre_keys WHERE account_id = $1::uuid)::int
            + (SELECT count(*) FROM kyber_pre_keys WHERE account_id = $1::uuid)::int AS n`,
      [device.accountId],
    );
    return row?.n ?? 0;
  };

  it('should keep the bundle limit whatever the spelling of the target’s or the requester’s id, draining no prekeys', async () => {
    const target = await register(server, { preKeys: 40 });
    const requester = await register(server);
    for (let i = 0; i < BUNDLE_LIMIT; i++) {
      expect((await requester.request('GET', `/v1/keys/${target.accountId}/*`)).status).toBe(200);
    }
    expect((await requester.request('GET', `/v1/keys/${target.accountId}/*`)).status).toBe(429);
    const left = await preKeysLeft(target);
    expect(left).toBe(2 * (40 - BUNDLE_LIMIT));
    const attempts: Array<[TestDevice, string]> = [
      [requester, upper(target.accountId)],
      [requester, mixed(target.accountId)],
      [spelled(requester, upper), target.accountId],
      [spelled(requester, mixed), upper(target.accountId)],
    ];
    for (const [who, id] of attempts) {
      const res = await who.request('GET', `/v1/keys/${id}/*`);
      expect(res.status).toBe(429);
      expect(res.body.error).toBe('rate_limited');
    }
    expect(await preKeysLeft(target)).toBe(left);
  });

  it('should keep the username lookup limit whatever the spelling of the requester’s id', async () => {
    await register(server, { username: 'case_target' });
    const requester = await register(server);
    for (let i = 0; i < LOOKUP_LIMIT; i++) {
      expect((await requester.request('GET', '/v1/accounts/username/case_target')).status).toBe(200);
    }
    expect((await requester.request('GET', '/v1/accounts/username/case_target')).status).toBe(429);
    for (const who of [spelled(requester, upper), spelled(requester, mixed)]) {
      const res = await who.request('GET', '/v1/accounts/username/CASE_TARGET');
      expect(res.status).toBe(429);
    }
  });

  it('should answer an upper-case ack as it deletes, over HTTP and WebSocket', async () => {
    const alice = await register(server);
    const bob = await register(server);
    for (let i = 0; i < 2; i++) {
      expect((await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob]))).status).toBe(200);
    }
    const listed = await spelled(bob, upper).request('GET', '/v1/messages');
    const [first, second] = listed.body.envelopes as Array<{ guid: string }>;
    const res = await spelled(bob, mixed).request('DELETE', `/v1/messages/${upper(first!.guid)}`);
    expect(res.status).toBe(204);
    expect((await bob.request('DELETE', `/v1/messages/${first!.guid}`)).status).toBe(404);

    const socket = await spelled(bob, upper).connect();
    expect((await socket.drain()).map((e) => e.guid)).toEqual([second!.guid]);
    socket.sendJson({ type: 'ack', guids: [mixed(second!.guid)] });
    const deadline = Date.now() + 10_000;
    while ((await server.query('SELECT 1 FROM envelopes WHERE guid = $1::uuid', [second!.guid])).length) {
      if (Date.now() > deadline) throw new Error('the upper-case ack deleted nothing');
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.close();
  });

  it('should deliver live to a device that authenticated with its id in upper case, and name it in lower case', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const socket = await spelled(bob, upper).connect();
    expect(await socket.drain()).toEqual([]);
    expect((await alice.request('PUT', `/v1/messages/${upper(bob.accountId)}`, messagesFor([bob]))).status).toBe(200);
    const frame = await socket.next();
    expect(frame.type).toBe('envelope');
    expect(frame.envelope.sourceAccountId).toBe(alice.accountId);

    socket.close();
    const raw = await TestSocket.open(server.wsUrl);
    raw.sendJson({ type: 'auth', accountId: mixed(bob.accountId), deviceId: 1, secret: bob.secret });
    expect(await raw.next()).toEqual({ type: 'ready', accountId: bob.accountId, deviceId: 1 });
    raw.close();
  });
});
