/**
 * Migration of a real profile written by the schema-version-1 build (fixtures/profile-v1.json: readable row keys,
 * one data key, Argon2id at the old "interactive" cost) into keyed-hash rows with a key epoch, on fake-indexeddb:
 * with its passphrase and as a device-key profile. Afterwards the history reads as before (through the PWA's
 * reader and the messenger core), no IndexedDB key or index value shows a username, an account id or a time, and
 * the old Argon2id parameters still unlock until the passphrase is set again.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Messenger, type Platform } from '@cove/client';
import { openDB } from 'idb';
import sodium from 'libsodium-wrappers-sumo';
import { HistoryReader } from '../src/app/history-reader.js';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import { MIGRATIONS, type CoveDatabase, type CoveSchema, type LegacyRow } from '../src/platform/idb/schema.js';
import { AtRestStorage } from '../src/platform/at-rest-storage.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import {
  loadVaultKeys,
  removePassphrase,
  setPassphrase,
  unlockVault,
  vaultMode,
  type VaultKeys,
} from '../src/platform/vault.js';

type Bytes = { $bytes: string };
type Fixture = {
  version: number;
  meta: { key: string; value: Record<string, unknown> }[];
  records: { store: string; key: string; iv: Bytes; data: Bytes }[];
  expected: {
    passphrase: string;
    createdAt: number;
    username: string;
    accountId: string;
    conversations: { peerUsername: string; peerAccountId: string; texts: string[] }[];
  };
};

const fixture = JSON.parse(readFileSync(new URL('./fixtures/profile-v1.json', import.meta.url), 'utf8')) as Fixture;
const bytes = (value: unknown): Uint8Array =>
  value !== null && typeof value === 'object' && '$bytes' in value
    ? new Uint8Array(Buffer.from((value as Bytes).$bytes, 'base64'))
    : (value as Uint8Array);
const revive = (value: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'object' && v !== null ? bytes(v) : v]));

let counter = 0;
const opened: { close(): void }[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

/** Writes the fixture as the version-1 build stored it, with its vault header or the one given. */
async function legacyProfile(header?: Record<string, unknown>): Promise<string> {
  const name = `legacy-${Date.now()}-${counter++}`;
  const db = await openDB<CoveSchema>(name, 1, {
    upgrade(database, _old, _new, tx) {
      MIGRATIONS[0]!(database, tx);
    },
  });
  const tx = db.transaction(['meta', 'records'], 'readwrite');
  for (const { key, value } of fixture.meta)
    void tx.objectStore('meta').put(key === 'vault' && header ? header : revive(value), key);
  for (const r of fixture.records)
    void tx.objectStore('records').put({ store: r.store, key: r.key, iv: bytes(r.iv), data: bytes(r.data) });
  await tx.done;
  db.close();
  return name;
}

/** The fixture's data key, unwrapped in the test as the version-1 build did (Argon2id, then AES-GCM, no AAD). */
async function legacyDataKey(): Promise<Uint8Array> {
  await sodium.ready;
  const header = revive(fixture.meta.find((m) => m.key === 'vault')!.value) as {
    salt: Uint8Array;
    opslimit: number;
    memlimit: number;
    iv: Uint8Array;
    wrapped: Uint8Array;
  };
  const kek = sodium.crypto_pwhash(
    32,
    fixture.expected.passphrase,
    header.salt,
    header.opslimit,
    header.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  const key = await crypto.subtle.importKey('raw', kek as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: header.iv as Uint8Array<ArrayBuffer> },
      key,
      header.wrapped as Uint8Array<ArrayBuffer>,
    ),
  );
}

async function open(name: string): Promise<CoveDatabase> {
  const db = await openCoveDatabase(name);
  opened.push(db);
  return db;
}

/** Everything IndexedDB shows without a key: every primary key and index value, and the meta store. */
async function visible(db: CoveDatabase): Promise<string> {
  const rows = await db.getAll('rows');
  const legacy = await db.getAll('records');
  return JSON.stringify([rows.map((r) => [r.id, r.t, r.p, r.e]), legacy.map((r) => [r.store, r.key])]);
}

/** The history as the app shows it, read with the fixture's clock (its disappearing message has a year to go). */
async function checkHistory(db: CoveDatabase, keys: VaultKeys): Promise<void> {
  const storage = new AtRestStorage(new EncryptedRowStore(db, keys), 'test');
  const reader = new HistoryReader(storage, () => fixture.expected.createdAt);
  expect(await reader.account()).toEqual({
    accountId: fixture.expected.accountId,
    username: fixture.expected.username,
  });
  const ids = await reader.conversations();
  expect(ids.sort()).toEqual(fixture.expected.conversations.map((c) => c.peerAccountId).sort());
  for (const c of fixture.expected.conversations) {
    const page = await reader.messages(c.peerAccountId, { limit: 50 });
    expect(page.map((e) => e.value.text).reverse()).toEqual(c.texts);
    expect((await reader.conversation(c.peerAccountId))?.peerUsername).toBe(c.peerUsername);
  }
  // The messenger core reads the migrated tables as well (account, contacts, identities, history); it needs no
  // network for that, so the network parts of its platform refuse to be used.
  const offline = () => {
    throw new Error('offline in this test');
  };
  const platform: Platform = {
    storage,
    http: { request: () => Promise.reject(new Error('offline in this test')) },
    sockets: { connect: offline },
    clock: {
      now: () => fixture.expected.createdAt,
      setTimeout: (callback, ms) => ({ id: setTimeout(callback, ms) }),
      clearTimeout: (handle) => clearTimeout(handle.id as ReturnType<typeof setTimeout>),
    },
    random: { bytes: (n) => crypto.getRandomValues(new Uint8Array(n)) },
    locks: { withLock: (_name, fn) => fn() },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  };
  const messenger = await Messenger.open(platform);
  expect(messenger.isRegistered).toBe(true);
  expect((await messenger.account()).accountId).toBe(fixture.expected.accountId);
  const dave = fixture.expected.conversations[1]!;
  const identity = await messenger.identity(dave.peerAccountId);
  expect(identity.safetyNumber?.digits).toMatch(/^\d{60}$/);
  await messenger.close();
}

function expectNothingReadable(text: string): void {
  for (const c of fixture.expected.conversations) {
    expect(text).not.toContain(c.peerAccountId);
    expect(text).not.toContain(c.peerAccountId.slice(0, 8));
    expect(text).not.toContain(c.peerUsername);
  }
  expect(text).not.toContain(fixture.expected.accountId.slice(0, 8));
  expect(text).not.toContain(fixture.expected.username);
  // No time of any precision: none of the times the version-1 keys carried (message keys hold the store time in
  // µs, index keys the send time in ms, expiry keys the expiry time) shows, not even its first ten digits.
  const times = fixture.records.flatMap((r) => r.key.match(/\d{10,}/g) ?? []).map((t) => t.replace(/^0+/, ''));
  expect(times.length).toBeGreaterThan(5);
  for (const time of times) expect(text).not.toContain(time.slice(0, 10));
  for (const table of ['messages', 'sessions', 'contacts', 'usernames', 'expiry']) expect(text).not.toContain(table);
}

describe('schema-version-1 profile', () => {
  it('should migrate a passphrase profile on unlock, keep its history, and reveal nothing in its keys', async () => {
    const db = await open(await legacyProfile());
    expect(JSON.stringify(await db.getAll('records'))).toContain(fixture.expected.conversations[0]!.peerAccountId);
    expect(await vaultMode(db)).toBe('passphrase');
    expect(await loadVaultKeys(db)).toBe('locked');
    // The old Argon2id parameters (libsodium "interactive") still unlock.
    const keys = await unlockVault(db, fixture.expected.passphrase);
    expect(keys.epoch).toBe(1);
    expect(await db.count('records')).toBe(0);
    expect(await db.count('rows')).toBe(fixture.records.length);
    const header = (await db.get('meta', 'vault')) as Record<string, unknown>;
    expect(header).toMatchObject({ version: 2, mode: 'passphrase', epoch: 1, opslimit: 2, memlimit: 64 * 1024 * 1024 });
    expect(header).not.toHaveProperty('key');
    await checkHistory(db, keys);
    expectNothingReadable(await visible(db));

    // Unlocking again needs no migration; setting the passphrase again moves it to the new cost.
    const again = await unlockVault(db, fixture.expected.passphrase);
    await checkHistory(db, again);
    const next = await setPassphrase(db, again, 'a brand new passphrase');
    expect(next.epoch).toBe(2);
    expect(await db.get('meta', 'vault')).toMatchObject({ opslimit: 3, memlimit: 96 * 1024 * 1024 });
    await checkHistory(db, await unlockVault(db, 'a brand new passphrase'));
    expectNothingReadable(await visible(db));
  });

  it('should migrate a device-key profile on open, once, even when two contexts open it at the same time', async () => {
    const raw = await legacyDataKey();
    const key = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    const name = await legacyProfile({ version: 1, mode: 'device', key });
    const [a, b] = await Promise.all([open(name), open(name)]);
    const [ka, kb] = await Promise.all([loadVaultKeys(a), loadVaultKeys(b)]);
    expect(ka).not.toBe('locked');
    expect((ka as VaultKeys).epoch).toBe(1);
    expect((kb as VaultKeys).epoch).toBe(1);
    expect(await a.count('records')).toBe(0);
    expect(await a.count('rows')).toBe(fixture.records.length);
    await checkHistory(a, ka as VaultKeys);
    await checkHistory(b, kb as VaultKeys);
    expectNothingReadable(await visible(a));
    // The device profile can then take a passphrase and give it back, keeping its history.
    await setPassphrase(a, ka as VaultKeys, 'correct horse battery');
    await checkHistory(a, await removePassphrase(a, 'correct horse battery'));
  });

  it('should keep the legacy rows untouched by a wrong passphrase', async () => {
    const db = await open(await legacyProfile());
    const before: LegacyRow[] = await db.getAll('records');
    await expect(unlockVault(db, 'not the passphrase')).rejects.toThrow('The passphrase is not correct.');
    expect(await db.getAll('records')).toEqual(before);
    expect(await db.count('rows')).toBe(0);
  });
});
