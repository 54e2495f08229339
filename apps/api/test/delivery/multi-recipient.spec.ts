/**
 * Multi-recipient (group) sends through the running server, on PostgreSQL and on PGlite: `PUT /v1/messages/multi`
 * and the `send-multi` frame store one `shared_payloads` row for N device rows (counted in the tables), refusals
 * name every failing recipient and store nothing, the payload goes with its last row (acknowledged over HTTP or the
 * socket, expired, or its device removed), live delivery, offline devices handed to the push path then drained, online-only sends, full queues skipped,
 * hostile bodies, and a removed device that tries to send. Delivery across two instances over Redis is the last
 * block (PostgreSQL only: instances share a database).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';

import { RetentionService } from '../../src/services/retention.service.js';
import { Cluster, REDIS_URL } from '../support/cluster.js';
import {
  link,
  register,
  scrapeMetrics,
  startServer,
  TestDevice,
  type Backend,
  type TestServer,
} from '../support/harness.js';
import { queueCounterDrift } from '../support/queue-counters.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** The `recipients` entry addressing these devices of one account. */
const recipient = (...devices: TestDevice[]) => ({
  accountId: devices[0]?.accountId ?? '',
  devices: devices.map((d) => ({ deviceId: d.deviceId, registrationId: d.registrationId })),
});
/** Every content sent, for the log check. */
const sent: string[] = [];
const body = (recipients: unknown[], extra: Record<string, unknown> = {}) => {
  const content = b64(randomBytes(200));
  sent.push(content);
  return { type: 'senderkey', content, timestamp: Date.now(), recipients, ...extra };
};

describe.each<Backend>(['postgres', 'pglite'])('multi-recipient sends (%s)', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    /** A heartbeat round of 10 s: on a loaded machine PGlite can hold the event loop past the harness's 250 ms. */
    server = await startServer(backend, { MAX_QUEUED_ENVELOPES: '5', LOG_LEVEL: 'warn', WS_HEARTBEAT_INTERVAL: '10s' });
  }, 180_000);

  afterAll(async () => {
    await server.close();
  });

  /** Rows of the given devices, with their payload ids. */
  const rowsOf = (...devices: TestDevice[]) =>
    server.query<{ guid: string; payload_id: string | null; own: number; type: string }>(
      `SELECT guid, payload_id::text AS payload_id, octet_length(content)::int AS own, type FROM envelopes
       WHERE (account_id::text || '.' || device_id) = ANY(string_to_array($1::text, ','))`,
      [devices.map((d) => `${d.accountId}.${d.deviceId}`).join(',')],
    );
  const payloadExists = async (id: string): Promise<boolean> =>
    (await server.query('SELECT 1 FROM shared_payloads WHERE id = $1::bigint', [id])).length === 1;

  it('should store the ciphertext once with a row per device and deliver it as an ordinary envelope', async () => {
    const alice = await register(server);
    const alice2 = await link(alice);
    const bob = await register(server);
    const bob2 = await link(bob);
    const carol = await register(server);
    const live = await carol.connect();
    expect(await live.drain()).toEqual([]);

    const send = body([recipient(bob, bob2), recipient(carol), recipient(alice2)]);
    const res = await alice.request('PUT', '/v1/messages/multi', send);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ serverTimestamp: expect.any(Number), stored: 4 });

    const rows = await rowsOf(bob, bob2, carol, alice2);
    expect(rows).toHaveLength(4);
    const payloadIds = new Set(rows.map((r) => r.payload_id));
    expect(payloadIds.size).toBe(1);
    const [payloadId] = [...payloadIds] as [string];
    expect(rows.every((r) => r.own === 0 && r.type === 'senderkey')).toBe(true);
    const [payload] = await server.query<{ bytes: number; refs: number }>(
      `SELECT octet_length(content)::int AS bytes,
              (SELECT count(*)::int FROM envelopes WHERE payload_id = p.id) AS refs
       FROM shared_payloads p WHERE id = $1::bigint`,
      [payloadId],
    );
    expect(payload).toEqual({ bytes: 200, refs: 4 });

    /** Live to the connected device, listed to the others: the same ordinary envelope. */
    const frame = await live.next();
    expect(frame).toMatchObject({
      type: 'envelope',
      envelope: {
        type: 'senderkey',
        sourceAccountId: alice.accountId,
        sourceDeviceId: 1,
        timestamp: send.timestamp,
        serverTimestamp: res.body.serverTimestamp,
        content: send.content,
      },
    });
    const page = await bob2.request('GET', '/v1/messages');
    expect(page.body.envelopes).toEqual([{ ...frame.envelope, guid: expect.any(String) }]);
    expect(new Set(rows.map((r) => r.guid)).size).toBe(4);

    /** Acknowledged one device at a time (socket and HTTP); the payload goes with the last row only. */
    live.sendJson({ type: 'ack', guids: [frame.envelope.guid] });
    for (const device of [bob, bob2]) {
      const [env] = (await device.request('GET', '/v1/messages')).body.envelopes;
      expect((await device.request('DELETE', `/v1/messages/${env.guid}`)).status).toBe(204);
    }
    await waitFor(async () => (await rowsOf(carol)).length === 0);
    expect(await payloadExists(payloadId)).toBe(true);
    const [last] = (await alice2.request('GET', '/v1/messages')).body.envelopes;
    expect((await alice2.request('DELETE', `/v1/messages/${last.guid}`)).status).toBe(204);
    expect(await payloadExists(payloadId)).toBe(false);
    live.close();
  }, 60_000);

  /** Envelopes handed to the push path (devices connected nowhere), from the metrics listener. */
  const routedOffline = async (): Promise<number> => {
    const match = /cove_envelopes_routed_total\{route="offline"\} (\d+)/.exec(await scrapeMetrics(server));
    return Number(match?.[1] ?? 0);
  };

  it('should wake offline devices by push and drain the group envelope when they connect', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const bob2 = await link(bob);
    const before = await routedOffline();
    const send = body([recipient(bob, bob2)]);
    expect((await alice.request('PUT', '/v1/messages/multi', send)).status).toBe(200);
    await waitFor(async () => (await routedOffline()) === before + 2);
    const socket = await bob.connect();
    const [envelope] = await socket.drain();
    expect(envelope).toMatchObject({ type: 'senderkey', content: send.content, sourceAccountId: alice.accountId });
    socket.close();
  });

  it('should refuse all or nothing, naming every failing recipient in one answer', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const bob2 = await link(bob);
    const carol = await register(server);
    const dave = await register(server);
    const erin = await register(server);
    const before = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM shared_payloads');
    const stale = (d: TestDevice) => ({
      accountId: d.accountId,
      devices: [{ deviceId: d.deviceId, registrationId: (d.registrationId % 16000) + 1 }],
    });

    const mismatched = await alice.request(
      'PUT',
      '/v1/messages/multi',
      body([
        recipient(bob),
        recipient(carol),
        {
          accountId: dave.accountId,
          devices: [
            { deviceId: 1, registrationId: dave.registrationId },
            { deviceId: 7, registrationId: 1 },
          ],
        },
        stale(erin),
      ]),
    );
    expect(mismatched.status).toBe(409);
    expect(mismatched.body).toEqual({
      error: 'mismatched_devices',
      message: expect.any(String),
      accounts: [
        { accountId: bob.accountId, missingDevices: [bob2.deviceId], extraDevices: [], staleDevices: [] },
        { accountId: dave.accountId, missingDevices: [], extraDevices: [7], staleDevices: [] },
        { accountId: erin.accountId, missingDevices: [], extraDevices: [], staleDevices: [1] },
      ],
    });

    const staleOnly = await alice.request(
      'PUT',
      '/v1/messages/multi',
      body([recipient(carol), stale(bob), stale(erin)]),
    );
    expect(staleOnly.status).toBe(409);
    const goneStale = await alice.request(
      'PUT',
      '/v1/messages/multi',
      body([
        recipient(carol),
        {
          accountId: bob.accountId,
          devices: [
            { deviceId: 1, registrationId: bob.registrationId },
            { deviceId: bob2.deviceId, registrationId: (bob2.registrationId % 16000) + 1 },
          ],
        },
        stale(erin),
      ]),
    );
    expect(goneStale.status).toBe(410);
    expect(goneStale.body).toEqual({
      error: 'stale_devices',
      message: expect.any(String),
      accounts: [
        { accountId: bob.accountId, staleDevices: [bob2.deviceId] },
        { accountId: erin.accountId, staleDevices: [1] },
      ],
    });

    const ghost = '0b6e7d3c-1111-4222-8333-444455556666';
    const unknown = await alice.request(
      'PUT',
      '/v1/messages/multi',
      body([recipient(carol), { accountId: ghost.toUpperCase(), devices: [{ deviceId: 1, registrationId: 9 }] }]),
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'not_found', accounts: [{ accountId: ghost }] });

    expect(await rowsOf(bob, bob2, carol, dave, erin)).toEqual([]);
    const after = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM shared_payloads');
    expect(after[0]?.n).toBe(before[0]?.n);
  }, 60_000);

  it('should answer send-multi frames with the results of the HTTP route', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const carol = await register(server);
    const socket = await alice.connect();
    expect(await socket.drain()).toEqual([]);
    const send = body([recipient(bob), recipient(carol)]);
    socket.sendJson({ type: 'send-multi', id: 'g1', message: send });
    expect(await socket.next()).toEqual({
      type: 'result',
      id: 'g1',
      status: 200,
      body: { serverTimestamp: expect.any(Number), stored: 2 },
    });
    socket.sendJson({ type: 'send-multi', id: 'g2', message: body([recipient(bob), recipient(bob)]) });
    expect(await socket.next()).toMatchObject({
      type: 'result',
      id: 'g2',
      status: 400,
      body: { error: 'invalid_request' },
    });
    socket.sendJson({ type: 'send-multi', id: 'g3', message: body([recipient(alice)]) });
    expect(await socket.next()).toMatchObject({
      type: 'result',
      id: 'g3',
      status: 409,
      body: { error: 'mismatched_devices', accounts: [{ accountId: alice.accountId, extraDevices: [1] }] },
    });
    /** The body's fields flat in the frame (the frame's own `type` kept): refused, the body goes in `message`. */
    socket.sendJson({ ...send, type: 'send-multi', id: 'g4' });
    expect(await socket.next()).toMatchObject({ type: 'result', id: 'g4', status: 400 });
    socket.sendJson({ type: 'send-multi', message: send });
    expect(await socket.next()).toMatchObject({ type: 'error', error: 'invalid_request' });
    expect(await rowsOf(bob, carol)).toHaveLength(2);
    socket.close();
  });

  it('should refuse hostile bodies and store nothing for them', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const send = (b: unknown) => alice.request('PUT', '/v1/messages/multi', b);
    const many = Array.from({ length: 1001 }, (_, i) => ({
      accountId: `0b6e7d3c-1111-4222-8333-${String(i).padStart(12, '0')}`,
      devices: [{ deviceId: 1, registrationId: 1 }],
    }));
    const cases: Array<[string, unknown, number]> = [
      ['no recipients', body([]), 400],
      ['duplicate recipients', body([recipient(bob), recipient(bob)]), 400],
      [
        'duplicate recipients in two spellings',
        body([recipient(bob), { ...recipient(bob), accountId: bob.accountId.toUpperCase() }]),
        400,
      ],
      [
        'duplicate devices',
        body([{ accountId: bob.accountId, devices: [recipient(bob).devices[0], recipient(bob).devices[0]] }]),
        400,
      ],
      ['an account with no devices', body([{ accountId: bob.accountId, devices: [] }]), 400],
      ['too many recipients', body(many), 413],
      ['a 1:1 type', body([recipient(bob)], { type: 'whisper' }), 400],
      ['the reserved sealed-v2 type', body([recipient(bob)], { type: 'sealed-v2' }), 400],
      ['content over 64 KiB', body([recipient(bob)], { content: b64(randomBytes(64 * 1024 + 3)) }), 413],
      ['no content', body([recipient(bob)], { content: '' }), 400],
      ['content that is not base64', body([recipient(bob)], { content: 'not base64!' }), 400],
      ['a forged sender field', body([recipient(bob)], { sourceAccountId: bob.accountId }), 400],
      [
        'a wrong registration id',
        body([
          { accountId: bob.accountId, devices: [{ deviceId: 1, registrationId: (bob.registrationId % 16000) + 1 }] },
        ]),
        410,
      ],
      ['only the sending device itself', body([recipient(alice)]), 409],
    ];
    for (const [name, hostile, status] of cases) {
      const res = await send(hostile);
      expect({ name, status: res.status }).toEqual({ name, status });
    }
    expect(await rowsOf(bob, alice)).toEqual([]);
    /** Without credentials: 401, nothing stored. */
    const anonymous = await fetch(`${server.url}/v1/messages/multi`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body([recipient(bob)])),
    });
    expect(anonymous.status).toBe(401);
  }, 60_000);

  it('should refuse a send from a removed device (401) and close its socket', async () => {
    const alice = await register(server);
    const alice2 = await link(alice);
    const bob = await register(server);
    const socket = await alice2.connect();
    expect(await socket.drain()).toEqual([]);
    expect((await alice.request('DELETE', `/v1/devices/${alice2.deviceId}`)).status).toBe(204);
    expect((await alice2.request('PUT', '/v1/messages/multi', body([recipient(bob)]))).status).toBe(401);
    expect((await socket.waitClosed()).code).toBe(4004);
    expect(await rowsOf(bob)).toEqual([]);
  });

  it('should deliver an online send only to connected devices and store nothing', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const carol = await register(server);
    const socket = await bob.connect();
    expect(await socket.drain()).toEqual([]);
    const before = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM shared_payloads');
    const send = body([recipient(bob), recipient(carol)], { online: true });
    const offlineBefore = await routedOffline();
    const res = await alice.request('PUT', '/v1/messages/multi', send);
    expect(res.body).toEqual({ serverTimestamp: expect.any(Number), stored: 0 });
    expect(await socket.next()).toMatchObject({ type: 'envelope', envelope: { content: send.content } });
    expect(await rowsOf(bob, carol)).toEqual([]);
    const after = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM shared_payloads');
    expect(after[0]?.n).toBe(before[0]?.n);
    expect((await carol.request('GET', '/v1/messages')).body.envelopes).toEqual([]);
    /** Nothing stored, so the offline device is not woken. */
    expect(await routedOffline()).toBe(offlineBefore);
    socket.close();
  });

  it('should skip a device whose queue is full and store for the others', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const carol = await register(server);
    for (let i = 0; i < 5; i++) {
      expect((await alice.request('PUT', '/v1/messages/multi', body([recipient(bob)]))).status).toBe(200);
    }
    const res = await alice.request('PUT', '/v1/messages/multi', body([recipient(bob), recipient(carol)]));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      serverTimestamp: expect.any(Number),
      stored: 1,
      queueFull: [{ accountId: bob.accountId, fullDevices: [1] }],
    });
    expect(await rowsOf(bob)).toHaveLength(5);
    expect(await rowsOf(carol)).toHaveLength(1);
  });

  it('should delete a payload when its last device is removed, and when its rows expire', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const bob2 = await link(bob);
    const carol = await register(server);
    expect((await alice.request('PUT', '/v1/messages/multi', body([recipient(bob, bob2)]))).status).toBe(200);
    const [row] = await rowsOf(bob2);
    const payloadId = row?.payload_id ?? '';
    const [first] = (await bob.request('GET', '/v1/messages')).body.envelopes;
    expect((await bob.request('DELETE', `/v1/messages/${first.guid}`)).status).toBe(204);
    expect(await payloadExists(payloadId)).toBe(true);
    expect((await bob.request('DELETE', `/v1/devices/${bob2.deviceId}`)).status).toBe(204);
    expect(await payloadExists(payloadId)).toBe(false);

    expect((await alice.request('PUT', '/v1/messages/multi', body([recipient(carol)]))).status).toBe(200);
    const [expiring] = await rowsOf(carol);
    await server.query('UPDATE envelopes SET server_timestamp = 0 WHERE guid = $1::uuid', [expiring?.guid]);
    /** A payload no row references, as two concurrent last deletions can leave one (made by hand). */
    const [orphan] = await server.query<{ id: string }>(
      "INSERT INTO shared_payloads (content) VALUES ('\\x01'::bytea) RETURNING id::text AS id",
    );
    await server.running.app.get(RetentionService).purgeExpired(Date.now());
    expect(await rowsOf(carol)).toEqual([]);
    expect(await payloadExists(expiring?.payload_id ?? '')).toBe(false);
    expect(await payloadExists(orphan?.id ?? '')).toBe(false);
  });

  it('should log no content it was sent', () => {
    const joined = server.logs.join('\n');
    expect(sent.length).toBeGreaterThan(20);
    for (const content of sent) expect(joined).not.toContain(content.slice(0, 40));
  });

  it('should leave every queue counter equal to its queue, shared payloads counted, after all of the above', async () => {
    expect(await queueCounterDrift(server.query)).toEqual([]);
  });
});

describe('multi-recipient delivery across instances', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL });
  }, 60_000);

  afterAll(async () => {
    await cluster.close();
  });

  it('should deliver one send accepted by B to devices connected to A and to B, once each', async () => {
    const a = await cluster.start();
    const b = await cluster.start();
    const alice = await register(b);
    const members = await Promise.all(Array.from({ length: 4 }, () => register(b)));
    const on = (d: TestDevice, s: TestServer) =>
      new TestDevice(s, d.accountId, d.deviceId, d.secret, d.registrationId, d.identity);
    const sockets = await Promise.all(members.map((m, i) => on(m, i % 2 ? a : b).connect()));
    for (const s of sockets) expect(await s.drain()).toEqual([]);
    const send = body(members.map((m) => recipient(m)));
    const res = await alice.request('PUT', '/v1/messages/multi', send);
    expect(res.body.stored).toBe(4);
    for (const s of sockets) {
      expect(await s.next()).toMatchObject({
        type: 'envelope',
        envelope: { type: 'senderkey', content: send.content },
      });
    }
    /** The online path crosses instances too. */
    const typing = body(
      members.map((m) => recipient(m)),
      { online: true },
    );
    expect((await alice.request('PUT', '/v1/messages/multi', typing)).status).toBe(200);
    for (const s of sockets) {
      expect(await s.next()).toMatchObject({ type: 'envelope', envelope: { content: typing.content } });
      s.close();
    }
  }, 90_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
