/**
 * Races around a device's life (issue 9, server 8 and the leftovers): concurrent links never pass the device limit
 * (the account row is locked before devices are counted), and a device removed while its `PUT /v1/keys` or `PUT
 * /v1/push/subscription` runs gets `401 unauthorized`, not a `500` from a foreign-key violation. The removal is made
 * to land inside the request deterministically: an uncommitted `DELETE` holds the device row, the request
 * authenticates (it still sees the row) and blocks on it when it writes, then the `DELETE` commits.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_DEVICES_PER_ACCOUNT } from '@cove/protocol';
import pg from 'pg';

import {
  ADMIN_URL,
  link,
  register,
  request,
  startServer,
  type Backend,
  type TestDevice,
  type TestServer,
} from '../support/harness.js';

const LINKS = MAX_DEVICES_PER_ACCOUNT + 4;

describe.each<Backend>(['postgres', 'pglite'])('concurrent links on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(backend);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should never let concurrent links exceed the device limit', async () => {
    const primary = await register(server);
    const codes: string[] = [];
    for (let i = 0; i < LINKS; i++) {
      const code = await primary.request<{ code: string }>('POST', '/v1/devices/provisioning-code');
      expect(code.status).toBe(201);
      codes.push(code.body.code);
    }
    const results = await Promise.all(
      codes.map((provisioningCode) => {
        const { identityKey: _unused, ...body } = primary.identity.registration();
        return request(server, 'POST', '/v1/devices', { ...body, provisioningCode });
      }),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX_DEVICES_PER_ACCOUNT - 1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(LINKS - MAX_DEVICES_PER_ACCOUNT + 1);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error === 'limit_reached')).toBe(true);
    const [row] = await server.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM devices WHERE account_id = $1::uuid',
      [primary.accountId],
    );
    expect(row?.n).toBe(MAX_DEVICES_PER_ACCOUNT);
  });
});

describe('a device removed during its own request', () => {
  let server: TestServer;
  let databaseUrl: string;

  beforeAll(async () => {
    server = await startServer('postgres');
    const [row] = await server.query<{ name: string }>('SELECT current_database() AS name');
    databaseUrl = ADMIN_URL.replace(/\/postgres$/, `/${row?.name ?? ''}`);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  /** Runs `call` while `device`'s removal is uncommitted, commits the removal once `call` waits on it. */
  const removedDuring = async <T>(device: TestDevice, call: () => Promise<T>): Promise<T> => {
    const remover = new pg.Client({ connectionString: databaseUrl });
    await remover.connect();
    try {
      await remover.query('BEGIN');
      await remover.query('DELETE FROM devices WHERE account_id = $1::uuid AND id = $2', [
        device.accountId,
        device.deviceId,
      ]);
      const pending = call();
      const deadline = Date.now() + 10_000;
      for (;;) {
        const waiting = await remover.query(
          'SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()',
        );
        if (waiting.rowCount) break;
        if (Date.now() > deadline) throw new Error('the request never waited on the removal');
        await new Promise((r) => setTimeout(r, 10));
      }
      await remover.query('COMMIT');
      return await pending;
    } finally {
      await remover.end();
    }
  };

  it('should answer PUT /v1/keys with 401 when the device is removed while it uploads', async () => {
    const primary = await register(server);
    const laptop = await link(primary);
    const body = { preKeys: [primary.identity.preKey(500)] };
    const res = await removedDuring(laptop, () => laptop.request('PUT', '/v1/keys', body));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
    const signedOnly = await link(primary);
    const rotate = { signedPreKey: primary.identity.signedPreKey(7) };
    const rotated = await removedDuring(signedOnly, () => signedOnly.request('PUT', '/v1/keys', rotate));
    expect(rotated.status).toBe(401);
    expect(server.logs.some((line) => line.includes('unhandled error'))).toBe(false);
  });

  it('should answer PUT /v1/push/subscription with 401 when the device is removed while it subscribes', async () => {
    const primary = await register(server);
    const laptop = await link(primary);
    const p256dh = Buffer.concat([Buffer.from([4]), randomBytes(64)]).toString('base64url');
    const body = {
      endpoint: 'https://fcm.googleapis.com/fcm/send/removed-device',
      keys: { p256dh, auth: randomBytes(16).toString('base64url') },
    };
    const res = await removedDuring(laptop, () => laptop.request('PUT', '/v1/push/subscription', body));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
    expect(
      await server.query('SELECT 1 FROM push_subscriptions WHERE account_id = $1::uuid', [laptop.accountId]),
    ).toEqual([]);
    expect(server.logs.some((line) => line.includes('unhandled error'))).toBe(false);
  });
});
