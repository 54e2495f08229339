/**
 * One-off generator of `apps/pwa/test/fixtures/profile-v1.json`: a real PWA profile written by the build whose
 * IndexedDB layout is schema version 1 (row keys readable, one data key, no key epoch). A PWA profile registers,
 * chats with two Node clients (one disappearing message with a one-year timer), sets a passphrase, and its
 * IndexedDB is dumped as stored (sealed rows and the wrapped vault header), with the plaintext the test expects
 * to find again after migration (one-time prekeys are cut to three of each to keep the file small). It only works against that build (commit 1c6db94 and the branch commits before
 * the schema change): run it there with
 * `node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects e2e --testMatch '**\/make-v1-fixture.gen.ts'`.
 * It asserts nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, it } from '@jest/globals';

import { destroyClient, newClient, texts, until, type TestClient } from '../../support/clients.js';
import {
  ROOT,
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  openChat,
  register,
  send,
  startChat,
  startServer,
  type Profile,
  type TestServer,
} from './harness.js';

const PASSPHRASE = 'fixture passphrase v1';
/** The longest timer the Content codec accepts (one year): the test reads with the fixture's own clock. */
const ONE_YEAR_S = 365 * 24 * 3600;

const TRIM_NOTE =
  'one-time preKeys and kyberPreKeys cut to 3 each (the last-resort Kyber prekey kept) to keep the file small';

type Bytes = { $bytes: string };
type FixtureRow = { store: string; key: string; iv: Bytes; data: Bytes };

/**
 * Keeps three one-time EC and three one-time Kyber prekeys (and the last-resort Kyber prekey): a hundred of each
 * would make the file 900 KB without testing anything more. Opens the rows as the v1 app did, in Node.
 */
async function trimPrekeys(
  rows: FixtureRow[],
  meta: { key: IDBValidKey; value: unknown }[],
  passphrase: string,
): Promise<FixtureRow[]> {
  const { default: sodium } = await import('libsodium-wrappers-sumo');
  await sodium.ready;
  const bytes = (x: Bytes) => new Uint8Array(Buffer.from(x.$bytes, 'base64'));
  const header = meta.find((m) => m.key === 'vault')?.value as {
    salt: Bytes;
    opslimit: number;
    memlimit: number;
    iv: Bytes;
    wrapped: Bytes;
  };
  const kek = sodium.crypto_pwhash(
    32,
    passphrase,
    bytes(header.salt),
    header.opslimit,
    header.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  const subtle = globalThis.crypto.subtle;
  const kekKey = await subtle.importKey('raw', kek as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
  const raw = await subtle.decrypt({ name: 'AES-GCM', iv: bytes(header.iv) }, kekKey, bytes(header.wrapped));
  const dataKey = await subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
  const kept: FixtureRow[] = [];
  const counts: Record<string, number> = { preKeys: 0, kyberPreKeys: 0 };
  for (const row of rows) {
    if (row.store === 'preKeys' || row.store === 'kyberPreKeys') {
      const aad = new TextEncoder().encode(`cove:row:v1\u0000${row.store}\u0000${row.key}`);
      const plain = await subtle.decrypt(
        { name: 'AES-GCM', iv: bytes(row.iv), additionalData: aad },
        dataKey,
        bytes(row.data),
      );
      const value = JSON.parse(new TextDecoder().decode(plain)) as { lastResort?: boolean };
      if (!value.lastResort) {
        if ((counts[row.store] ?? 0) >= 3) continue;
        counts[row.store] = (counts[row.store] ?? 0) + 1;
      }
    }
    kept.push(row);
  }
  return kept;
}

let server: TestServer;
let profile: Profile | undefined;
const clients: TestClient[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, 240_000);

afterAll(async () => {
  for (const c of clients) await destroyClient(c);
  await profile?.close();
  await server?.close();
}, 240_000);

it('writes the schema-v1 fixture profile', async () => {
  const sfx = Math.random().toString(36).slice(2, 7);
  const self = `legacy_${sfx}`;
  profile = await launchProfile('legacy', server.url);
  await register(profile.page, self);
  const carol = await newClient(server.url, `carol_${sfx}`);
  const dave = await newClient(server.url, `dave_${sfx}`);
  clients.push(carol, dave);

  await carol.messenger.connect();
  await dave.messenger.connect();
  await carol.messenger.sendText(self, 'Carol one: hello legacy');
  await carol.messenger.sendText(self, 'Carol two: 你好');
  await dave.messenger.sendText(self, 'Dave one: disappearing in a year', { expireTimerSeconds: ONE_YEAR_S });
  await openChat(profile.page, carol.name);
  await messageWithText(profile.page, 'Carol two: 你好').waitFor({ timeout: UI_TIMEOUT });
  await send(profile.page, 'Legacy to Carol: hi back');
  await startChat(profile.page, dave.name);
  await messageWithText(profile.page, 'Dave one: disappearing in a year').waitFor({ timeout: UI_TIMEOUT });
  await send(profile.page, 'Legacy to Dave: noted');
  const selfId = await carol.messenger.resolve(self);
  await until(
    'carol got the reply',
    async () => (await texts(carol, selfId)).includes('Legacy to Carol: hi back'),
    120_000,
  );
  await until('dave got the reply', async () => (await texts(dave, selfId)).includes('Legacy to Dave: noted'), 120_000);

  await profile.page.goto(`${server.url}/settings`);
  await profile.page.getByTestId('passphrase-input').fill(PASSPHRASE);
  await profile.page.getByTestId('passphrase-confirm-input').fill(PASSPHRASE);
  await profile.page.getByTestId('passphrase-submit').click();
  await profile.page.getByText('Passphrase set.').waitFor({ timeout: UI_TIMEOUT });
  // Leave only a static page open, so nothing writes while the database is read.
  const probe = await profile.context.newPage();
  await probe.goto(`${server.url}/icons/icon-192.png`);
  await profile.page.close();
  const dump = await probe.evaluate(async () => {
    const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('cove');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const all = (store: string) =>
      new Promise<{ keys: IDBValidKey[]; values: unknown[] }>((resolve, reject) => {
        const tx = db.transaction(store, 'readonly');
        const keys = tx.objectStore(store).getAllKeys();
        const values = tx.objectStore(store).getAll();
        tx.oncomplete = () => resolve({ keys: keys.result, values: values.result });
        tx.onerror = () => reject(tx.error ?? new Error('read failed'));
      });
    const meta = await all('meta');
    const records = await all('records');
    const encode = (v: unknown): unknown =>
      v instanceof Uint8Array
        ? { $bytes: b64(v) }
        : Array.isArray(v)
          ? v.map(encode)
          : v !== null && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]))
            : v;
    const version = db.version;
    db.close();
    return {
      version,
      meta: meta.keys.map((k, i) => ({ key: k, value: encode(meta.values[i]) })),
      records: records.values.map(encode),
    };
  });
  const expected = {
    passphrase: PASSPHRASE,
    createdAt: Date.now(),
    username: self,
    accountId: selfId,
    conversations: [
      {
        peerUsername: carol.name,
        peerAccountId: carol.accountId,
        texts: ['Carol one: hello legacy', 'Carol two: 你好', 'Legacy to Carol: hi back'],
      },
      {
        peerUsername: dave.name,
        peerAccountId: dave.accountId,
        texts: ['Dave one: disappearing in a year', 'Legacy to Dave: noted'],
      },
    ],
  };
  const records = await trimPrekeys(dump.records as FixtureRow[], dump.meta, PASSPHRASE);
  const dir = join(ROOT, 'apps/pwa/test/fixtures');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'profile-v1.json'),
    `${JSON.stringify({ ...dump, records, expected, trimmed: TRIM_NOTE })}\n`,
  );
}, 600_000);
