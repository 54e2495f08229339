/**
 * Per-conversation preferences over the real file storage: mute until a time or for good, at most four pins in the
 * order pinned (also when several changes race), archive that a new message undoes unless muted, and stored values
 * that are not records read as "not set".
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import {
  CHAT_PREFERENCES_PREFIX,
  MAX_PINNED,
  MUTED_FOREVER,
  changeChatPreferences,
  isArchived,
  isMuted,
  readChatPreference,
  readChatPreferences,
} from '../src/chat-preferences.js';
import { FileStorage } from '../src/node/file-storage.js';
import { createMutexLockManager } from '../src/node/node-platform.js';

const HOUR = 3_600_000;

describe('chat preferences', () => {
  let dir: string;
  let storage: FileStorage;
  const locks = createMutexLockManager();

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-chat-prefs-'));
    storage = await FileStorage.open(dir);
  });
  afterEach(async () => {
    await storage.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('should mute until a time, for good, and unmute', async () => {
    const now = 1_000_000;
    await changeChatPreferences(storage, locks, 'direct:a', { kind: 'mute', until: now + HOUR }, now);
    const muted = await readChatPreference(storage, 'direct:a');
    expect(isMuted(muted, now + HOUR - 1)).toBe(true);
    expect(isMuted(muted, now + HOUR)).toBe(false);
    await changeChatPreferences(storage, locks, 'direct:a', { kind: 'mute', until: MUTED_FOREVER }, now);
    expect(isMuted(await readChatPreference(storage, 'direct:a'), now + 10 * 365 * 24 * HOUR)).toBe(true);
    // A time already past mutes nothing; unmuting leaves no row behind.
    await changeChatPreferences(storage, locks, 'direct:a', { kind: 'mute', until: now - 1 }, now);
    expect(await storage.count('meta', { prefix: CHAT_PREFERENCES_PREFIX })).toBe(0);
  });

  it('should keep at most four pins in the order pinned, also when pins race', async () => {
    const ids = ['direct:1', 'direct:2', 'direct:3', 'direct:4', 'direct:5', 'direct:6'];
    // All at once, with the same clock: the lock serializes them and exactly four win.
    const results = await Promise.all(
      ids.map((id) => changeChatPreferences(storage, locks, id, { kind: 'pin', pinned: true }, 5)),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(MAX_PINNED);
    expect(results.filter((r) => r === 'limit')).toHaveLength(2);
    const pinned = [...(await readChatPreferences(storage)).entries()]
      .filter(([, p]) => p.pinnedAt !== null)
      .sort(([, a], [, b]) => a.pinnedAt! - b.pinnedAt!)
      .map(([id]) => id);
    expect(pinned).toEqual(ids.slice(0, MAX_PINNED));
    // Unpinning one frees a place; the newly pinned one goes last.
    await changeChatPreferences(storage, locks, 'direct:2', { kind: 'pin', pinned: false }, 6);
    expect(await changeChatPreferences(storage, locks, 'direct:6', { kind: 'pin', pinned: true }, 6)).toBe('ok');
    const order = [...(await readChatPreferences(storage)).entries()]
      .filter(([, p]) => p.pinnedAt !== null)
      .sort(([, a], [, b]) => a.pinnedAt! - b.pinnedAt!)
      .map(([id]) => id);
    expect(order).toEqual(['direct:1', 'direct:3', 'direct:4', 'direct:6']);
  });

  it('should unarchive on a new message unless muted, and unarchive when pinned', async () => {
    const now = 10;
    const archivedAt = { lastMessageKey: 'direct:a/0000000000000007' };
    await changeChatPreferences(
      storage,
      locks,
      'direct:a',
      { kind: 'archive', archived: true, lastMessageKey: archivedAt.lastMessageKey },
      now,
    );
    const p = await readChatPreference(storage, 'direct:a');
    expect(isArchived(p, archivedAt, now)).toBe(true);
    expect(isArchived(p, { lastMessageKey: 'direct:a/0000000000000008' }, now)).toBe(false);
    // A deleted last message makes an older key the last one: still archived.
    expect(isArchived(p, { lastMessageKey: 'direct:a/0000000000000006' }, now)).toBe(true);
    await changeChatPreferences(storage, locks, 'direct:a', { kind: 'mute', until: MUTED_FOREVER }, now);
    const muted = await readChatPreference(storage, 'direct:a');
    expect(isArchived(muted, { lastMessageKey: 'direct:a/0000000000000009' }, now)).toBe(true);
    // An empty conversation archived: any message brings it back.
    await changeChatPreferences(
      storage,
      locks,
      'direct:b',
      { kind: 'archive', archived: true, lastMessageKey: null },
      now,
    );
    const empty = await readChatPreference(storage, 'direct:b');
    expect(isArchived(empty, { lastMessageKey: null }, now)).toBe(true);
    expect(isArchived(empty, { lastMessageKey: 'direct:b/0000000000000001' }, now)).toBe(false);
    await changeChatPreferences(storage, locks, 'direct:b', { kind: 'pin', pinned: true }, now);
    expect((await readChatPreference(storage, 'direct:b')).archivedAfter).toBeNull();
  });

  it('should read hostile stored values as not set', async () => {
    await storage.commit([
      { op: 'put', table: 'meta', key: `${CHAT_PREFERENCES_PREFIX}direct:x`, value: 'not a record' },
      {
        op: 'put',
        table: 'meta',
        key: `${CHAT_PREFERENCES_PREFIX}direct:y`,
        value: { mutedUntil: -5, pinnedAt: 'soon', archivedAfter: 3 } as never,
      },
    ]);
    const all = await readChatPreferences(storage);
    for (const id of ['direct:x', 'direct:y'])
      expect(all.get(id)).toEqual({ mutedUntil: null, pinnedAt: null, archivedAfter: null });
  });
});
