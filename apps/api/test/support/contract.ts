/**
 * The HTTP and WebSocket contract of the API as one suite, run against PostgreSQL and against PGlite by the two
 * `api.*.spec.ts` files. Each `describe` boots nothing itself: one server per backend serves the whole suite.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  link,
  messagesFor,
  register,
  request,
  scrapeMetrics,
  startServer,
  TestIdentity,
  TestSocket,
  type Backend,
  type Frame,
  type TestDevice,
  type TestServer,
} from './harness.js';

const b64 = (n: number): string => randomBytes(n).toString('base64');
const uniqueName = (): string => `user_${randomBytes(5).toString('hex')}`;

export function defineContract(backend: Backend): void {
  let server: TestServer;

  beforeAll(async () => {
    // On an empty database, so that one suite still sees the server migrate one at its start (every other suite's
    // server starts on a clone of the migrated template).
    server = await startServer(backend, {}, { emptyDatabase: true });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  describe('info and system routes', () => {
    it('should publish info, health, readiness, metrics and the OpenAPI document', async () => {
      const info = await request(server, 'GET', '/v1/info');
      expect(info.status).toBe(200);
      expect(info.body).toMatchObject({
        registration: 'open',
        vapidPublicKey: expect.stringMatching(/^[A-Za-z0-9_-]{87}$/),
        limits: { maxDevicesPerAccount: 8 },
      });
      expect((await request(server, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
      expect((await request(server, 'GET', '/readyz')).body).toEqual({ status: 'ok' });
      expect(await scrapeMetrics(server)).toContain('cove_http_requests_total');
      const openapi = await request(server, 'GET', '/v1/openapi.json');
      expect(openapi.body.openapi).toBe('3.1.0');
      expect(Object.keys(openapi.body.paths)).toContain('/v1/messages/{accountId}');
      expect(Object.keys(openapi.body.paths)).not.toContain('/metrics');
    });

    it('should answer unknown routes with a JSON 404', async () => {
      const res = await request(server, 'GET', '/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    });
  });

  describe('POST /v1/accounts', () => {
    it('should create an account with device 1', async () => {
      const device = await register(server, { preKeys: 3 });
      expect(device.accountId).toMatch(/^[0-9a-f-]{36}$/);
      const status = await device.request('GET', '/v1/keys/status');
      expect(status.body).toEqual({ preKeyCount: 3, kyberPreKeyCount: 3 });
    });

    it('should refuse malformed JSON, schema violations and bad keys with stable codes', async () => {
      const identity = new TestIdentity();
      const good = identity.registration();
      const post = (body: unknown) => request(server, 'POST', '/v1/accounts', body);
      expect((await post('{not json')).body.error).toBe('malformed_json');
      expect((await post({ ...good, registrationId: 0 })).body.error).toBe('invalid_request');
      expect((await post({ ...good, secret: b64(16) })).body.error).toBe('invalid_request');
      expect((await post({ ...good, extra: true })).body.error).toBe('invalid_request');
      expect((await post({ ...good, username: 'no spaces' })).status).toBe(400);
      const badType = Buffer.from(good.identityKey as string, 'base64');
      badType[0] = 0x06;
      const res = await post({ ...good, identityKey: badType.toString('base64') });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_key');
      expect(res.body).not.toHaveProperty('stack');
    });

    it('should refuse a bad signed-prekey or Kyber signature with 400 invalid_signature', async () => {
      const identity = new TestIdentity();
      const other = new TestIdentity();
      const good = identity.registration();
      const forged = { ...other.signedPreKey(1) };
      const res = await request(server, 'POST', '/v1/accounts', { ...good, signedPreKey: forged });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_signature');
      const kyber = identity.kyberPreKey(7);
      const tampered = Buffer.from(kyber.signature, 'base64');
      tampered[5] = (tampered[5] ?? 0) ^ 1;
      const res2 = await request(server, 'POST', '/v1/accounts', {
        ...good,
        kyberPreKeys: [{ ...kyber, signature: tampered.toString('base64') }],
      });
      expect(res2.body.error).toBe('invalid_signature');
    });

    it('should refuse a body over the size limit with 413', async () => {
      const res = await request(server, 'POST', '/v1/accounts', { padding: 'x'.repeat(1_100_000) });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('payload_too_large');
    });
  });

  describe('authentication', () => {
    it('should answer 401 to missing, malformed and wrong credentials', async () => {
      const device = await register(server);
      expect((await request(server, 'GET', '/v1/devices')).status).toBe(401);
      expect((await request(server, 'GET', '/v1/devices', undefined, { authorization: 'Basic !!!' })).status).toBe(401);
      const wrong = Buffer.from(`${device.accountId}.1:${b64(32)}`).toString('base64');
      const res = await request(server, 'GET', '/v1/devices', undefined, { authorization: `Basic ${wrong}` });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      const otherDevice = Buffer.from(`${device.accountId}.2:${device.secret}`).toString('base64');
      expect(
        (await request(server, 'GET', '/v1/devices', undefined, { authorization: `Basic ${otherDevice}` })).status,
      ).toBe(401);
    });

    it('should store only a hash of the credential', async () => {
      const device = await register(server);
      const rows = await server.query<{ credential_hash: Uint8Array }>(
        'SELECT credential_hash FROM devices WHERE account_id = $1',
        [device.accountId],
      );
      const hash = Buffer.from(rows[0]!.credential_hash);
      expect(hash.length).toBe(32);
      expect(hash.equals(Buffer.from(device.secret, 'base64'))).toBe(false);
    });
  });

  describe('usernames', () => {
    it('should set, look up case-insensitively, refuse taken names and delete', async () => {
      const alice = await register(server);
      const bob = await register(server);
      const name = uniqueName();
      expect((await alice.request('PUT', '/v1/accounts/username', { username: name })).status).toBe(200);
      const found = await bob.request('GET', `/v1/accounts/username/${name.toUpperCase()}`);
      expect(found.body).toEqual({ accountId: alice.accountId, username: name });
      const taken = await bob.request('PUT', '/v1/accounts/username', { username: name.toUpperCase() });
      expect(taken.status).toBe(409);
      expect(taken.body.error).toBe('username_taken');
      expect((await alice.request('DELETE', '/v1/accounts/username')).status).toBe(204);
      expect((await bob.request('GET', `/v1/accounts/username/${name}`)).status).toBe(404);
      expect((await bob.request('PUT', '/v1/accounts/username', { username: 'ab' })).status).toBe(400);
    });

    it('should refuse registering with a taken username', async () => {
      const name = uniqueName();
      await register(server, { username: name });
      const res = await request(server, 'POST', '/v1/accounts', new TestIdentity().registration({ username: name }));
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('username_taken');
    });
  });

  describe('prekeys', () => {
    it('should upload keys, report counts, cap storage and verify signatures', async () => {
      const device = await register(server);
      const id = device.identity;
      const up = await device.request('PUT', '/v1/keys', {
        preKeys: [id.preKey(1), id.preKey(2)],
        kyberPreKeys: [id.kyberPreKey(1)],
        signedPreKey: id.signedPreKey(2),
      });
      expect(up.status).toBe(204);
      expect((await device.request('GET', '/v1/keys/status')).body).toEqual({ preKeyCount: 2, kyberPreKeyCount: 1 });
      const forged = await device.request('PUT', '/v1/keys', { kyberPreKeys: [new TestIdentity().kyberPreKey(5)] });
      expect(forged.body.error).toBe('invalid_signature');
      const many = Array.from({ length: 100 }, (_, i) => id.preKey(100 + i));
      expect((await device.request('PUT', '/v1/keys', { preKeys: many })).status).toBe(204);
      const more = Array.from({ length: 100 }, (_, i) => id.preKey(300 + i));
      const capped = await device.request('PUT', '/v1/keys', { preKeys: more });
      expect(capped.status).toBe(409);
      expect(capped.body.error).toBe('limit_reached');
      expect((await device.request('GET', '/v1/keys/status')).body.preKeyCount).toBe(102);
      const tooMany = Array.from({ length: 101 }, (_, i) => id.preKey(500 + i));
      expect((await device.request('PUT', '/v1/keys', { preKeys: tooMany })).status).toBe(413);
    });

    it('should serve bundles that consume one key of each kind, then fall back to the last resort', async () => {
      const bob = await register(server, { preKeys: 1 });
      const alice = await register(server);
      const first = await alice.request('GET', `/v1/keys/${bob.accountId}/1`);
      expect(first.status).toBe(200);
      expect(first.body.identityKey).toBe(bob.identity.identityKey);
      expect(first.body.devices[0]).toMatchObject({ deviceId: 1, registrationId: bob.registrationId });
      expect(first.body.devices[0].preKey.keyId).toBe(1);
      expect(first.body.devices[0].kyberPreKey.keyId).toBe(1);
      const second = await alice.request('GET', `/v1/keys/${bob.accountId}/*`);
      expect(second.body.devices[0].preKey).toBeUndefined();
      expect(second.body.devices[0].kyberPreKey.keyId).toBe(1000);
      expect((await alice.request('GET', `/v1/keys/${randomUUID()}/1`)).status).toBe(404);
      expect((await alice.request('GET', `/v1/keys/${bob.accountId}/9`)).status).toBe(404);
      expect((await alice.request('GET', `/v1/keys/not-a-uuid/1`)).status).toBe(400);
    });

    it('should never hand out a key twice under 50 concurrent fetches', async () => {
      const bob = await register(server);
      const id = bob.identity;
      await bob.request('PUT', '/v1/keys', {
        preKeys: Array.from({ length: 30 }, (_, i) => id.preKey(i + 1)),
        kyberPreKeys: Array.from({ length: 30 }, (_, i) => id.kyberPreKey(i + 1)),
      });
      const fetchers = await Promise.all(Array.from({ length: 5 }, () => register(server)));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => fetchers[i % 5]!.request('GET', `/v1/keys/${bob.accountId}/1`)),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      const devices = results.map((r) => r.body.devices[0]);
      const ec = devices.filter((d) => d.preKey).map((d) => d.preKey.keyId);
      const kyber = devices.map((d) => d.kyberPreKey.keyId).filter((k) => k !== 1000);
      expect(new Set(ec).size).toBe(ec.length);
      expect(new Set(kyber).size).toBe(kyber.length);
      expect(ec.length).toBe(30);
      expect(kyber.length).toBe(30);
      expect(devices.filter((d) => d.kyberPreKey.keyId === 1000)).toHaveLength(20);
      expect((await bob.request('GET', '/v1/keys/status')).body).toEqual({ preKeyCount: 0, kyberPreKeyCount: 0 });
    });

    it('should let a device upload only its own keys', async () => {
      const alice = await register(server);
      const bob = await register(server);
      // Keys signed by Alice's identity are refused for Bob's account: uploads always target the caller.
      const res = await bob.request('PUT', '/v1/keys', { kyberPreKeys: [alice.identity.kyberPreKey(9)] });
      expect(res.body.error).toBe('invalid_signature');
      expect((await alice.request('GET', '/v1/keys/status')).body.kyberPreKeyCount).toBe(0);
    });
  });

  describe('devices', () => {
    it('should link devices, list them, and let only the primary remove others', async () => {
      const primary = await register(server);
      const second = await link(primary, 2);
      expect(second.deviceId).toBe(2);
      const list = await second.request('GET', '/v1/devices');
      expect(list.body.devices.map((d: { deviceId: number }) => d.deviceId)).toEqual([1, 2]);
      expect((await second.request('POST', '/v1/devices/provisioning-code')).status).toBe(403);
      expect((await second.request('DELETE', '/v1/devices/1')).status).toBe(403);
      expect((await primary.request('DELETE', '/v1/devices/1')).status).toBe(403);
      expect((await primary.request('DELETE', '/v1/devices/9')).status).toBe(404);
      expect((await primary.request('DELETE', '/v1/devices/2')).status).toBe(204);
      expect((await second.request('GET', '/v1/devices')).status).toBe(401);
      const keys = await server.query('SELECT 1 FROM pre_keys WHERE account_id = $1 AND device_id = 2', [
        primary.accountId,
      ]);
      expect(keys).toHaveLength(0);
    });

    it('should refuse a used provisioning code', async () => {
      const primary = await register(server);
      const code = (await primary.request('POST', '/v1/devices/provisioning-code')).body.code as string;
      const { identityKey: _i, ...body } = primary.identity.registration();
      expect((await request(server, 'POST', '/v1/devices', { ...body, provisioningCode: code })).status).toBe(201);
      const again = await request(server, 'POST', '/v1/devices', { ...body, provisioningCode: code });
      expect(again.status).toBe(403);
    });
  });

  describe('DELETE /v1/accounts/me', () => {
    const count = async (table: string, accountId: string): Promise<number> =>
      (
        await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE account_id = $1`, [accountId])
      )[0]!.n;

    /** A real tus upload of a few bytes; returns its id. */
    const uploadAttachment = async (device: TestDevice): Promise<string> => {
      const headers = { authorization: device.authorization, 'tus-resumable': '1.0.0' };
      const created = await fetch(`${server.url}/v1/attachments/tus`, {
        method: 'POST',
        headers: { ...headers, 'upload-length': '16' },
      });
      expect(created.status).toBe(201);
      const id = created.headers.get('location')!.split('/').pop()!;
      const sent = await fetch(`${server.url}/v1/attachments/tus/${id}`, {
        method: 'PATCH',
        headers: { ...headers, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        body: new Uint8Array(randomBytes(16)),
      });
      expect(sent.status).toBe(204);
      return id;
    };

    it('should let a linked device remove itself but no other device', async () => {
      const primary = await register(server);
      const second = await link(primary);
      const third = await link(primary);
      expect((await second.request('DELETE', `/v1/devices/${third.deviceId}`)).status).toBe(403);
      const socket = await second.connect();
      await socket.drain();
      expect((await second.request('DELETE', `/v1/devices/${second.deviceId}`)).status).toBe(204);
      expect((await socket.waitClosed()).code).toBe(4004);
      expect((await second.request('GET', '/v1/devices')).status).toBe(401);
      expect((await third.request('GET', '/v1/devices')).status).toBe(200);
    });

    it('should remove everything of the account, close its sockets, free its username, and refuse it after', async () => {
      const name = uniqueName();
      const primary = await register(server, { username: name, preKeys: 3 });
      const second = await link(primary, 2);
      const peer = await register(server);
      // Queued envelopes for both devices, an attachment, a push subscription and a live socket of the other device.
      expect(
        (await peer.request('PUT', `/v1/messages/${primary.accountId}`, messagesFor([primary, second]))).status,
      ).toBe(200);
      const attachment = await uploadAttachment(primary);
      const p256dh = Buffer.concat([Buffer.from([4]), randomBytes(64)]).toString('base64url');
      const subscribed = await second.request('PUT', '/v1/push/subscription', {
        endpoint: `https://fcm.googleapis.com/fcm/send/${randomBytes(8).toString('hex')}`,
        expirationTime: null,
        keys: { p256dh, auth: randomBytes(16).toString('base64url') },
      });
      expect(subscribed.status).toBe(204);
      const socket = await second.connect();
      await socket.drain();
      for (const table of ['devices', 'pre_keys', 'envelopes', 'push_subscriptions', 'attachments'])
        expect(await count(table, primary.accountId)).toBeGreaterThan(0);

      // Only the primary may delete the account.
      expect((await second.request('DELETE', '/v1/accounts/me')).status).toBe(403);
      expect((await primary.request('DELETE', '/v1/accounts/me')).status).toBe(204);

      const closed = await socket.waitClosed();
      expect(closed.code).toBe(4006);
      expect(closed.reason).toBe('account deleted');
      for (const table of [
        'devices',
        'pre_keys',
        'kyber_pre_keys',
        'envelopes',
        'push_subscriptions',
        'websocket_tickets',
        'provisioning_codes',
        'attachments',
      ])
        expect(await count(table, primary.accountId)).toBe(0);
      expect(await server.query('SELECT 1 FROM accounts WHERE id = $1', [primary.accountId])).toHaveLength(0);
      expect((await peer.request('GET', `/v1/attachments/${attachment}`)).status).toBe(404);

      // The old credentials are refused, over HTTP and on a new socket.
      expect((await primary.request('GET', '/v1/devices')).status).toBe(401);
      expect((await primary.request('DELETE', '/v1/accounts/me')).status).toBe(401);
      const again = await TestSocket.open(server.wsUrl);
      again.sendJson({ type: 'auth', accountId: primary.accountId, deviceId: 1, secret: primary.secret });
      expect((await again.waitClosed()).code).toBe(4001);

      // A peer sending to it, or fetching its keys or username, learns it is gone (404 not_found).
      const send = await peer.request('PUT', `/v1/messages/${primary.accountId}`, messagesFor([primary, second]));
      expect(send.status).toBe(404);
      expect(send.body.error).toBe('not_found');
      expect((await peer.request('GET', `/v1/keys/${primary.accountId}/*`)).status).toBe(404);
      expect((await peer.request('GET', `/v1/accounts/username/${name}`)).status).toBe(404);
      // The username is free again.
      const next = await register(server, { username: name });
      expect((await next.request('GET', `/v1/accounts/username/${name}`)).body.accountId).toBe(next.accountId);
    });
  });

  describe('PUT /v1/messages', () => {
    let alice: TestDevice;
    let bob: TestDevice;
    let bob2: TestDevice;

    beforeAll(async () => {
      alice = await register(server);
      bob = await register(server);
      bob2 = await link(bob);
    }, 60_000);

    it('should accept a send covering exactly the current devices, atomically', async () => {
      const ok = await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob, bob2]));
      expect(ok.status).toBe(200);
      expect(typeof ok.body.serverTimestamp).toBe('number');
      const missing = await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob]));
      expect(missing.status).toBe(409);
      expect(missing.body).toMatchObject({ error: 'mismatched_devices', missingDevices: [2], extraDevices: [] });
      const extra = await alice.request('PUT', `/v1/messages/${bob.accountId}`, {
        ...messagesFor([bob, bob2]),
        messages: [
          ...messagesFor([bob, bob2]).messages,
          { destinationDeviceId: 5, destinationRegistrationId: 1, type: 'whisper', content: b64(10) },
        ],
      });
      expect(extra.status).toBe(409);
      expect(extra.body.extraDevices).toEqual([5]);
      const staleBody = messagesFor([bob, bob2]);
      staleBody.messages[1]!.destinationRegistrationId = (bob2.registrationId % 16000) + 1;
      const stale = await alice.request('PUT', `/v1/messages/${bob.accountId}`, staleBody);
      expect(stale.status).toBe(410);
      expect(stale.body).toMatchObject({ error: 'stale_devices', staleDevices: [2] });
      const count = await server.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1',
        [bob.accountId],
      );
      expect(count[0]!.n).toBe(2);
      const list = await bob2.request('GET', '/v1/messages');
      for (const e of list.body.envelopes)
        expect((await bob2.request('DELETE', `/v1/messages/${e.guid}`)).status).toBe(204);
      const list1 = await bob.request('GET', '/v1/messages');
      for (const e of list1.body.envelopes)
        expect((await bob.request('DELETE', `/v1/messages/${e.guid}`)).status).toBe(204);
    });

    it('should require all other own devices for a send to oneself', async () => {
      const self = await bob.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob2]));
      expect(self.status).toBe(200);
      const withSelf = await bob.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob, bob2]));
      expect(withSelf.status).toBe(409);
      expect(withSelf.body.extraDevices).toEqual([1]);
      const env = (await bob2.request('GET', '/v1/messages')).body.envelopes;
      expect(env).toHaveLength(1);
      expect(env[0]).toMatchObject({ sourceAccountId: bob.accountId, sourceDeviceId: 1 });
      await bob2.request('DELETE', `/v1/messages/${env[0].guid}`);
    });

    it('should answer 404 for an unknown account and 400/413 for bad bodies', async () => {
      const unknown = await alice.request(
        'PUT',
        `/v1/messages/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`,
        messagesFor([bob]),
      );
      expect(unknown.status).toBe(404);
      const bad = await alice.request('PUT', `/v1/messages/${bob.accountId}`, { timestamp: 1, messages: [{ x: 1 }] });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe('invalid_request');
      const badType = messagesFor([bob, bob2]);
      badType.messages[0]!.type = 'cleartext';
      expect((await alice.request('PUT', `/v1/messages/${bob.accountId}`, badType)).status).toBe(400);
      const huge = messagesFor([bob, bob2], b64(70_000));
      const tooBig = await alice.request('PUT', `/v1/messages/${bob.accountId}`, huge);
      expect(tooBig.status).toBe(413);
      expect(tooBig.body.error).toBe('payload_too_large');
    });

    it('should page envelopes oldest first and keep them per device', async () => {
      for (let i = 0; i < 5; i++) {
        const body = messagesFor([bob, bob2], Buffer.from(`m${i}`).toString('base64'));
        expect((await alice.request('PUT', `/v1/messages/${bob.accountId}`, body)).status).toBe(200);
      }
      const page = await bob.request('GET', '/v1/messages?limit=3');
      expect(page.body.more).toBe(true);
      expect(page.body.envelopes.map((e: { content: string }) => Buffer.from(e.content, 'base64').toString())).toEqual([
        'm0',
        'm1',
        'm2',
      ]);
      // Another device (or account) can neither read nor acknowledge them.
      const guid = page.body.envelopes[0].guid as string;
      expect((await bob2.request('DELETE', `/v1/messages/${guid}`)).status).toBe(404);
      expect((await alice.request('DELETE', `/v1/messages/${guid}`)).status).toBe(404);
      const aliceList = await alice.request('GET', '/v1/messages');
      expect(aliceList.body.envelopes).toHaveLength(0);
      expect((await bob.request('DELETE', `/v1/messages/${guid}`)).status).toBe(204);
      expect((await bob.request('DELETE', `/v1/messages/${guid}`)).status).toBe(404);
      const rest = await bob.request('GET', '/v1/messages');
      expect(rest.body.envelopes).toHaveLength(4);
      for (const e of rest.body.envelopes) await bob.request('DELETE', `/v1/messages/${e.guid}`);
      for (const e of (await bob2.request('GET', '/v1/messages')).body.envelopes) {
        await bob2.request('DELETE', `/v1/messages/${e.guid}`);
      }
    });

    it('should keep each of many concurrent sends atomic (group commit)', async () => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          alice.request(
            'PUT',
            `/v1/messages/${bob.accountId}`,
            i % 4 === 0 ? messagesFor([bob]) : messagesFor([bob, bob2]),
          ),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(30);
      expect(results.filter((r) => r.status === 409)).toHaveLength(10);
      const rows = await server.query<{ device_id: number; n: number }>(
        'SELECT device_id, count(*)::int AS n FROM envelopes WHERE account_id = $1 GROUP BY device_id ORDER BY device_id',
        [bob.accountId],
      );
      expect(rows).toEqual([
        { device_id: 1, n: 30 },
        { device_id: 2, n: 30 },
      ]);
      await server.query('DELETE FROM envelopes WHERE account_id = $1', [bob.accountId]);
    });
  });

  describe('WebSocket', () => {
    let alice: TestDevice;
    let bob: TestDevice;

    beforeAll(async () => {
      alice = await register(server);
      bob = await register(server);
    }, 60_000);

    const send = (content: string) =>
      alice.request(
        'PUT',
        `/v1/messages/${bob.accountId}`,
        messagesFor([bob], Buffer.from(content).toString('base64')),
      );
    const text = (e: Frame): string => Buffer.from(String(e.content), 'base64').toString();

    it('should deliver stored envelopes in order, then queue-empty, then live ones; ack deletes', async () => {
      for (let i = 0; i < 20; i++) await send(`stored ${i}`);
      const socket = await bob.connect();
      const stored = await socket.drain();
      expect(stored.map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `stored ${i}`));
      await send('live');
      const live = await socket.next();
      expect(live.type).toBe('envelope');
      expect(text(live.envelope)).toBe('live');
      expect(live.envelope).toMatchObject({ type: 'whisper', sourceAccountId: alice.accountId, sourceDeviceId: 1 });
      socket.sendJson({ type: 'ack', guids: [...stored.map((e) => e.guid), live.envelope.guid] });
      socket.sendJson({ type: 'ping', id: 7 });
      expect(await socket.next()).toEqual({ type: 'pong', id: 7 });
      await waitFor(async () => (await bob.request('GET', '/v1/messages')).body.envelopes.length === 0);
      socket.close();
    });

    it('should redeliver unacknowledged envelopes on the next connection', async () => {
      await send('one');
      await send('two');
      const first = await bob.connect();
      const got = await first.drain();
      expect(got.map(text)).toEqual(['one', 'two']);
      first.sendJson({ type: 'ack', guids: [got[0]!.guid] });
      first.sendJson({ type: 'ping' });
      await first.next();
      await waitFor(async () => (await bob.request('GET', '/v1/messages')).body.envelopes.length === 1);
      first.ws.terminate();
      const second = await bob.connect();
      const again = await second.drain();
      expect(again.map((e) => e.guid)).toEqual([got[1]!.guid]);
      second.sendJson({ type: 'ack', guids: [got[1]!.guid] });
      second.close();
    });

    it('should replace an older connection of the same device', async () => {
      const first = await bob.connect();
      await first.drain();
      const second = await bob.connect();
      await second.drain();
      expect((await first.waitClosed()).code).toBe(4003);
      await send('to the newest');
      expect(text((await second.next()).envelope)).toBe('to the newest');
      second.sendJson({ type: 'ack', guids: [] });
      expect((await second.next()).type).toBe('error');
      await server.query('DELETE FROM envelopes WHERE account_id = $1', [bob.accountId]);
      second.close();
    });

    it('should send over the socket with the answers of PUT /v1/messages', async () => {
      const a = await alice.connect();
      await a.drain();
      const b = await bob.connect();
      await b.drain();
      a.sendJson({ type: 'send', id: 'r1', destination: bob.accountId, message: messagesFor([bob], b64(300)) });
      const result = await a.next();
      expect(result).toMatchObject({ type: 'result', id: 'r1', status: 200 });
      const delivered = await b.next();
      expect(delivered.envelope.sourceAccountId).toBe(alice.accountId);
      a.sendJson({ type: 'send', id: 2, destination: bob.accountId, message: { ...messagesFor([bob]), messages: [] } });
      expect(await a.next()).toMatchObject({ type: 'result', id: 2, status: 400, body: { error: 'invalid_request' } });
      a.sendJson({ type: 'send', destination: bob.accountId, message: messagesFor([bob]) });
      expect(await a.next()).toMatchObject({ type: 'error', error: 'invalid_request' });
      const bob2 = await link(bob);
      a.sendJson({ type: 'send', id: 3, destination: bob.accountId, message: messagesFor([bob]) });
      expect(await a.next()).toMatchObject({ type: 'result', id: 3, status: 409, body: { missingDevices: [2] } });
      a.sendJson({ type: 'send', id: 4, destination: bob.accountId, message: messagesFor([bob, bob2], b64(70_000)) });
      expect(await a.next()).toMatchObject({ type: 'result', id: 4, status: 413 });
      await bob.request('DELETE', '/v1/devices/2');
      a.close();
      b.close();
      await server.query('DELETE FROM envelopes WHERE account_id = $1', [bob.accountId]);
    });

    it('should answer malformed frames with an error, and refuse unauthenticated sockets', async () => {
      const socket = await bob.connect();
      await socket.drain();
      socket.ws.send('not json');
      expect((await socket.next()).error).toBe('malformed_json');
      socket.sendJson({ type: 'launch' });
      expect((await socket.next()).error).toBe('invalid_request');
      socket.sendJson({ type: 'auth', ticket: 'x' });
      expect((await socket.next()).type).toBe('error');
      socket.close();

      const anonymous = await TestSocket.open(server.wsUrl);
      anonymous.sendJson({ type: 'ping' });
      expect((await anonymous.waitClosed()).code).toBe(4001);
      const wrong = await TestSocket.open(server.wsUrl);
      wrong.sendJson({ type: 'auth', accountId: bob.accountId, deviceId: 1, secret: b64(32) });
      expect((await wrong.waitClosed()).code).toBe(4001);
      const binary = await TestSocket.open(server.wsUrl);
      binary.ws.send(Buffer.from([1, 2, 3]));
      expect((await binary.waitClosed()).code).toBe(1003);
    });

    it('should authenticate with a single-use ticket', async () => {
      const ticket = (await bob.request('POST', '/v1/websocket/ticket')).body.ticket as string;
      const socket = await TestSocket.open(server.wsUrl);
      socket.sendJson({ type: 'auth', ticket });
      expect(await socket.next()).toEqual({ type: 'ready', accountId: bob.accountId, deviceId: 1 });
      await socket.drain();
      socket.close();
      const reuse = await TestSocket.open(server.wsUrl);
      reuse.sendJson({ type: 'auth', ticket });
      expect((await reuse.waitClosed()).code).toBe(4001);
    });

    it('should isolate devices: a device receives only its own envelopes', async () => {
      const carol = await register(server);
      const c = await carol.connect();
      await c.drain();
      const b = await bob.connect();
      await b.drain();
      await send('for bob only');
      expect(text((await b.next()).envelope)).toBe('for bob only');
      c.sendJson({ type: 'ping', id: 1 });
      expect(await c.next()).toEqual({ type: 'pong', id: 1 });
      c.close();
      b.close();
      await server.query('DELETE FROM envelopes WHERE account_id = $1', [bob.accountId]);
    });

    it('should drop a connection that stops answering heartbeats', async () => {
      const dropped = async (): Promise<number> => {
        const metrics = await scrapeMetrics(server);
        return Number(/cove_websocket_closed_total\{reason="heartbeat"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      };
      const before = await dropped();
      const socket = await bob.connect();
      await socket.drain();
      // The peer stops reading: it answers no more pings, like a phone that lost its network.
      (socket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await waitFor(async () => (await dropped()) > before);
      socket.ws.terminate();
      // A live connection of the same device is unaffected by the heartbeat.
      const live = await bob.connect();
      await live.drain();
      await new Promise((r) => setTimeout(r, 800));
      live.sendJson({ type: 'ping', id: 'still here' });
      expect(await live.next()).toEqual({ type: 'pong', id: 'still here' });
      live.close();
    });

    it('should disconnect a device removed while connected', async () => {
      const second = await link(bob);
      const socket = await second.connect();
      await socket.drain();
      expect((await bob.request('DELETE', `/v1/devices/${second.deviceId}`)).status).toBe(204);
      const closed = await socket.waitClosed();
      expect(closed.code).toBe(4004);
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
