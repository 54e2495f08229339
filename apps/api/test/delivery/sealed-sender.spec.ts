/**
 * Sealed sender through the running server, on PostgreSQL and on PGlite: the trust root published in `/v1/info` and
 * kept in `DATA_DIR` with mode 0600, sender certificates (checked with libsignal) only ever for the caller's own
 * account and device, `PUT` and `GET /v1/accounts/attributes` (the "contacts" / "anyone" setting switched by either
 * of the owner's devices, read back by both, enforced at once), unidentified 1:1 sends (right key, wrong or malformed key,
 * credentials and key together, unknown account, device mismatches, an account open to anyone) stored with null
 * source columns (every column of the row read back) and delivered live and listed with no sender, the per-recipient
 * rate limit without identity, and a v2 multi-recipient send to 50 members in one request whose shared ciphertext is
 * stored once and whose per-recipient parts the server cuts. Multi-recipient messages are built by hand here (the
 * server reads only their framing); real sealing is the client tests' business.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import * as signal from '@signalapp/libsignal-client';

import { TRUST_ROOT_FILE } from '../../src/repositories/trust-root.repository.js';
import { link, register, request, startServer, TestDevice, type Backend, type TestServer } from '../support/harness.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const SEALED_PER_RECIPIENT = 8;
const MEMBERS = 50;

/** A sealed 1:1 send body to every given device of one account. */
const sealedBody = (devices: TestDevice[], content = b64(randomBytes(120))) => ({
  timestamp: Date.now(),
  messages: devices.map((d) => ({
    destinationDeviceId: d.deviceId,
    destinationRegistrationId: d.registrationId,
    type: 'unidentified-sender',
    content,
  })),
});

/** A SealedSenderMultiRecipientMessage (sent form, 0x23) for these accounts' devices, and each one's 48 key bytes. */
const multiRecipientMessage = (accounts: TestDevice[][], shared: Buffer) => {
  const parts: Buffer[] = [Buffer.from([0x23])];
  let count = accounts.length;
  const varint: number[] = [];
  while (count >= 0x80) {
    varint.push((count & 0x7f) | 0x80);
    count >>>= 7;
  }
  varint.push(count);
  parts.push(Buffer.from(varint));
  const material = new Map<string, Buffer>();
  for (const devices of accounts) {
    const accountId = (devices[0] as TestDevice).accountId;
    parts.push(Buffer.concat([Buffer.from([0]), Buffer.from(accountId.replace(/-/g, ''), 'hex')]));
    devices.forEach((d, i) => {
      const packed = (i < devices.length - 1 ? 0x8000 : 0) | d.registrationId;
      parts.push(Buffer.from([d.deviceId, packed >> 8, packed & 0xff]));
    });
    const keys = randomBytes(48);
    material.set(accountId, keys);
    parts.push(keys);
  }
  parts.push(shared);
  return { bytes: Buffer.concat(parts), material };
};

describe.each<Backend>(['postgres', 'pglite'])('sealed sender (%s)', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(backend, { LOG_LEVEL: 'debug', WS_HEARTBEAT_INTERVAL: '10s' });
  }, 180_000);

  afterAll(async () => {
    await server.close();
  });

  /** A new account with a fresh unidentified access key set through the API. */
  const withKey = async (options: { unrestricted?: boolean } = {}) => {
    const device = await register(server);
    const accessKey = randomBytes(16);
    const res = await device.request('PUT', '/v1/accounts/attributes', {
      unidentifiedAccessKey: b64(accessKey),
      ...(options.unrestricted === undefined ? {} : { unrestrictedUnidentifiedAccess: options.unrestricted }),
    });
    expect(res.status).toBe(204);
    return { device, accessKey };
  };
  const sealedSend = (to: string, body: unknown, key: string, extra: Record<string, string> = {}) =>
    request(server, 'PUT', `/v1/messages/${to}`, body, { 'unidentified-access-key': key, ...extra });
  /** Every stored envelope row of an account, every column as text. */
  const rowsOf = (accountId: string) =>
    server.query<{ source_account_id: string | null; source_device_id: number | null; row: string; own: number }>(
      `SELECT source_account_id, source_device_id, row_to_json(e)::text AS row, octet_length(content)::int AS own
       FROM envelopes e WHERE account_id = $1::uuid ORDER BY id`,
      [accountId],
    );
  /** Whether `text` mentions the account id in any spelling the database could print. */
  const mentions = (text: string, accountId: string): boolean =>
    text.toLowerCase().includes(accountId) || text.toLowerCase().includes(accountId.replace(/-/g, ''));

  it('should publish the trust root, keep it private on disk, and sign certificates only for the caller', async () => {
    const info = await request<{ sealedSenderTrustRoot: string }>(server, 'GET', '/v1/info');
    const trustRoot = signal.PublicKey.deserialize(Buffer.from(info.body.sealedSenderTrustRoot, 'base64'));
    const mode = (await stat(join('/tmp/cove-test-data', TRUST_ROOT_FILE))).mode & 0o777;
    expect(mode).toBe(0o600);

    const alice = await register(server);
    const alice2 = await link(alice);
    const bob = await register(server);
    for (const device of [alice, alice2, bob]) {
      const before = Date.now();
      const res = await device.request<{ certificate: string; expiresAt: number }>('GET', '/v1/certificate/delivery');
      expect(res.status).toBe(200);
      const certificate = signal.SenderCertificate.deserialize(Buffer.from(res.body.certificate, 'base64'));
      expect(certificate.senderUuid()).toBe(device.accountId);
      expect(certificate.senderDeviceId()).toBe(device.deviceId);
      expect(certificate.key().serialize()).toEqual(device.identity.identity.publicKey.serialize());
      expect(certificate.expiration()).toBe(res.body.expiresAt);
      expect(res.body.expiresAt).toBeGreaterThanOrEqual(before + 24 * 3600_000);
      expect(res.body.expiresAt).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
      expect(certificate.validate(trustRoot, Date.now())).toBe(true);
      expect(certificate.validate(trustRoot, res.body.expiresAt + 1)).toBe(false);
      expect(certificate.validate(signal.PrivateKey.generate().getPublicKey(), Date.now())).toBe(false);
    }
    /** No way to ask for another account: the route takes no parameter, and without credentials it is refused. */
    expect((await request(server, 'GET', '/v1/certificate/delivery')).status).toBe(401);
    expect((await request(server, 'GET', `/v1/certificate/delivery?accountId=${bob.accountId}`)).status).toBe(401);
    const mine = await alice.request<{ certificate: string }>(
      'GET',
      `/v1/certificate/delivery?accountId=${bob.accountId}`,
    );
    expect(signal.SenderCertificate.deserialize(Buffer.from(mine.body.certificate, 'base64')).senderUuid()).toBe(
      alice.accountId,
    );
  });

  it('should validate account attributes', async () => {
    const alice = await register(server);
    const bad = [{ unidentifiedAccessKey: b64(randomBytes(15)) }, { unidentifiedAccessKey: 'x' }, { other: true }];
    for (const body of bad) {
      expect((await alice.request('PUT', '/v1/accounts/attributes', body)).status).toBe(400);
    }
    expect(
      (await request(server, 'PUT', '/v1/accounts/attributes', { unrestrictedUnidentifiedAccess: true })).status,
    ).toBe(401);
    expect((await alice.request('PUT', '/v1/accounts/attributes', { unidentifiedAccessKey: null })).status).toBe(204);
  });

  it('should store and deliver a sealed send with no trace of its sender, and refuse every wrong one', async () => {
    const alice = await register(server);
    const { device: bob, accessKey } = await withKey();
    const bob2 = await link(bob);
    const live = await bob2.connect();
    expect(await live.drain()).toEqual([]);
    const key = b64(accessKey);

    const body = sealedBody([bob, bob2]);
    const sent = await sealedSend(bob.accountId, body, key);
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({ serverTimestamp: expect.any(Number) });

    const rows = await rowsOf(bob.accountId);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.source_account_id).toBeNull();
      expect(row.source_device_id).toBeNull();
      expect(mentions(row.row, alice.accountId)).toBe(false);
    }
    const frame = await live.next();
    expect(frame.type).toBe('envelope');
    expect(frame.envelope).toEqual({
      guid: expect.any(String),
      type: 'unidentified-sender',
      timestamp: body.timestamp,
      serverTimestamp: sent.body.serverTimestamp,
      content: body.messages[0]?.content,
    });
    const page = await bob.request('GET', '/v1/messages');
    expect(page.body.envelopes).toEqual([{ ...frame.envelope, guid: expect.any(String) }]);
    live.close();

    /** Refusals: nothing more is stored. */
    const wrongKey = await sealedSend(bob.accountId, sealedBody([bob, bob2]), b64(randomBytes(16)));
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body.error).toBe('unidentified_access_denied');
    const malformed = await sealedSend(bob.accountId, sealedBody([bob, bob2]), 'not a key');
    expect(malformed.status).toBe(401);
    expect(malformed.body.error).toBe('unidentified_access_denied');
    const none = await request(server, 'PUT', `/v1/messages/${bob.accountId}`, sealedBody([bob, bob2]));
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('unauthorized');
    const both = await sealedSend(bob.accountId, sealedBody([bob, bob2]), key, { authorization: alice.authorization });
    expect(both.status).toBe(400);
    const identifiedSealed = await alice.request('PUT', `/v1/messages/${bob.accountId}`, sealedBody([bob, bob2]));
    expect(identifiedSealed.status).toBe(400);
    const sealedWhisper = await sealedSend(
      bob.accountId,
      {
        ...sealedBody([bob, bob2]),
        messages: sealedBody([bob, bob2]).messages.map((m) => ({ ...m, type: 'whisper' })),
      },
      key,
    );
    expect(sealedWhisper.status).toBe(400);
    const otherRoute = await request(server, 'GET', '/v1/messages', undefined, { 'unidentified-access-key': key });
    expect(otherRoute.status).toBe(400);
    const unknown = await sealedSend('00000000-0000-4000-8000-000000000000', sealedBody([bob]), key);
    expect(unknown.status).toBe(404);
    const missing = await sealedSend(bob.accountId, sealedBody([bob]), key);
    expect(missing.status).toBe(409);
    expect(missing.body).toMatchObject({ error: 'mismatched_devices', missingDevices: [bob2.deviceId] });
    const stale = await sealedSend(
      bob.accountId,
      sealedBody([
        bob,
        new TestDevice(server, bob.accountId, bob2.deviceId, '', (bob2.registrationId % 16000) + 1, bob.identity),
      ]),
      key,
    );
    expect(stale.status).toBe(410);
    expect(stale.body).toMatchObject({ error: 'stale_devices', staleDevices: [bob2.deviceId] });
    expect(await rowsOf(bob.accountId)).toHaveLength(2);

    /** The logs name neither the sender nor the key, and hold no content. */
    const logs = server.logs.join('\n');
    expect(logs).not.toContain(key);
    expect(logs).not.toContain(body.messages[0]?.content);
  });

  it('should take sealed sends with any key for an account open to anyone, and none for one without a key', async () => {
    const { device: carol } = await withKey({ unrestricted: true });
    expect((await sealedSend(carol.accountId, sealedBody([carol]), b64(randomBytes(16)))).status).toBe(200);
    const dave = await register(server);
    const refused = await sealedSend(dave.accountId, sealedBody([dave]), b64(Buffer.alloc(16)));
    expect(refused.status).toBe(401);
    expect(
      (await dave.request('PUT', '/v1/accounts/attributes', { unrestrictedUnidentifiedAccess: true })).status,
    ).toBe(204);
    expect((await sealedSend(dave.accountId, sealedBody([dave]), b64(Buffer.alloc(16)))).status).toBe(200);
    const rows = await rowsOf(dave.accountId);
    expect(rows.map((r) => [r.source_account_id, r.source_device_id])).toEqual([[null, null]]);
  });

  it('should switch between "contacts" and "anyone" on the owner\'s word only, read back by all its devices', async () => {
    const { device: hana, accessKey } = await withKey();
    const hana2 = await link(hana);
    const setting = async (device: TestDevice) =>
      (await device.request<{ unrestrictedUnidentifiedAccess: boolean }>('GET', '/v1/accounts/attributes')).body;
    /** A stranger's try: no key of hers, so the "unrestricted" one of 16 zero bytes (what clients send then). */
    const strangerTry = () => sealedSend(hana.accountId, sealedBody([hana, hana2]), b64(Buffer.alloc(16)));
    const withHerKey = () => sealedSend(hana.accountId, sealedBody([hana, hana2]), b64(accessKey));

    // Default: contacts only. The stranger is refused and nothing is stored; her contacts get through.
    expect(await setting(hana)).toEqual({ unrestrictedUnidentifiedAccess: false });
    expect(await setting(hana2)).toEqual({ unrestrictedUnidentifiedAccess: false });
    expect((await request(server, 'GET', '/v1/accounts/attributes')).status).toBe(401);
    const refused = await strangerTry();
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'unidentified_access_denied' });
    expect(await rowsOf(hana.accountId)).toEqual([]);
    expect((await withHerKey()).status).toBe(200);

    // Someone else's attribute call changes only their own account: there is no way to name hers.
    const ivan = await register(server);
    expect(
      (await ivan.request('PUT', '/v1/accounts/attributes', { unrestrictedUnidentifiedAccess: true })).status,
    ).toBe(204);
    expect(
      (await ivan.request('PUT', `/v1/accounts/attributes?accountId=${hana.accountId}`, { accountId: hana.accountId }))
        .status,
    ).toBe(400);
    expect(await setting(hana)).toEqual({ unrestrictedUnidentifiedAccess: false });
    expect((await strangerTry()).status).toBe(401);

    // Her second device opens up: both devices read "anyone", the stranger's sealed send is stored with no sender.
    expect(
      (await hana2.request('PUT', '/v1/accounts/attributes', { unrestrictedUnidentifiedAccess: true })).status,
    ).toBe(204);
    expect(await setting(hana)).toEqual({ unrestrictedUnidentifiedAccess: true });
    expect((await strangerTry()).status).toBe(200);
    expect((await withHerKey()).status).toBe(200);
    const open = await rowsOf(hana.accountId);
    expect(open).toHaveLength(6);
    expect(open.every((r) => r.source_account_id === null && r.source_device_id === null)).toBe(true);
    expect(open.some((r) => mentions(r.row, ivan.accountId))).toBe(false);

    // Back to contacts: refused again at once, and a new access key leaves the setting as it is.
    expect(
      (await hana.request('PUT', '/v1/accounts/attributes', { unrestrictedUnidentifiedAccess: false })).status,
    ).toBe(204);
    expect((await strangerTry()).status).toBe(401);
    expect(
      (await hana.request('PUT', '/v1/accounts/attributes', { unidentifiedAccessKey: b64(accessKey) })).status,
    ).toBe(204);
    expect(await setting(hana2)).toEqual({ unrestrictedUnidentifiedAccess: false });
    expect(await rowsOf(hana.accountId)).toHaveLength(6);
  });

  it(`should fan a sealed v2 message out to ${MEMBERS} members in one request, storing the ciphertext once`, async () => {
    const members = await Promise.all(Array.from({ length: MEMBERS }, () => withKey()));
    const second = await link(members[0]!.device);
    const accounts = members.map((m, i) => (i === 0 ? [m.device, second] : [m.device]));
    const combined = Buffer.alloc(16);
    for (const m of members) m.accessKey.forEach((byte, i) => (combined[i] = (combined[i] as number) ^ byte));
    const shared = randomBytes(32 + 300);
    const { bytes, material } = multiRecipientMessage(accounts, shared);
    const send = (key: Buffer, message = bytes) =>
      request(
        server,
        'PUT',
        '/v1/messages/multi',
        { type: 'unidentified-sender', content: b64(message), timestamp: Date.now() },
        { 'unidentified-access-key': b64(key) },
      );

    const wrong = await send(randomBytes(16));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('unidentified_access_denied');
    /** One recipient's key left out of the XOR: refused too. */
    const partial = Buffer.from(combined);
    members[1]!.accessKey.forEach((byte, i) => (partial[i] = (partial[i] as number) ^ byte));
    expect((await send(partial)).status).toBe(401);
    const garbage = await send(combined, randomBytes(200));
    expect(garbage.status).toBe(400);
    const missingDevice = await send(
      combined,
      multiRecipientMessage(
        accounts.map((a) => a.slice(0, 1)),
        shared,
      ).bytes,
    );
    expect(missingDevice.status).toBe(409);
    expect(missingDevice.body.accounts).toEqual([
      {
        accountId: members[0]!.device.accountId,
        missingDevices: [second.deviceId],
        extraDevices: [],
        staleDevices: [],
      },
    ]);
    const stranger = new TestDevice(server, '00000000-0000-4000-8000-000000000000', 1, '', 1, second.identity);
    const unknown = await send(combined, multiRecipientMessage([...accounts, [stranger]], shared).bytes);
    expect(unknown.status).toBe(404);
    expect(unknown.body.accounts).toEqual([{ accountId: stranger.accountId }]);

    const accepted = await send(combined);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ serverTimestamp: expect.any(Number), stored: MEMBERS + 1 });

    const rows = await server.query<{ account_id: string; payload_id: string; own: number; src: string | null }>(
      `SELECT account_id::text, payload_id::text, octet_length(content)::int AS own,
              coalesce(source_account_id::text, source_device_id::text) AS src
       FROM envelopes WHERE account_id = ANY(string_to_array($1::text, ',')::uuid[])`,
      [members.map((m) => m.device.accountId).join(',')],
    );
    expect(rows).toHaveLength(MEMBERS + 1);
    expect(new Set(rows.map((r) => r.payload_id)).size).toBe(1);
    expect(rows.every((r) => r.own === 49 && r.src === null)).toBe(true);
    const [payload] = await server.query<{ bytes: number }>(
      'SELECT octet_length(content)::int AS bytes FROM shared_payloads WHERE id = $1::bigint',
      [rows[0]?.payload_id],
    );
    expect(payload?.bytes).toBe(shared.length);

    /** Each device gets its recipient's received form: 0x22, its 48 key bytes, the shared part. */
    for (const device of [members[0]!.device, second, members[7]!.device, members[MEMBERS - 1]!.device]) {
      const [envelope] = (await device.request('GET', '/v1/messages')).body.envelopes;
      expect(envelope).toEqual({
        guid: expect.any(String),
        type: 'unidentified-sender',
        timestamp: expect.any(Number),
        serverTimestamp: accepted.body.serverTimestamp,
        content: b64(Buffer.concat([Buffer.from([0x22]), material.get(device.accountId) as Buffer, shared])),
      });
    }
  }, 120_000);
});

/** The per-recipient limit of sealed sends (every address together), on a server with rate limits on. */
describe('sealed sender rate limits', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('postgres', {
      RATE_LIMITS: 'on',
      RATE_LIMIT_SEALED_SENDS_PER_RECIPIENT: `${SEALED_PER_RECIPIENT}/1h`,
    });
  }, 180_000);

  afterAll(async () => {
    await server.close();
  });

  it('should limit sealed sends per recipient without knowing who sends them', async () => {
    const erin = await register(server);
    const accessKey = randomBytes(16);
    expect(
      (await erin.request('PUT', '/v1/accounts/attributes', { unidentifiedAccessKey: b64(accessKey) })).status,
    ).toBe(204);
    const sealedSend = () =>
      request(server, 'PUT', `/v1/messages/${erin.accountId}`, sealedBody([erin]), {
        'unidentified-access-key': b64(accessKey),
      });
    const statuses: number[] = [];
    for (let i = 0; i < SEALED_PER_RECIPIENT + 2; i++) statuses.push((await sealedSend()).status);
    expect(statuses.slice(0, SEALED_PER_RECIPIENT)).toEqual(Array(SEALED_PER_RECIPIENT).fill(200));
    expect(statuses.slice(SEALED_PER_RECIPIENT)).toEqual([429, 429]);
    const refused = await sealedSend();
    expect(refused.body.error).toBe('rate_limited');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    const [stored] = await server.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1::uuid',
      [erin.accountId],
    );
    expect(stored?.n).toBe(SEALED_PER_RECIPIENT);
  });
});
