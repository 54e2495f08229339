/**
 * The rules of message actions, as pure functions over a stored message: one reaction per person (a newer one
 * replaces, an older or repeated one changes nothing, removal needs one to remove), edits only within the window,
 * newer than the last and at most ten times with the history kept, deletion leaving a placeholder without any
 * content, nothing applied to a placeholder or a deleted message, and receipts recording first delivery and read
 * times. The inbox and the user's actions share these functions (test/client/message-actions.test.ts covers them
 * end to end with real clients).
 */
import { describe, expect, it } from '@jest/globals';

import { MAX_EDITS, MODIFY_WINDOW_MS } from '@cove/protocol';

import { RECEIVE_MODIFY_WINDOW_MS, withDeletion, withEdit, withReaction, withReceipt } from '../src/message-actions.js';
import type { MessageEntry } from '../src/tables.js';

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';
const T = 1_800_000_000_000;

const message = (fields: Partial<MessageEntry> = {}): MessageEntry => ({
  id: `direct:${BOB}/0000000000000001`,
  conversationId: `direct:${BOB}`,
  direction: 'incoming',
  authorAccountId: BOB,
  authorDeviceId: 1,
  timestamp: T,
  serverTimestamp: T + 5,
  storedAt: T + 10,
  text: 'original',
  quote: { timestamp: T - 100, authorAccountId: ALICE, text: 'quoted' },
  expireTimerSeconds: null,
  status: 'received',
  read: true,
  error: null,
  ...fields,
});

describe('Reactions', () => {
  it('should keep one reaction per person, the newest', () => {
    const first = withReaction(message(), { authorAccountId: BOB, emoji: '👍', timestamp: T + 1, remove: false })!;
    const both = withReaction(first, { authorAccountId: ALICE, emoji: '❤️', timestamp: T + 2, remove: false })!;
    const replaced = withReaction(both, { authorAccountId: BOB, emoji: '😂', timestamp: T + 3, remove: false })!;
    expect(replaced.reactions).toEqual([
      { authorAccountId: ALICE, emoji: '❤️', timestamp: T + 2 },
      { authorAccountId: BOB, emoji: '😂', timestamp: T + 3 },
    ]);
    // Late or repeated: the one shown is newer.
    expect(withReaction(replaced, { authorAccountId: BOB, emoji: '👎', timestamp: T + 1, remove: false })).toBeNull();
    expect(withReaction(replaced, { authorAccountId: BOB, emoji: '😂', timestamp: T + 3, remove: false })).toBeNull();
    const removed = withReaction(replaced, { authorAccountId: BOB, emoji: '😂', timestamp: T + 4, remove: true })!;
    expect(removed.reactions).toEqual([{ authorAccountId: ALICE, emoji: '❤️', timestamp: T + 2 }]);
    const none = withReaction(removed, { authorAccountId: ALICE, emoji: '❤️', timestamp: T + 5, remove: true })!;
    expect(none.reactions).toBeUndefined();
    expect(withReaction(none, { authorAccountId: ALICE, emoji: '❤️', timestamp: T + 6, remove: true })).toBeNull();
  });

  it('should not react to a placeholder or a deleted message', () => {
    const r = { authorAccountId: ALICE, emoji: '👍', timestamp: T + 1, remove: false };
    expect(withReaction(message({ status: 'undecryptable' }), r)).toBeNull();
    expect(withReaction(message({ deletedAt: T + 1 }), r)).toBeNull();
  });
});

describe('Edits', () => {
  it('should keep the earlier texts, newest last, up to the limit', () => {
    let current = message();
    for (let i = 1; i <= MAX_EDITS; i += 1) {
      const next = withEdit(current, { text: `edit ${i}`, timestamp: T + i }, T + 1000, MODIFY_WINDOW_MS);
      expect(next).not.toBeNull();
      current = next!;
    }
    expect(current.text).toBe(`edit ${MAX_EDITS}`);
    expect(current.editedAt).toBe(T + MAX_EDITS);
    expect(current.edits?.[0]).toEqual({ text: 'original', timestamp: T });
    expect(current.edits).toHaveLength(MAX_EDITS);
    expect(withEdit(current, { text: 'one more', timestamp: T + 100 }, T + 1000, MODIFY_WINDOW_MS)).toBeNull();
  });

  it('should refuse late, stale, repeated and pre-dated edits, and edits of placeholders or deleted messages', () => {
    const m = message();
    const edit = { text: 'new', timestamp: T + 1 };
    expect(withEdit(m, edit, T + RECEIVE_MODIFY_WINDOW_MS + 1, RECEIVE_MODIFY_WINDOW_MS)).toBeNull();
    expect(withEdit(m, edit, T + RECEIVE_MODIFY_WINDOW_MS, RECEIVE_MODIFY_WINDOW_MS)).not.toBeNull();
    expect(withEdit(m, { text: 'new', timestamp: T }, T + 1, MODIFY_WINDOW_MS)).toBeNull();
    const once = withEdit(m, { text: 'new', timestamp: T + 5 }, T + 10, MODIFY_WINDOW_MS)!;
    expect(withEdit(once, { text: 'again', timestamp: T + 5 }, T + 10, MODIFY_WINDOW_MS)).toBeNull();
    expect(withEdit(once, { text: 'older', timestamp: T + 4 }, T + 10, MODIFY_WINDOW_MS)).toBeNull();
    expect(withEdit(message({ status: 'undecryptable' }), edit, T + 10, MODIFY_WINDOW_MS)).toBeNull();
    expect(withEdit(message({ deletedAt: T + 1 }), edit, T + 10, MODIFY_WINDOW_MS)).toBeNull();
  });
});

describe('Deletion for everyone', () => {
  it('should leave a placeholder without any content', () => {
    const rich = message({
      reactions: [{ authorAccountId: ALICE, emoji: '👍', timestamp: T + 1 }],
      edits: [{ text: 'before', timestamp: T }],
      editedAt: T + 2,
    });
    const deleted = withDeletion(rich, T + 3, T + 10, MODIFY_WINDOW_MS)!;
    expect(deleted).toMatchObject({ text: '', quote: null, deletedAt: T + 3, id: rich.id, timestamp: T });
    for (const gone of ['reactions', 'edits', 'editedAt', 'attachments']) expect(deleted).not.toHaveProperty(gone);
    expect(withDeletion(deleted, T + 4, T + 10, MODIFY_WINDOW_MS)).toBeNull();
  });

  it('should refuse late and pre-dated deletions and placeholders', () => {
    expect(withDeletion(message(), T + 1, T + MODIFY_WINDOW_MS + 1, MODIFY_WINDOW_MS)).toBeNull();
    expect(withDeletion(message(), T, T + 1, MODIFY_WINDOW_MS)).toBeNull();
    expect(withDeletion(message({ status: 'undecryptable' }), T + 1, T + 2, MODIFY_WINDOW_MS)).toBeNull();
  });
});

describe('Receipt times', () => {
  it('should record the first delivery and read times, a read implying delivery', () => {
    const sent = message({ direction: 'outgoing', authorAccountId: ALICE, status: 'sent' });
    const read = withReceipt(sent, BOB, 'read', T + 20)!;
    expect(read.receipts).toEqual([{ accountId: BOB, deliveredAt: T + 20, readAt: T + 20 }]);
    expect(withReceipt(read, BOB, 'delivery', T + 30)).toBeNull();
    expect(withReceipt(read, BOB, 'read', T + 40)).toBeNull();
    const delivered = withReceipt(sent, BOB, 'delivery', T + 15)!;
    expect(withReceipt(delivered, BOB, 'read', T + 25)!.receipts).toEqual([
      { accountId: BOB, deliveredAt: T + 15, readAt: T + 25 },
    ]);
  });
});
