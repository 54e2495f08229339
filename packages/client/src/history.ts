/**
 * Conversation and message history: queries (conversations by recency, a conversation's messages newest first,
 * paged) and the write helpers the inbox and outbox use inside their batches (message statuses only move forward:
 * sending → sent → delivered → read). Every read hides disappearing messages whose timer ran out, before the sweep
 * deletes them: pages and lookups skip them, and conversation summaries neither count them as unread nor point at
 * them as the last message. It does not send or receive anything.
 */
import type { KeyValueStorage, WriteOp } from './platform.js';
import type { ConversationEntry, MessageEntry, MessageStatus } from './tables.js';
import { directConversationId, messageIndexKey, pad } from './tables.js';

/** Largest page a caller may ask for: a screenful many times over, small enough for one IndexedDB cursor pass. */
export const MAX_PAGE_SIZE = 500;

const OUTGOING_RANK: Partial<Record<MessageStatus, number>> = { failed: 0, sending: 1, sent: 2, delivered: 3, read: 4 };

/** Whether moving an outgoing message from `current` to `next` is progress (statuses never go back). */
export const isStatusAdvance = (current: MessageStatus, next: MessageStatus): boolean => {
  const from = OUTGOING_RANK[current];
  const to = OUTGOING_RANK[next];
  if (from === undefined || to === undefined) return false;
  if (current === 'failed') return next === 'sending' || to >= 2;
  return to > from;
};

export type MessagePage = { messages: MessageEntry[]; nextCursor: string | null };

export class History {
  constructor(
    private readonly storage: KeyValueStorage,
    private readonly now: () => number = () => Date.now(),
  ) {}

  private visible(message: MessageEntry): boolean {
    return !isExpired(message, this.now());
  }

  /** Conversations, most recent activity first, with expired messages taken out of their summaries. */
  async conversations(): Promise<ConversationEntry[]> {
    const entries = await this.storage.list('conversations');
    const expired = await dueExpiredMessages(this.storage, this.now());
    const conversations = await Promise.all(
      entries.map(({ value }) => withoutExpired(this.storage, value, expired.get(value.id) ?? [], this.now())),
    );
    return conversations.sort((a, b) => b.lastMessageAt - a.lastMessageAt || (a.id < b.id ? -1 : 1));
  }

  async conversation(id: string): Promise<ConversationEntry | undefined> {
    // Both at once: one storage round trip (on a browser, one IndexedDB transaction) instead of two in a row, on
    // every send and every received message. The expiry index is read even when the row is missing: a small read.
    const [conversation, expired] = await Promise.all([
      this.storage.get('conversations', id),
      dueExpiredMessages(this.storage, this.now()),
    ]);
    if (!conversation) return undefined;
    return withoutExpired(this.storage, conversation, expired.get(id) ?? [], this.now());
  }

  /**
   * A conversation's visible messages newest first, up to `limit` (expired ones are skipped, not counted); pass
   * `nextCursor` back as `before` for the next (older) page.
   */
  async messages(conversationId: string, options: { limit?: number; before?: string } = {}): Promise<MessagePage> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), MAX_PAGE_SIZE);
    const messages: MessageEntry[] = [];
    let after = options.before;
    let more = true;
    while (messages.length < limit && more) {
      const entries = await this.storage.list('messages', {
        prefix: `${conversationId}/`,
        reverse: true,
        limit: limit + 1,
        ...(after === undefined ? {} : { after }),
      });
      more = entries.length > limit;
      for (const { key, value } of entries.slice(0, limit)) {
        after = key;
        if (messages.length === limit) {
          more = true;
          break;
        }
        if (this.visible(value)) messages.push(value);
      }
    }
    return { messages, nextCursor: more ? (messages[messages.length - 1]?.id ?? null) : null };
  }

  async message(id: string): Promise<MessageEntry | undefined> {
    const message = await this.storage.get('messages', id);
    return message && this.visible(message) ? message : undefined;
  }

  /** The message with this author and sender timestamp in a conversation. */
  async findByTimestamp(
    conversationId: string,
    authorAccountId: string,
    timestamp: number,
  ): Promise<MessageEntry | undefined> {
    const key = await this.storage.get('messageIndex', messageIndexKey(conversationId, authorAccountId, timestamp));
    return key === undefined ? undefined : this.message(key);
  }
}

/** Disappearing messages: meta keys "expiry/<expiresAt>/<messageId>", so the due ones come first in key order. */
export const EXPIRY_PREFIX = 'expiry/';

/** When a disappearing message is deleted: its timer runs from when it was stored (sent or received). */
export const expiresAt = (message: MessageEntry): number | null =>
  message.expireTimerSeconds ? message.storedAt + message.expireTimerSeconds * 1000 : null;

/** Whether a disappearing message's timer has run out (it is hidden from every read from then on). */
export const isExpired = (message: MessageEntry, now: number): boolean => {
  const expiry = expiresAt(message);
  return expiry !== null && expiry <= now;
};

/**
 * Messages whose timer has run out but that the sweep has not deleted yet, by conversation, read from the expiry
 * index (due entries come first in key order, so this stops at the first one still running).
 */
export const dueExpiredMessages = async (
  storage: KeyValueStorage,
  now: number,
): Promise<Map<string, MessageEntry[]>> => {
  const due = new Map<string, MessageEntry[]>();
  let after: string | undefined;
  // Small pages: usually the first entry is not due yet (the sweep runs every minute), and reads happen often.
  const pageSize = 20;
  for (;;) {
    const page = await storage.list('meta', {
      prefix: EXPIRY_PREFIX,
      limit: pageSize,
      ...(after === undefined ? {} : { after }),
    });
    for (const { key, value: messageId } of page) {
      if (Number(key.slice(EXPIRY_PREFIX.length, EXPIRY_PREFIX.length + 16)) > now) return due;
      if (typeof messageId !== 'string') continue;
      const message = await storage.get('messages', messageId);
      if (message && isExpired(message, now))
        due.set(message.conversationId, [...(due.get(message.conversationId) ?? []), message]);
    }
    if (page.length < pageSize) return due;
    after = page[page.length - 1]?.key;
  }
};

/**
 * A conversation summary without the given expired messages: they no longer count as unread, and when the last
 * message is one of them the summary points at the newest visible message instead (or at none).
 */
export const withoutExpired = async (
  storage: KeyValueStorage,
  conversation: ConversationEntry,
  expired: MessageEntry[],
  now: number,
): Promise<ConversationEntry> => {
  if (expired.length === 0) return conversation;
  const unread = expired.filter((m) => m.direction === 'incoming' && !m.read && m.status === 'received').length;
  let { lastMessageKey, lastMessageAt } = conversation;
  if (lastMessageKey !== null && expired.some((m) => m.id === lastMessageKey)) {
    let latest: MessageEntry | undefined;
    let after: string | undefined;
    while (!latest) {
      const page = await storage.list('messages', {
        prefix: `${conversation.id}/`,
        reverse: true,
        limit: 50,
        ...(after === undefined ? {} : { after }),
      });
      latest = page.find(({ value }) => !isExpired(value, now) && !expired.some((m) => m.id === value.id))?.value;
      if (page.length < 50) break;
      after = page[page.length - 1]?.key;
    }
    lastMessageKey = latest?.id ?? null;
    lastMessageAt = latest?.storedAt ?? conversation.createdAt;
  }
  return {
    ...conversation,
    unreadCount: Math.max(0, conversation.unreadCount - unread),
    lastMessageKey,
    lastMessageAt,
  };
};

/** Writes a new message, its index entry and, for a disappearing message, its expiry entry. */
export const putMessage = (message: MessageEntry): WriteOp[] => {
  const writes: WriteOp[] = [
    { op: 'put', table: 'messages', key: message.id, value: message },
    {
      op: 'put',
      table: 'messageIndex',
      key: messageIndexKey(message.conversationId, message.authorAccountId, message.timestamp),
      value: message.id,
    },
  ];
  const expiry = expiresAt(message);
  if (expiry !== null)
    writes.push({ op: 'put', table: 'meta', key: `${EXPIRY_PREFIX}${pad(expiry)}/${message.id}`, value: message.id });
  return writes;
};

/** Deletes a message with its index entry (its expiry entry is the sweeper's to delete). */
export const deleteMessage = (message: MessageEntry): WriteOp[] => [
  { op: 'delete', table: 'messages', key: message.id },
  {
    op: 'delete',
    table: 'messageIndex',
    key: messageIndexKey(message.conversationId, message.authorAccountId, message.timestamp),
  },
];

export const putConversation = (conversation: ConversationEntry): WriteOp => ({
  op: 'put',
  table: 'conversations',
  key: conversation.id,
  value: conversation,
});

export const newConversation = (
  peerAccountId: string,
  peerUsername: string | null,
  now: number,
): ConversationEntry => ({
  id: directConversationId(peerAccountId),
  peerAccountId,
  peerUsername,
  createdAt: now,
  lastMessageAt: now,
  lastMessageKey: null,
  unreadCount: 0,
});
