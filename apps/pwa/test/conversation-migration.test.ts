/**
 * The messenger core's conversation-id migration on a real browser profile (fixtures/profile-v2.json: the PWA's
 * sealed IndexedDB rows written by the build that keyed conversations by the peer's account id), on fake-indexeddb:
 * once the core has opened it, the conversations, messages, receipt statuses, quote and disappearing timer are the
 * ones stored, under `direct:<peer>` ids, for the core and for the PWA's own reader (by either id); sending goes on
 * in the same conversation; opening again changes nothing. Offline: the network refuses every request.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Messenger, type ConversationEntry, type MessageEntry, type Platform } from '@cove/client';
import { HistoryReader } from '../src/app/history-reader.js';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import type { CoveDatabase, EncryptedRow } from '../src/platform/idb/schema.js';
import { AtRestStorage } from '../src/platform/at-rest-storage.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import { unlockVault } from '../src/platform/vault.js';

type Expected = {
  createdAt: number;
  accountId: string;
  username: string;
  passphrase: string;
  conversations: ConversationEntry[];
  messages: Record<string, MessageEntry[]>;
};
type Fixture = { schemaVersion: number; meta: { key: string; value: unknown }[]; rows: unknown[]; expected: Expected };

const fixture = JSON.parse(readFileSync(new URL('./fixtures/profile-v2.json', import.meta.url), 'utf8')) as Fixture;
const { expected } = fixture;

/** The fixture's `{ $bytes }` values back to bytes, everywhere. */
const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$bytes === 'string') return new Uint8Array(Buffer.from(record.$bytes, 'base64'));
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  }
  return value;
};

const direct = (key: string): string => `direct:${key}`;
const migratedConversation = (c: ConversationEntry): ConversationEntry => ({
  ...c,
  id: direct(c.peerAccountId),
  lastMessageKey: c.lastMessageKey === null ? null : direct(c.lastMessageKey),
});
const migratedMessage = (m: MessageEntry): MessageEntry => ({
  ...m,
  id: direct(m.id),
  conversationId: direct(m.conversationId),
});

let counter = 0;
const opened: CoveDatabase[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

/** The profile exactly as the old build stored it, in a fresh database. */
async function profile(): Promise<CoveDatabase> {
  expect(fixture.schemaVersion).toBe(2);
  const db = await openCoveDatabase(`conversation-migration-${Date.now()}-${counter++}`);
  opened.push(db);
  const tx = db.transaction(['meta', 'rows'], 'readwrite');
  for (const { key, value } of fixture.meta) void tx.objectStore('meta').put(revive(value), key);
  for (const row of fixture.rows) void tx.objectStore('rows').put(revive(row) as EncryptedRow);
  await tx.done;
  return db;
}

const offlinePlatform = (storage: AtRestStorage): Platform => ({
  storage,
  http: { request: () => Promise.reject(new Error('offline in this test')) },
  sockets: {
    connect: () => {
      throw new Error('offline in this test');
    },
  },
  clock: {
    now: () => expected.createdAt,
    setTimeout: (callback, ms) => ({ id: setTimeout(callback, ms) }),
    clearTimeout: (handle) => clearTimeout(handle.id as ReturnType<typeof setTimeout>),
  },
  random: { bytes: (n) => crypto.getRandomValues(new Uint8Array(n)) },
  locks: { withLock: (_name, fn) => fn() },
  logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
});

async function rows(db: CoveDatabase): Promise<string> {
  return JSON.stringify((await db.getAll('rows')).map((r) => [r.id, Array.from(r.data)]));
}

describe('conversation-id migration of a browser profile', () => {
  it('should keep the history, receipts, quote and timer under the new ids, and keep sending', async () => {
    const db = await profile();
    const keys = await unlockVault(db, expected.passphrase);
    const storage = new AtRestStorage(new EncryptedRowStore(db, keys), 'test');
    const messenger = await Messenger.open(offlinePlatform(storage));
    expect((await messenger.account()).accountId).toBe(expected.accountId);

    expect(await messenger.conversations()).toEqual(expected.conversations.map(migratedConversation));
    const [alice] = expected.conversations;
    const stored = expected.messages[alice!.peerAccountId]!.map(migratedMessage);
    const history = (await messenger.messages(direct(alice!.peerAccountId), { limit: 500 })).messages.reverse();
    expect(history).toEqual(stored);
    expect(history.map((m) => [m.direction, m.status, m.read])).toEqual([
      ['incoming', 'received', true],
      ['outgoing', 'read', true],
      ['incoming', 'received', false],
      ['outgoing', 'delivered', true],
    ]);
    expect(history[2]!.expireTimerSeconds).toBe(365 * 24 * 3600);
    expect(history[3]!.quote).toMatchObject({ authorAccountId: alice!.peerAccountId, text: history[2]!.text });

    // The PWA's reader finds the same, by the conversation id or by the peer's account id (older links).
    const reader = new HistoryReader(storage, () => expected.createdAt);
    expect(await reader.conversations()).toEqual([direct(alice!.peerAccountId)]);
    for (const id of [direct(alice!.peerAccountId), alice!.peerAccountId]) {
      expect((await reader.messages(id, { limit: 50 })).map((e) => e.value).reverse()).toEqual(stored);
      expect(await reader.conversation(id)).toEqual(migratedConversation(alice!));
      expect(await reader.trust(id)).toMatchObject({ trust: 'trusted-first-use' });
    }

    const sent = await messenger.sendText(alice!.peerAccountId, 'after the migration');
    expect(sent.conversationId).toBe(direct(alice!.peerAccountId));
    expect((await reader.messages(alice!.peerAccountId, { limit: 1 }))[0]?.value.text).toBe('after the migration');
    expect(await messenger.markRead(direct(alice!.peerAccountId))).toBe(1);
    await messenger.close();
    await storage.close();
  });

  it('should run once: opening again changes no row', async () => {
    const db = await profile();
    const keys = await unlockVault(db, expected.passphrase);
    const storage = new AtRestStorage(new EncryptedRowStore(db, keys), 'test');
    await (await Messenger.open(offlinePlatform(storage))).close();
    const before = await rows(db);
    await (await Messenger.open(offlinePlatform(storage))).close();
    expect(await rows(db)).toBe(before);
    await storage.close();
  });
});
