/**
 * How a device takes its siblings' contact and conversation records (device-sync.ts), over the real file storage:
 * a newer record replaces the local state and moves its stamp; an older one (or one of a full sync never changed
 * since) only fills in what is missing and never clears, unblocks or un-verifies; a synced trust applies only to the
 * identity key held here; a deleted conversation goes with its messages.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import type { MessengerContext } from '../src/context.js';
import { decodeContent } from '@cove/protocol';

import { applyContactRecords, applyConversationRecords, fullSyncWrites } from '../src/device-sync.js';
import { History, newConversation, putConversation, putMessage } from '../src/history.js';
import { newNoticesConversation } from '../src/notices.js';
import { FileStorage } from '../src/node/file-storage.js';
import type { IdentityEntry, MessageEntry, OutboxEntry } from '../src/tables.js';

const ME = '7a0d3c1e-5b2f-4e6a-9c8d-1f2e3d4c5b6a';
const BOB = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';
const NOW = 1_764_000_000_000;

/** A serialized identity key: the 0x05 type byte and 32 bytes (any bytes deserialize as an X25519 public key). */
const identityKey = (fill: number): Uint8Array => Uint8Array.from([5, ...new Array<number>(32).fill(fill)]);

describe('device sync records', () => {
  let dir: string;
  let storage: FileStorage;
  let ctx: MessengerContext;

  const apply = async (records: Parameters<typeof applyContactRecords>[1]): Promise<void> => {
    await storage.commit((await applyContactRecords(ctx, records)).writes);
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-device-sync-'));
    storage = await FileStorage.open(dir);
    // Only what the record handlers read: storage, the clock, the account and the history.
    ctx = {
      platform: { storage, clock: { now: () => NOW } },
      account: { accountId: ME, deviceId: 2 },
      history: new History(storage, () => NOW),
    } as unknown as MessengerContext;
    const identity: IdentityEntry = {
      publicKey: identityKey(1),
      trust: 'trusted-first-use',
      firstSeenAt: 0,
      changedAt: null,
      blocked: false,
    };
    await storage.commit([
      {
        op: 'put',
        table: 'contacts',
        key: BOB,
        value: { accountId: BOB, username: 'bob', devices: null, updatedAt: 0, nickname: 'Mine' },
      },
      { op: 'put', table: 'identities', key: BOB, value: identity },
      { op: 'put', table: 'meta', key: `sync/contact/${BOB}`, value: NOW - 1000 },
    ]);
  });
  afterEach(async () => {
    await storage.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('should keep a newer local change against an older record, and take a newer record', async () => {
    await apply([
      {
        accountId: BOB,
        nickname: 'Old',
        trust: 'verified',
        blocked: true,
        identityKey: identityKey(1),
        updatedAt: NOW - 2000,
      },
    ]);
    expect((await storage.get('contacts', BOB))?.nickname).toBe('Mine');
    expect((await storage.get('contacts', BOB))?.blockedAt).toBeUndefined();
    expect((await storage.get('identities', BOB))?.trust).toBe('trusted-first-use');

    await apply([
      {
        accountId: BOB,
        nickname: 'New',
        trust: 'verified',
        blocked: true,
        identityKey: identityKey(1),
        updatedAt: NOW - 500,
      },
    ]);
    const contact = await storage.get('contacts', BOB);
    expect(contact?.nickname).toBe('New');
    expect(contact?.blockedAt).toBe(NOW - 500);
    expect((await storage.get('identities', BOB))?.trust).toBe('verified');
    expect(await storage.get('meta', `sync/contact/${BOB}`)).toBe(NOW - 500);

    // Unblocking and removing the nickname travel as a newer record too.
    await apply([{ accountId: BOB, trust: 'verified', blocked: false, updatedAt: NOW - 100 }]);
    expect((await storage.get('contacts', BOB))?.blockedAt).toBeUndefined();
    expect((await storage.get('contacts', BOB))?.nickname).toBeUndefined();
  });

  it('should apply a synced trust only to the key held here, and take a key only where none is held', async () => {
    await apply([{ accountId: BOB, trust: 'verified', blocked: false, identityKey: identityKey(2), updatedAt: NOW }]);
    const identity = await storage.get('identities', BOB);
    expect(identity?.publicKey).toEqual(identityKey(1));
    expect(identity?.trust).toBe('trusted-first-use');

    const carol = 'c0c0c0c0-5b2f-4e6a-9c8d-1f2e3d4c5b6a';
    await apply([
      {
        accountId: carol,
        username: 'carol',
        trust: 'verified',
        blocked: false,
        identityKey: identityKey(3),
        updatedAt: 0,
      },
    ]);
    expect((await storage.get('identities', carol))?.trust).toBe('verified');
    expect(await storage.get('usernames', 'carol')).toBe(carol);
  });

  it('should only fill in from an older record: a missing nickname, never a block', async () => {
    const { nickname: _mine, ...rest } = (await storage.get('contacts', BOB))!;
    await storage.commit([{ op: 'put', table: 'contacts', key: BOB, value: rest }]);
    await apply([{ accountId: BOB, nickname: 'Filled', trust: 'trusted-first-use', blocked: true, updatedAt: 0 }]);
    expect((await storage.get('contacts', BOB))?.nickname).toBe('Filled');
    expect((await storage.get('contacts', BOB))?.blockedAt).toBeUndefined();
  });

  it('should create, update and delete conversations by their records', async () => {
    const id = `direct:${BOB}`;
    const base = { deleted: false, request: false, mutedForever: false, archived: false };
    // Unknown here: created, even from a record never changed (a full sync).
    await storage.commit(
      (await applyConversationRecords(ctx, [{ ...base, peerAccountId: BOB, request: true, updatedAt: 0 }])).writes,
    );
    expect((await storage.get('conversations', id))?.request).toBe(true);
    // Known here and not newer: left alone.
    await storage.commit(
      (await applyConversationRecords(ctx, [{ ...base, peerAccountId: BOB, pinnedAt: 5, updatedAt: 0 }])).writes,
    );
    expect((await storage.get('conversations', id))?.request).toBe(true);
    expect(await storage.get('meta', `chat/${id}`)).toBeUndefined();
    // Newer: accepted, muted for good, pinned.
    await storage.commit(
      (
        await applyConversationRecords(ctx, [
          { ...base, peerAccountId: BOB, mutedForever: true, pinnedAt: 5, updatedAt: NOW },
        ])
      ).writes,
    );
    expect((await storage.get('conversations', id))?.request).toBeUndefined();
    expect(await storage.get('meta', `chat/${id}`)).toMatchObject({ mutedUntil: Number.MAX_SAFE_INTEGER, pinnedAt: 5 });

    const message: MessageEntry = {
      id: `${id}/0001`,
      conversationId: id,
      direction: 'incoming',
      authorAccountId: BOB,
      authorDeviceId: 1,
      timestamp: NOW - 10,
      serverTimestamp: NOW - 9,
      storedAt: NOW - 8,
      text: 'gone soon',
      quote: null,
      expireTimerSeconds: null,
      status: 'received',
      read: true,
      error: null,
    };
    await storage.commit([
      ...putMessage(message),
      putConversation({ ...newConversation(BOB, 'bob', NOW), lastMessageKey: message.id }),
    ]);
    // An older delete does nothing; a newer one takes the conversation, its messages and its settings.
    const old = await applyConversationRecords(ctx, [
      { ...base, peerAccountId: BOB, deleted: true, updatedAt: NOW - 1 },
    ]);
    expect(old.writes).toHaveLength(0);
    const applied = await applyConversationRecords(ctx, [
      { ...base, peerAccountId: BOB, deleted: true, updatedAt: NOW + 1 },
    ]);
    await storage.commit(applied.writes);
    expect(await storage.get('conversations', id)).toBeUndefined();
    expect(await storage.get('messages', message.id)).toBeUndefined();
    expect(await storage.get('meta', `chat/${id}`)).toBeUndefined();
    expect(applied.events).toContainEqual({ type: 'conversation-removed', conversationId: id });
  });

  it('should leave the organization notices conversation out of a full sync', async () => {
    let next = 0;
    const withSequence = {
      ...ctx,
      sequencer: { next: () => `e${(next += 1)}` },
      timestamps: { next: () => NOW + next },
    } as unknown as MessengerContext;
    await storage.commit([
      putConversation(newNoticesConversation(NOW)),
      putConversation(newConversation(BOB, 'bob', NOW)),
    ]);
    const synced = (await fullSyncWrites(withSequence))
      .filter((w) => w.op === 'put' && w.table === 'outbox')
      .map((w) => decodeContent((w as { value: OutboxEntry }).value.content))
      .flatMap((c) => (c.kind === 'sync' && c.sync.type === 'conversations' ? c.sync.conversations : []));
    expect(synced.map((r) => r.peerAccountId)).toEqual([BOB]);
  });
});
