/**
 * Unit tests of the PWA's own history reader over the real encrypted-at-rest storage (fake-indexeddb): disappearing messages
 * whose timer ran out are hidden on read, before any sweep deleted them, and pages are filled past them.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ConversationEntry, MessageEntry } from '@cove/client';
import { HistoryReader } from '../src/app/history-reader.js';
import { toChatMessage } from '../src/app/view-data.js';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import { AtRestStorage } from '../src/platform/at-rest-storage.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import { loadVaultKeys } from '../src/platform/vault.js';

let counter = 0;
const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const handle of opened.splice(0)) await handle.close();
});
const NOW = Date.UTC(2026, 10, 26, 12);

async function storage() {
  const db = await openCoveDatabase(`history-${Date.now()}-${counter++}`);
  const key = await loadVaultKeys(db);
  if (key === 'locked') throw new Error('unexpected lock');
  opened.push(db);
  const kv = new AtRestStorage(new EncryptedRowStore(db, key), 'test');
  // Its commit channel would keep the test process alive.
  opened.push(kv);
  return { db, storage: kv };
}

const message = (seq: number, patch: Partial<MessageEntry> = {}): MessageEntry => ({
  id: `conv/${String(seq).padStart(23, '0')}`,
  conversationId: 'conv',
  direction: 'incoming',
  authorAccountId: 'peer',
  authorDeviceId: 1,
  timestamp: NOW - 60_000 + seq,
  serverTimestamp: null,
  storedAt: NOW - 60_000,
  text: `message ${seq}`,
  quote: null,
  expireTimerSeconds: null,
  status: 'received',
  read: true,
  error: null,
  ...patch,
});

describe(HistoryReader.name, () => {
  it('should hide disappearing messages whose timer ran out, and fill the page from older ones', async () => {
    const { storage: kv } = await storage();
    const messages = [
      message(1),
      message(2),
      message(3, { expireTimerSeconds: 30 }), // stored a minute ago: expired 30 s ago
      message(4, { expireTimerSeconds: 3600 }), // still running
      message(5, { expireTimerSeconds: 10 }),
      message(6, { expireTimerSeconds: 1, storedAt: Number.NaN }), // no valid store time: treated as expired
    ];
    await kv.commit(messages.map((m) => ({ op: 'put', table: 'messages', key: m.id, value: m })));
    const conversation: ConversationEntry = {
      id: 'conv',
      peerAccountId: 'conv',
      peerUsername: 'peer',
      createdAt: NOW,
      lastMessageAt: NOW,
      lastMessageKey: messages[4]!.id,
      unreadCount: 0,
    };
    await kv.commit([{ op: 'put', table: 'conversations', key: 'conv', value: conversation }]);
    const reader = new HistoryReader(kv, () => NOW);

    const firstPage = await reader.messages('conv', { limit: 2 });
    expect(firstPage.map((e) => e.value.text)).toEqual(['message 4', 'message 2']);
    const rest = await reader.messages('conv', { limit: 2, before: firstPage[1]!.key });
    expect(rest.map((e) => e.value.text)).toEqual(['message 1']);
    expect(await reader.message(messages[4]!.id)).toBeUndefined();
    expect(await reader.message(messages[3]!.id)).toMatchObject({ text: 'message 4' });
    // The chat learns when a shown disappearing message goes, to read the page again then.
    expect(toChatMessage(messages[3]!.id, messages[3], 'conv').expiresAt).toBe(NOW - 60_000 + 3_600_000);
    // Before the timers ran out, everything shows.
    const earlier = new HistoryReader(kv, () => NOW - 59_000);
    expect((await earlier.messages('conv', { limit: 10 })).map((e) => e.value.text)).toEqual([
      'message 5',
      'message 4',
      'message 3',
      'message 2',
      'message 1',
    ]);
  });

  it('should name the failures a user can act on, queue_full among them', () => {
    const failed = (error: string) =>
      toChatMessage('c/1', { direction: 'outgoing', status: 'failed', error, text: 'x', timestamp: NOW }, 'c');
    expect(failed('queue_full').failure).toBe('queue_full');
    expect(failed('identity_changed').failure).toBe('identity_changed');
    expect(failed('payload_too_large').failure).toBe('too_long');
    expect(failed('transient').failure).toBeUndefined();
    expect(failed('constructor').failure).toBeUndefined();
    const sent = toChatMessage('c/1', { direction: 'outgoing', status: 'sent', error: 'queue_full' }, 'c');
    expect(sent.failure).toBeUndefined();
  });
});
