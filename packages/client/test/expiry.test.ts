/**
 * Expired disappearing messages are gone for every reader at the moment their timer runs out, before any sweep:
 * message pages, single lookups, conversation summaries (unread count, last message) and read receipts. The sweep
 * then deletes them and leaves summaries that agree. A clock the test moves by hand; real storage.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { IdentityKeyPair, ready } from '@cove/crypto';
import { decodeContent } from '@cove/protocol';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import type { MessengerEvent } from '../src/events.js';
import { newConversation, putConversation, putMessage } from '../src/history.js';
import { Messenger } from '../src/messenger.js';
import type { Clock, HttpTransport, TimerHandle } from '../src/platform.js';
import type { AccountRecord, ConversationEntry, MessageEntry, OutboxEntry } from '../src/tables.js';
import { createNodePlatform, createStderrLogger } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';

const ME = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';
const CONVERSATION = `direct:${BOB}`;
const T = 1_800_000_000_000;

const manualClock = (start: number): Clock & { set(ms: number): void } => {
  let now = start;
  return {
    now: () => now,
    setTimeout: (): TimerHandle => ({ id: null }),
    clearTimeout: () => undefined,
    set: (ms) => (now = ms),
  };
};

const incoming = (id: string, storedAt: number, timer: number | null, text: string): MessageEntry => ({
  id: `${CONVERSATION}/${id}`,
  conversationId: CONVERSATION,
  direction: 'incoming',
  authorAccountId: BOB,
  authorDeviceId: 1,
  timestamp: storedAt - 5,
  serverTimestamp: storedAt - 2,
  storedAt,
  text,
  quote: null,
  expireTimerSeconds: timer,
  status: 'received',
  read: false,
  error: null,
});

describe('Expired disappearing messages', () => {
  let dir: string;
  let platform: NodePlatform;
  let messenger: Messenger;
  const clock = manualClock(T);
  const events: MessengerEvent[] = [];
  const stays = incoming('00000000000000001aaaaaa', T - 1000, null, 'this stays');
  const vanishes = incoming('00000000000000002aaaaaa', T, 60, 'this vanishes');

  beforeAll(async () => {
    await ready();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-expiry-'));
    const down: HttpTransport = { request: () => Promise.reject(new Error('connect ECONNREFUSED')) };
    platform = await createNodePlatform({ dataDir: dir, http: down, clock, logger: createStderrLogger('silent') });
    const account: AccountRecord = {
      serverUrl: 'http://127.0.0.1:9',
      accountId: ME,
      deviceId: 1,
      registrationId: 42,
      secret: new Uint8Array(32),
      identityKeyPair: IdentityKeyPair.generate().serialize(),
      createdAt: T - 10_000,
    };
    const conversation: ConversationEntry = {
      ...newConversation(BOB, 'bob', T - 10_000),
      lastMessageAt: T,
      lastMessageKey: vanishes.id,
      unreadCount: 2,
    };
    clock.set(T);
    await platform.storage.commit([
      { op: 'put', table: 'meta', key: 'account', value: account },
      ...putMessage(stays),
      ...putMessage(vanishes),
      putConversation(conversation),
    ]);
    messenger = await Messenger.open(platform);
    events.length = 0;
    messenger.subscribe((event) => events.push(event));
  });

  afterEach(async () => {
    await messenger.close();
    await platform.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('should show a disappearing message until its timer runs out', async () => {
    clock.set(T + 59_999);
    expect((await messenger.messages(BOB)).messages.map((m) => m.text)).toEqual(['this vanishes', 'this stays']);
    expect(await messenger.conversations()).toMatchObject([{ unreadCount: 2, lastMessageKey: vanishes.id }]);
  });

  it('should hide it from every read the moment it expires, before any sweep', async () => {
    clock.set(T + 60_000);
    expect((await messenger.messages(BOB)).messages.map((m) => m.text)).toEqual(['this stays']);
    expect(await messenger.message(vanishes.id)).toBeUndefined();
    // The summary no longer counts it or points at it.
    expect(await messenger.conversations()).toMatchObject([
      { id: CONVERSATION, unreadCount: 1, lastMessageKey: stays.id, lastMessageAt: stays.storedAt },
    ]);
    // Reading the conversation acknowledges only what the user could see.
    expect(await messenger.markRead(BOB)).toBe(1);
    const queued = (await platform.storage.list<OutboxEntry>('outbox')).map((e) => e.value);
    const receipts = queued.filter((e) => e.kind === 'receipt');
    expect(receipts).toMatchObject([{ kind: 'receipt', receiptType: 'read', timestamps: [stays.timestamp] }]);
    // The account's other devices are told up to which message it was read: the one shown, not the expired one.
    const syncs = queued.filter((e) => e.kind === 'sync').map((e) => decodeContent(new Uint8Array(e.content)));
    expect(syncs).toMatchObject([
      { kind: 'sync', sync: { type: 'read', positions: [{ peerAccountId: BOB, timestamp: stays.timestamp }] } },
    ]);
    const shown = JSON.stringify(events);
    expect(shown).not.toContain('this vanishes');
    expect(shown).not.toContain(vanishes.id);
    // It is still on disk until the sweep.
    expect(await platform.storage.get('messages', vanishes.id)).toBeDefined();
  });

  it('should leave summaries that agree once the sweep has deleted it', async () => {
    clock.set(T + 61_000);
    expect(await messenger.sweepExpired()).toBe(1);
    expect(await platform.storage.get('messages', vanishes.id)).toBeUndefined();
    const stored = await platform.storage.get<ConversationEntry>('conversations', CONVERSATION);
    expect(stored).toMatchObject({ unreadCount: 1, lastMessageKey: stays.id, lastMessageAt: stays.storedAt });
    expect(await messenger.conversations()).toEqual([stored]);
    expect(events).toContainEqual({ type: 'message-removed', conversationId: CONVERSATION, messageId: vanishes.id });
    expect(events).toContainEqual({ type: 'conversation-updated', conversation: stored });
  });
});
