/**
 * Encrypted profiles and account attributes over HTTP, on PGlite and PostgreSQL: a profile is stored and served as
 * the ciphertext the owner wrote, under the version of its key; another version, account or missing profile is one
 * 404; lengths other than the padded buckets, bad versions and extra fields are 400; nobody writes another account's
 * profile; a new version replaces the old; the sealed-sender attributes land in their columns. Afterwards no table
 * holds the plaintext name or about line in any encoding.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as C from '@cove/crypto';

import { register, request, startServer, type Backend, type TestDevice, type TestServer } from '../support/harness.js';

const NAME = `Ünïcode Nåme ${randomUUID().slice(0, 6)}`;
const ABOUT = `about-canary-${randomUUID().slice(0, 8)}`;
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A profile body as a client writes it: the fields sealed under `key` for `owner`. */
function profileBody(owner: TestDevice, key: Uint8Array, name = NAME, avatar?: Uint8Array) {
  return {
    version: C.profileKeyVersion(key, owner.accountId),
    name: b64(C.encryptProfileField(key, owner.accountId, 'name', utf8(name))),
    about: b64(C.encryptProfileField(key, owner.accountId, 'about', utf8(`\x00${ABOUT}`))),
    ...(avatar ? { avatar: b64(C.encryptProfileField(key, owner.accountId, 'avatar', avatar)) } : {}),
  };
}

describe.each<Backend>(['pglite', 'postgres'])('profiles on %s', (backend) => {
  let server: TestServer;
  let alice: TestDevice;
  let bob: TestDevice;

  beforeAll(async () => {
    server = await startServer(backend);
    alice = await register(server);
    bob = await register(server);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should store ciphertext under its version, serve it to others with that version, and 404 otherwise', async () => {
    const key = C.generateProfileKey();
    const avatar = new Uint8Array(12_345).fill(9);
    const body = profileBody(alice, key, NAME, avatar);
    expect((await alice.request('PUT', '/v1/profile', body)).status).toBe(204);

    const got = await bob.request('GET', `/v1/profile/${alice.accountId.toUpperCase()}/${body.version}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ accountId: alice.accountId, ...body });
    const name = C.decryptProfileField(key, alice.accountId, 'name', Buffer.from(got.body.name, 'base64'));
    expect(new TextDecoder().decode(name)).toBe(NAME);
    expect(C.decryptProfileField(key, alice.accountId, 'avatar', Buffer.from(got.body.avatar, 'base64'))).toEqual(
      avatar,
    );

    // A contact holding another key asks for another version: the same 404 as an unknown account.
    const stale = C.profileKeyVersion(C.generateProfileKey(), alice.accountId);
    const wrong = await bob.request('GET', `/v1/profile/${alice.accountId}/${stale}`);
    expect(wrong.status).toBe(404);
    expect(wrong.body.error).toBe('not_found');
    expect((await bob.request('GET', `/v1/profile/${randomUUID()}/${body.version}`)).status).toBe(404);
    expect((await bob.request('GET', `/v1/profile/${bob.accountId}/${body.version}`)).status).toBe(404);
    expect((await request(server, 'GET', `/v1/profile/${alice.accountId}/${body.version}`)).status).toBe(401);
  });

  it('should replace the profile with a new version, after which the old version is gone', async () => {
    const oldKey = C.generateProfileKey();
    const newKey = C.generateProfileKey();
    const before = profileBody(bob, oldKey, 'Bob');
    expect((await bob.request('PUT', '/v1/profile', before)).status).toBe(204);
    const after = profileBody(bob, newKey, 'Robert');
    expect((await bob.request('PUT', '/v1/profile', after)).status).toBe(204);
    expect((await alice.request('GET', `/v1/profile/${bob.accountId}/${before.version}`)).status).toBe(404);
    const got = await alice.request('GET', `/v1/profile/${bob.accountId}/${after.version}`);
    expect(got.status).toBe(200);
    expect(got.body.avatar).toBeUndefined();
    // Clearing a field is leaving it out.
    expect((await bob.request('PUT', '/v1/profile', { version: after.version })).status).toBe(204);
    expect((await alice.request('GET', `/v1/profile/${bob.accountId}/${after.version}`)).body).toEqual({
      accountId: bob.accountId,
      version: after.version,
    });
  });

  it("should never write another account's profile", async () => {
    const key = C.generateProfileKey();
    const aliceBody = profileBody(alice, key, 'Alice');
    expect((await alice.request('PUT', '/v1/profile', aliceBody)).status).toBe(204);
    // Bob names Alice's account: refused by the schema (no such field), nothing changes.
    const forged = { ...profileBody(alice, key, 'Mallory'), accountId: alice.accountId };
    const res = await bob.request('PUT', '/v1/profile', forged);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    // Bob writing Alice's ciphertext and version writes only his own row, which Alice's key then cannot open.
    expect((await bob.request('PUT', '/v1/profile', aliceBody)).status).toBe(204);
    const alicesRow = await bob.request('GET', `/v1/profile/${alice.accountId}/${aliceBody.version}`);
    expect(alicesRow.body.name).toBe(aliceBody.name);
    const bobsRow = await alice.request('GET', `/v1/profile/${bob.accountId}/${aliceBody.version}`);
    expect(() =>
      C.decryptProfileField(key, bob.accountId, 'name', Buffer.from(bobsRow.body.name as string, 'base64')),
    ).toThrow(C.SignalClientError);
    expect((await request(server, 'PUT', '/v1/profile', aliceBody)).status).toBe(401);
  });

  it('should refuse bad versions, lengths outside the buckets, oversize avatars and unknown fields', async () => {
    const key = C.generateProfileKey();
    const good = profileBody(alice, key);
    const cases: unknown[] = [
      { ...good, version: good.version.toUpperCase() },
      { ...good, version: good.version.slice(1) },
      { ...good, version: 'zz'.repeat(32) },
      { ...good, name: b64(new Uint8Array(96)) },
      { ...good, about: 'not base64!' },
      { ...good, avatar: b64(new Uint8Array(8192 + 34)) },
      // One byte past the largest bucket has the same base64 length: the service's exact check refuses it.
      { ...good, avatar: b64(new Uint8Array(131_072 + 34)) },
      { ...good, plaintextName: 'Alice' },
      { name: good.name },
      'not json',
    ];
    for (const body of cases) {
      const res = await alice.request('PUT', '/v1/profile', body);
      expect([res.status, res.body.error]).toEqual([400, expect.stringMatching(/^(invalid_request|malformed_json)$/)]);
    }
    // Beyond a field's largest bucket is too large, whatever the rest.
    for (const body of [
      { ...good, name: b64(new Uint8Array(1000)) },
      { ...good, avatar: b64(new Uint8Array(300_000)) },
    ]) {
      const res = await alice.request('PUT', '/v1/profile', body);
      expect([res.status, res.body.error]).toEqual([413, 'payload_too_large']);
    }
    expect((await bob.request('GET', `/v1/profile/${alice.accountId}/${'A'.repeat(64)}`)).status).toBe(400);
    expect((await bob.request('GET', `/v1/profile/not-a-uuid/${good.version}`)).status).toBe(400);
  });

  it('should store the unidentified access key and sealed-sender policy as account attributes', async () => {
    const key = C.generateProfileKey();
    const accessKey = C.deriveAccessKey(key);
    const put = await alice.request('PUT', '/v1/accounts/attributes', { unidentifiedAccessKey: b64(accessKey) });
    expect(put.status).toBe(204);
    const rows = await server.query<{ unidentified_access_key: Uint8Array; unrestricted_unidentified_access: boolean }>(
      'SELECT unidentified_access_key, unrestricted_unidentified_access FROM accounts WHERE id = $1',
      [alice.accountId],
    );
    expect(Buffer.from(rows[0]?.unidentified_access_key ?? [])).toEqual(Buffer.from(accessKey));
    expect(rows[0]?.unrestricted_unidentified_access).toBe(false);
    const open = { unidentifiedAccessKey: b64(accessKey), unrestrictedUnidentifiedAccess: true };
    expect((await alice.request('PUT', '/v1/accounts/attributes', open)).status).toBe(204);
    const again = await server.query<{ unrestricted_unidentified_access: boolean }>(
      'SELECT unrestricted_unidentified_access FROM accounts WHERE id = $1',
      [alice.accountId],
    );
    expect(again[0]?.unrestricted_unidentified_access).toBe(true);
    for (const body of [
      { unidentifiedAccessKey: b64(new Uint8Array(15)) },
      { unidentifiedAccessKey: b64(new Uint8Array(32)) },
      { unidentifiedAccessKey: b64(accessKey), unrestrictedUnidentifiedAccess: 'yes' },
      { unidentifiedAccessKey: b64(accessKey), accountId: bob.accountId },
    ]) {
      expect((await alice.request('PUT', '/v1/accounts/attributes', body)).status).toBe(400);
    }
    // One endpoint with sealed sender's: absent fields are left as they are, so an empty body changes nothing.
    expect((await alice.request('PUT', '/v1/accounts/attributes', {})).status).toBe(204);
    const kept = await server.query<{ unidentified_access_key: Uint8Array; unrestricted_unidentified_access: boolean }>(
      'SELECT unidentified_access_key, unrestricted_unidentified_access FROM accounts WHERE id = $1',
      [alice.accountId],
    );
    expect(Buffer.from(kept[0]?.unidentified_access_key ?? [])).toEqual(Buffer.from(accessKey));
    expect(kept[0]?.unrestricted_unidentified_access).toBe(true);
    expect((await request(server, 'PUT', '/v1/accounts/attributes', open)).status).toBe(401);
  });

  it('should keep no plaintext name or about line in any table (canary)', async () => {
    const tables = await server.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const needles = [NAME, ABOUT].flatMap((s) => {
      const bytes = Buffer.from(s, 'utf8');
      return [s, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, '')];
    });
    for (const { table_name } of tables) {
      const rows = await server.query(`SELECT * FROM "${table_name}"`);
      const dump = JSON.stringify(rows, (_k, v: unknown) =>
        v instanceof Uint8Array ? Buffer.from(v).toString('latin1') + Buffer.from(v).toString('hex') : v,
      );
      for (const needle of needles) expect(dump.includes(needle)).toBe(false);
    }
    expect(server.logs.join('\n')).not.toContain(ABOUT);
  });
});
