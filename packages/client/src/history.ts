/**
 * Conversation and message history: queries (conversations by recency, a conversation's messages newest first,
 * paged) and the write helpers the inbox and outbox use inside their batches (message statuses only move forward:
 * sending → sent → delivered → read). It does not send or receive anything.
 */
import type { KeyValueStorage, WriteOp } from './platform.js';
import type { ConversationEntry, MessageEntry, MessageStatus } from './records.js';
import { messageIndexKey, pad } from './records.js';

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
    const expiry = expiresAt(message);
    return expiry === null || expiry > this.now();
  }

  /** Conversations, most recent activity first. */
  async conversations(): Promise<ConversationEntry[]> {
    const entries = await this.storage.list<ConversationEntry>('conversations');
    return entries.map((e) => e.value).sort((a, b) => b.lastMessageAt - a.lastMessageAt || (a.id < b.id ? -1 : 1));
  }

  conversation(id: string): Promise<ConversationEntry | undefined> {
    return this.storage.get<ConversationEntry>('conversations', id);
  }

  /** A conversation's messages newest first; pass `nextCursor` back as `before` for the next (older) page. */
  async messages(conversationId: string, options: { limit?: number; before?: string } = {}): Promise<MessagePage> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), MAX_PAGE_SIZE);
    const entries = await this.storage.list<MessageEntry>('messages', {
      prefix: `${conversationId}/`,
      reverse: true,
      limit: limit + 1,
      ...(options.before === undefined ? {} : { after: options.before }),
    });
    const page = entries.slice(0, limit).map((e) => e.value);
    const nextCursor = entries.length > limit ? (page[page.length - 1]?.id ?? null) : null;
    // Expired disappearing messages are hidden even before the sweeper deletes them.
    return { messages: page.filter((m) => this.visible(m)), nextCursor };
  }

  async message(id: string): Promise<MessageEntry | undefined> {
    const message = await this.storage.get<MessageEntry>('messages', id);
    return message && this.visible(message) ? message : undefined;
  }

  /** The message with this author and sender timestamp in a conversation. */
  async findByTimestamp(
    conversationId: string,
    authorAccountId: string,
    timestamp: number,
  ): Promise<MessageEntry | undefined> {
    const key = await this.storage.get<string>(
      'messageIndex',
      messageIndexKey(conversationId, authorAccountId, timestamp),
    );
    return key === undefined ? undefined : this.storage.get<MessageEntry>('messages', key);
  }
}

/** Disappearing messages: meta keys "expiry/<expiresAt>/<messageId>", so the due ones come first in key order. */
export const EXPIRY_PREFIX = 'expiry/';

/** When a disappearing message is deleted: its timer runs from when it was stored (sent or received). */
export const expiresAt = (message: MessageEntry): number | null =>
  message.expireTimerSeconds ? message.storedAt + message.expireTimerSeconds * 1000 : null;

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
  id: peerAccountId,
  peerAccountId,
  peerUsername,
  createdAt: now,
  lastMessageAt: now,
  lastMessageKey: null,
  unreadCount: 0,
});
