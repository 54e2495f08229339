/**
 * The conversation-id migration on a real CLI data directory written by the build that keyed conversations by the
 * peer's account id (fixtures/cli-data-v1, see fixtures/README.md): opening it keeps every conversation, message,
 * receipt status, quote and disappearing timer (the same records under `direct:<peer>` ids), lookups by author and
 * timestamp still find each message, the expiry sweep still deletes the disappearing message when its time comes,
 * and sending continues in the same conversation. A migration that fails half-way changes nothing and runs again.
 * Offline: the network refuses every request.
 */
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from '@jest/globals';

import { History } from '../src/history.js';
import { Messenger } from '../src/messenger.js';
import type { Clock, HttpTransport, KeyValueStorage, TimerHandle } from '../src/platform.js';
import type { ConversationEntry, MessageEntry } from '../src/tables.js';
import { directConversationId, metaKeys } from '../src/tables.js';
import { STORAGE_LAYOUT, migrateStorage, storedLayout } from '../src/storage-migrations.js';
import { FileStorage } from '../src/node/file-storage.js';
import { createNodePlatform, createStderrLogger } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';

type Expected = {
  createdAt: number;
  accountId: string;
  username: string;
  outbox: number;
  conversations: ConversationEntry[];
  messages: Record<string, MessageEntry[]>;
};

const FIXTURE = new URL('./fixtures/cli-data-v1/', import.meta.url).pathname;
const expected = JSON.parse(
  readFileSync(new URL('./fixtures/cli-data-v1.expected.json', import.meta.url), 'utf8'),
) as Expected;

/** What layout 1 stored, as layout 2 holds it: the same records under the conversation's own id. */
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

const fixedClock = (start: number): Clock & { set(ms: number): void } => {
  let now = start;
  return {
    now: () => now,
    setTimeout: (): TimerHandle => ({ id: null }),
    clearTimeout: () => undefined,
    set: (ms) => (now = ms),
  };
};
const offline: HttpTransport = { request: () => Promise.reject(new Error('connect ECONNREFUSED')) };

const dirs: string[] = [];
const open: { messenger?: Messenger; platform: NodePlatform }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.messenger?.close();
    await o.platform.close();
  }
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function copyFixture(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-migration-'));
  dirs.push(dir);
  await fs.cp(FIXTURE, dir, { recursive: true });
  return dir;
}

async function openMessenger(
  dir: string,
  clock = fixedClock(expected.createdAt),
): Promise<{ messenger: Messenger; platform: NodePlatform }> {
  const platform = await createNodePlatform({
    dataDir: dir,
    http: offline,
    clock,
    logger: createStderrLogger('silent'),
  });
  const handle: { messenger?: Messenger; platform: NodePlatform } = { platform };
  open.push(handle);
  const messenger = await Messenger.open(platform);
  handle.messenger = messenger;
  return { messenger, platform };
}

async function history(messenger: Messenger): Promise<Record<string, MessageEntry[]>> {
  const out: Record<string, MessageEntry[]> = {};
  for (const c of await messenger.conversations())
    out[c.id] = (await messenger.messages(c.id, { limit: 500 })).messages.reverse();
  return out;
}

/** Every record of the core's tables, for comparing whole stores. */
async function dump(storage: KeyValueStorage): Promise<string> {
  const tables = ['meta', 'conversations', 'messages', 'messageIndex', 'outbox', 'resendLog', 'contacts'] as const;
  const out: Record<string, unknown> = {};
  for (const table of tables) out[table] = await storage.list(table);
  return JSON.stringify(out, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
}

describe('conversation-id migration of a CLI data directory', () => {
  it('should keep every conversation, message, receipt status, quote and timer under the new ids', async () => {
    const dir = await copyFixture();
    const { messenger, platform } = await openMessenger(dir);
    expect(await storedLayout(platform.storage)).toBe(STORAGE_LAYOUT);
    expect((await messenger.account()).accountId).toBe(expected.accountId);

    expect(await messenger.conversations()).toEqual(expected.conversations.map(migratedConversation));
    const migrated = Object.fromEntries(
      Object.values(expected.messages).map((list) => [direct(list[0]!.conversationId), list.map(migratedMessage)]),
    );
    expect(await history(messenger)).toEqual(migrated);
    // Old names for the conversations keep working: the peer's account id and its username.
    const bob = expected.conversations.find((c) => c.peerUsername?.startsWith('bob_'))!;
    expect((await messenger.messages(bob.peerAccountId, { limit: 500 })).messages).toHaveLength(4);
    expect((await messenger.messages(bob.peerUsername!, { limit: 500 })).messages).toHaveLength(4);

    // The read receipts, the quote and the timer are those the old build stored.
    const withBob = migrated[direct(bob.peerAccountId)]!;
    expect(withBob.map((m) => [m.direction, m.status])).toEqual([
      ['outgoing', 'read'],
      ['incoming', 'received'],
      ['outgoing', 'delivered'],
      ['incoming', 'received'],
    ]);
    expect(withBob[2]!.expireTimerSeconds).toBe(365 * 24 * 3600);
    expect(withBob[3]!.quote).toEqual({
      timestamp: withBob[2]!.timestamp,
      authorAccountId: expected.accountId,
      text: withBob[2]!.text,
    });

    // Every message is found again by conversation, author and timestamp (receipts, retries and dedupe use this).
    const lookup = new History(platform.storage, () => expected.createdAt);
    for (const c of await messenger.conversations())
      for (const m of (await messenger.messages(c.id, { limit: 500 })).messages)
        expect(await lookup.findByTimestamp(c.id, m.authorAccountId, m.timestamp)).toEqual(m);
  });

  it('should run once: a second open changes nothing', async () => {
    const dir = await copyFixture();
    const first = await openMessenger(dir);
    const before = await dump(first.platform.storage);
    // The account from before profiles got its profile key (32 random bytes) in the migration.
    const own = await first.platform.storage.get('meta', metaKeys.ownProfile);
    expect((own as { profileKey: Uint8Array }).profileKey).toHaveLength(32);
    expect(await migrateStorage(first.platform.storage)).toEqual([]);
    await first.messenger.close();
    await first.platform.close();
    open.length = 0;
    const second = await openMessenger(dir);
    expect(await dump(second.platform.storage)).toBe(before);
  });

  it('should change nothing when its commit fails, and migrate on the next open', async () => {
    const dir = await copyFixture();
    const storage = await FileStorage.open(dir);
    const pristine = await dump(storage);
    const failing: KeyValueStorage = {
      get: storage.get.bind(storage),
      list: storage.list.bind(storage),
      count: storage.count.bind(storage),
      commit: () => Promise.reject(new Error('disk full')),
      close: () => storage.close(),
    };
    await expect(migrateStorage(failing)).rejects.toThrow('disk full');
    expect(await dump(storage)).toBe(pristine);
    expect(await storage.get('meta', metaKeys.storageLayout)).toBeUndefined();
    await storage.close();

    const { messenger } = await openMessenger(dir);
    expect(await messenger.conversations()).toEqual(expected.conversations.map(migratedConversation));
  });

  it('should still delete the disappearing message when its timer runs out', async () => {
    const dir = await copyFixture();
    const clock = fixedClock(expected.createdAt);
    const { messenger } = await openMessenger(dir, clock);
    const bob = expected.conversations.find((c) => c.peerUsername?.startsWith('bob_'))!;
    const vanishing = expected.messages[bob.peerAccountId]!.find((m) => m.expireTimerSeconds)!;
    const events: unknown[] = [];
    messenger.subscribe((event) => events.push(event));
    clock.set(vanishing.storedAt + vanishing.expireTimerSeconds! * 1000);
    expect(await messenger.sweepExpired()).toBe(1);
    expect(events).toContainEqual({
      type: 'message-removed',
      conversationId: directConversationId(bob.peerAccountId),
      messageId: direct(vanishing.id),
    });
    expect((await messenger.messages(bob.peerAccountId, { limit: 500 })).messages).toHaveLength(3);
  });

  it('should keep sending in the same conversation', async () => {
    const dir = await copyFixture();
    const { messenger } = await openMessenger(dir);
    const bob = expected.conversations.find((c) => c.peerUsername?.startsWith('bob_'))!;
    const sent = await messenger.sendText(bob.peerUsername!, 'after the migration');
    expect(sent).toMatchObject({ conversationId: directConversationId(bob.peerAccountId), status: 'sending' });
    const page = await messenger.messages(bob.peerAccountId, { limit: 500 });
    expect(page.messages.map((m) => m.text)).toEqual([
      'after the migration',
      ...expected.messages[bob.peerAccountId]!.map((m) => m.text).reverse(),
    ]);
    expect(await messenger.outboxSize()).toBe(1);
    const summary = (await messenger.conversations()).find((c) => c.peerAccountId === bob.peerAccountId);
    expect(summary).toMatchObject({ id: directConversationId(bob.peerAccountId), lastMessageKey: sent.id });
    expect(await messenger.markRead(directConversationId(bob.peerAccountId))).toBe(1);
  });
});
