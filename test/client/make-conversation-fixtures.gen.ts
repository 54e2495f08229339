/**
 * One-off generator of the stored-data fixtures that the conversation-id migration is tested on: a CLI data
 * directory (`packages/client/test/fixtures/cli-data-v1/`, the Node platform's FileStorage) and a browser profile
 * (`apps/pwa/test/fixtures/profile-v2.json`, the PWA's sealed IndexedDB storage on fake-indexeddb, dumped as stored),
 * both written by the build whose conversations are keyed by the peer's account id (core storage layout 1). Alice
 * (CLI) and Bob (browser) talk both ways with read receipts, Alice sends Bob a disappearing message with a one-year
 * timer and Bob quotes her; Carol (a throwaway Node client) writes to Alice once, unread. Each side's history as the
 * core reported it is saved beside its data as `expected`, to be found again after migration with the fixture's
 * clock. One-time prekeys are cut to three of each (the last-resort Kyber prekey kept) to keep the files small. It
 * asserts nothing. Run it (at a commit with storage layout 1) with
 * `node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects e2e --testMatch '**\/make-conversation-fixtures.gen.ts'`.
 */
import 'fake-indexeddb/auto';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, it } from '@jest/globals';
import { Messenger } from '@cove/client';
import type { ConversationEntry, KeyValueStorage, MessageEntry, Platform, WriteOp } from '@cove/client';
import {
  createMutexLockManager,
  createStderrLogger,
  fetchTransport,
  nodeRandom,
  systemClock,
  wsSocketFactory,
} from '@cove/client/node';

import { openCoveDatabase } from '../../apps/pwa/src/platform/idb/database.js';
import { AtRestStorage } from '../../apps/pwa/src/platform/at-rest-storage.js';
import { EncryptedRowStore } from '../../apps/pwa/src/platform/encrypted-row-store.js';
import { loadVaultKeys, setPassphrase } from '../../apps/pwa/src/platform/vault.js';
import type { VaultKeys } from '../../apps/pwa/src/platform/vault.js';
import { destroyClient, newClient, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI_FIXTURE = join(ROOT, 'packages/client/test/fixtures/cli-data-v1');
const PROFILE_FIXTURE = join(ROOT, 'apps/pwa/test/fixtures/profile-v2.json');
const PASSPHRASE = 'fixture passphrase v2';
/** The longest timer the Content codec accepts (one year): the tests read with the fixture's own clock. */
const ONE_YEAR_S = 365 * 24 * 3600;
const KEEP_PREKEYS = 3;

let server: TestServer;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
}, 240_000);

afterAll(async () => {
  for (const c of clients) await destroyClient(c);
  await server?.close();
}, 60_000);

type Bytes = { $bytes: string };
const toJson = (value: unknown): unknown => {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') } satisfies Bytes;
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
};

/** Keeps three one-time EC and three one-time Kyber prekeys (and the last-resort one); deletes the rest. */
async function trimPrekeys(storage: KeyValueStorage): Promise<void> {
  const writes: WriteOp[] = [];
  const pre = await storage.list('preKeys');
  for (const { key } of pre.slice(KEEP_PREKEYS)) writes.push({ op: 'delete', table: 'preKeys', key });
  const kyber = await storage.list<{ lastResort: boolean }>('kyberPreKeys');
  for (const { key } of kyber.filter((e) => !e.value.lastResort).slice(KEEP_PREKEYS))
    writes.push({ op: 'delete', table: 'kyberPreKeys', key });
  await storage.commit(writes);
}

/** Every conversation and its whole history (oldest first), as the core reports them. */
async function snapshot(messenger: Messenger): Promise<{
  conversations: ConversationEntry[];
  messages: Record<string, MessageEntry[]>;
}> {
  const conversations = await messenger.conversations();
  const messages: Record<string, MessageEntry[]> = {};
  for (const c of conversations) {
    const page = await messenger.messages(c.peerAccountId, { limit: 500 });
    messages[c.id] = page.messages.reverse();
  }
  return { conversations, messages };
}

const statusOf = async (messenger: Messenger, peer: string, text: string): Promise<string | undefined> =>
  (await messenger.messages(peer, { limit: 100 })).messages.find((m) => m.text === text)?.status;

it('writes the layout-1 CLI data directory and browser profile', async () => {
  const sfx = Math.random().toString(36).slice(2, 7);
  const alice = await newClient(server.url, `alice_${sfx}`, { oneTimePreKeys: KEEP_PREKEYS });
  const carol = await newClient(server.url, `carol_${sfx}`, { oneTimePreKeys: KEEP_PREKEYS });
  clients.push(alice, carol);

  // Bob: the PWA's storage (sealed rows in IndexedDB), the Node network.
  const db = await openCoveDatabase(`fixture-${sfx}`);
  const keys = (await loadVaultKeys(db)) as VaultKeys;
  let sealed = new AtRestStorage(new EncryptedRowStore(db, keys), 'fixture');
  const platform = (storage: KeyValueStorage): Platform => ({
    storage,
    http: fetchTransport,
    sockets: wsSocketFactory,
    clock: systemClock,
    random: nodeRandom,
    locks: createMutexLockManager(),
    logger: createStderrLogger('error'),
  });
  let bob = await Messenger.open(platform(sealed));
  const bobAccount = await bob.register({
    serverUrl: server.url,
    username: `bob_${sfx}`,
    oneTimePreKeys: KEEP_PREKEYS,
  });

  await Promise.all([alice.messenger.connect(), carol.messenger.connect(), bob.connect()]);
  const bobName = `bob_${sfx}`;
  const aliceName = `alice_${sfx}`;

  await alice.messenger.sendText(bobName, 'Alice one: hello Bob');
  await until('bob got alice one', async () => (await bob.messages(alice.accountId)).messages.length === 1);
  await bob.markRead(alice.accountId);
  await until(
    'alice one read',
    async () => (await statusOf(alice.messenger, bobAccount.accountId, 'Alice one: hello Bob')) === 'read',
  );

  await bob.sendText(aliceName, 'Bob one: hi Alice, 你好');
  await until(
    'alice got bob one',
    async () => (await alice.messenger.messages(bobAccount.accountId)).messages.length === 2,
  );
  await alice.messenger.markRead(bobAccount.accountId);
  await until('bob one read', async () => (await statusOf(bob, alice.accountId, 'Bob one: hi Alice, 你好')) === 'read');

  const vanishing = await alice.messenger.sendText(bobName, 'Alice two: disappearing in a year', {
    expireTimerSeconds: ONE_YEAR_S,
  });
  await until(
    'alice two delivered',
    async () => (await statusOf(alice.messenger, bobAccount.accountId, vanishing.text)) === 'delivered',
  );
  await bob.sendText(aliceName, 'Bob two: quoting you', {
    quote: { timestamp: vanishing.timestamp, authorAccountId: alice.accountId, text: vanishing.text },
  });
  await until(
    'bob two delivered',
    async () => (await statusOf(bob, alice.accountId, 'Bob two: quoting you')) === 'delivered',
  );

  await carol.messenger.sendText(aliceName, 'Carol one: unread');
  await until(
    'carol one delivered',
    async () => (await statusOf(carol.messenger, alice.accountId, 'Carol one: unread')) === 'delivered',
  );
  await until(
    'alice got carol one',
    async () => (await alice.messenger.messages(carol.accountId)).messages.length === 1,
  );

  await Promise.all([alice.messenger.disconnect(), bob.disconnect(), carol.messenger.disconnect()]);
  const createdAt = Date.now();

  // CLI side: trimmed, folded into one snapshot, copied as stored (the lock file left out).
  await trimPrekeys(alice.platform.storage);
  const aliceExpected = {
    createdAt,
    accountId: alice.accountId,
    username: aliceName,
    outbox: await alice.messenger.outboxSize(),
    ...(await snapshot(alice.messenger)),
  };
  await alice.platform.storage.compactNow();
  await alice.messenger.close();
  await alice.platform.close();
  rmSync(CLI_FIXTURE, { recursive: true, force: true });
  mkdirSync(CLI_FIXTURE, { recursive: true });
  for (const name of readdirSync(alice.dataDir))
    if (name.startsWith('state') || name.startsWith('journal'))
      cpSync(join(alice.dataDir, name), join(CLI_FIXTURE, name));
  writeFileSync(
    join(CLI_FIXTURE, '..', 'cli-data-v1.expected.json'),
    `${JSON.stringify(toJson(aliceExpected), null, 1)}\n`,
  );

  // Browser side: trimmed, passphrase set (the header wraps the keys), every IndexedDB row dumped as stored.
  await trimPrekeys(sealed);
  const bobExpected = {
    createdAt,
    accountId: bobAccount.accountId,
    username: bobName,
    passphrase: PASSPHRASE,
    outbox: await bob.outboxSize(),
    ...(await snapshot(bob)),
  };
  await bob.close();
  await sealed.close();
  const rekeyed = await setPassphrase(db, keys, PASSPHRASE);
  sealed = new AtRestStorage(new EncryptedRowStore(db, rekeyed), 'fixture');
  bob = await Messenger.open(platform(sealed));
  await bob.close();
  await sealed.close();
  const meta = await Promise.all(
    (await db.getAllKeys('meta')).map(async (key) => ({ key, value: await db.get('meta', key) })),
  );
  const rows = await db.getAll('rows');
  db.close();
  writeFileSync(
    PROFILE_FIXTURE,
    `${JSON.stringify({ schemaVersion: db.version, meta: toJson(meta), rows: toJson(rows), expected: toJson(bobExpected) })}\n`,
  );
}, 300_000);
