/**
 * Message actions: reactions, edits, delete for everyone and for me, forwarding and message info. The rules (pure
 * functions over a stored message) are shared by both directions: what this device does when its user acts
 * (`sendReaction`, `editMessage`, `deleteForEveryone`: the history change and the outbox entry in ONE commit under
 * the peer's lock, then a `message-updated` event) and what the inbox does with the same action from the peer
 * (content-handlers.ts). Only the author may edit or delete for everyone, within MODIFY_WINDOW_MS (receivers allow
 * MODIFY_GRACE_MS more); a message is edited at most MAX_EDITS times and keeps its earlier texts; one reaction per
 * person per message, a newer one replacing the older; a deleted message keeps only a placeholder.
 * Once the server accepts an action, the outbox sends our other devices its transcript (device-sync.ts); an action for a
 * message this device does not have (yet) is ignored, not held.
 */
import {
  MAX_EDITS,
  MAX_TEXT_BYTES,
  MODIFY_GRACE_MS,
  MODIFY_WINDOW_MS,
  encodeContent,
  isReactionEmoji,
} from '@cove/protocol';
import type { Content } from '@cove/protocol';

import { deleteAttachmentBlobs } from './attachments/attachment-blobs.js';
import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { isExpired } from './history.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type { MessageEntry, RecipientReceipts } from './tables.js';
import { directPeerOf, resendLogKey } from './tables.js';

const utf8 = new TextEncoder();

/** A message's reactions with `author`'s replaced (or removed); null when nothing changes (older, duplicate). */
export const withReaction = (
  message: MessageEntry,
  reaction: { authorAccountId: string; emoji: string; timestamp: number; remove: boolean },
): MessageEntry | null => {
  if (message.deletedAt !== undefined || message.status === 'undecryptable') return null;
  const reactions = message.reactions ?? [];
  const current = reactions.find((r) => r.authorAccountId === reaction.authorAccountId);
  // A reaction sent before the one shown (a late or repeated delivery) changes nothing.
  if (current && current.timestamp >= reaction.timestamp) return null;
  if (reaction.remove && !current) return null;
  const others = reactions.filter((r) => r.authorAccountId !== reaction.authorAccountId);
  const next = reaction.remove
    ? others
    : [...others, { authorAccountId: reaction.authorAccountId, emoji: reaction.emoji, timestamp: reaction.timestamp }];
  const updated: MessageEntry = { ...message, reactions: next };
  if (next.length === 0) delete updated.reactions;
  return updated;
};

/** Why an edit or delete for everyone is refused, or null when it may be applied. */
export const modifyRefusal = (
  message: MessageEntry,
  actionTimestamp: number,
  reference: number,
  window: number,
): 'deleted' | 'too_old' | 'stale' | 'placeholder' | null => {
  if (message.status === 'undecryptable') return 'placeholder';
  if (message.deletedAt !== undefined) return 'deleted';
  if (reference - message.timestamp > window) return 'too_old';
  // An action must come after the message it changes, and after the last edit applied (a late or repeated one
  // changes nothing).
  if (actionTimestamp <= message.timestamp || actionTimestamp <= (message.editedAt ?? 0)) return 'stale';
  return null;
};

/** The message with a new text, its previous one kept in `edits`; null when refused. */
export const withEdit = (
  message: MessageEntry,
  edit: { text: string; timestamp: number },
  reference: number,
  window: number,
): MessageEntry | null => {
  if (modifyRefusal(message, edit.timestamp, reference, window) !== null) return null;
  const edits = message.edits ?? [];
  if (edits.length >= MAX_EDITS) return null;
  return {
    ...message,
    text: edit.text,
    edits: [...edits, { text: message.text, timestamp: message.editedAt ?? message.timestamp }],
    editedAt: edit.timestamp,
  };
};

/** The placeholder a deleted message leaves: no text, quote, attachments, reactions or edits; null when refused. */
export const withDeletion = (
  message: MessageEntry,
  deletedAt: number,
  reference: number,
  window: number,
): MessageEntry | null => {
  if (message.status === 'undecryptable' || message.deletedAt !== undefined) return null;
  if (reference - message.timestamp > window) return null;
  if (deletedAt <= message.timestamp) return null;
  const { attachments: _attachments, reactions: _reactions, edits: _edits, editedAt: _editedAt, ...rest } = message;
  return { ...rest, text: '', quote: null, deletedAt };
};

/** Receiver-side window: the sender's plus grace, measured to the server timestamp of the action's envelope. */
export const RECEIVE_MODIFY_WINDOW_MS = MODIFY_WINDOW_MS + MODIFY_GRACE_MS;

/** An outgoing message's receipts with one recipient's delivery or read time recorded (first time only). */
export const withReceipt = (
  message: MessageEntry,
  accountId: string,
  type: 'delivery' | 'read',
  at: number,
): MessageEntry | null => {
  const receipts = message.receipts ?? [];
  const current: RecipientReceipts = receipts.find((r) => r.accountId === accountId) ?? {
    accountId,
    deliveredAt: null,
    readAt: null,
  };
  // A read message was delivered, even when its delivery receipt was lost or comes later.
  const next: RecipientReceipts =
    type === 'read'
      ? { ...current, deliveredAt: current.deliveredAt ?? at, readAt: current.readAt ?? at }
      : { ...current, deliveredAt: current.deliveredAt ?? at };
  if (next.deliveredAt === current.deliveredAt && next.readAt === current.readAt && receipts.includes(current))
    return null;
  return { ...message, receipts: [...receipts.filter((r) => r.accountId !== accountId), next] };
};

/** The stored message and its peer, for an action of this device's user; refuses what cannot be acted on. */
const actionTarget = async (
  ctx: MessengerContext,
  messageId: string,
): Promise<{ message: MessageEntry; peer: string }> => {
  const message = await ctx.history.message(messageId);
  const peer = message ? directPeerOf(message.conversationId) : null;
  if (!message || peer === null || message.status === 'undecryptable')
    throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
  return { message, peer };
};

const encodeAction = (content: Content): Uint8Array => {
  try {
    return encodeContent(content);
  } catch (error) {
    throw new ClientError(ClientErrorCode.InvalidInput, error instanceof Error ? error.message : 'invalid action');
  }
};

/**
 * Commits a user's action: re-reads the message under the peer's lock, lets `change` compute the new row (or refuse
 * with a ClientError), and writes it with the action's outbox entry and any `extra` writes in one batch; then emits
 * `message-updated`. Returns the updated message.
 */
const commitAction = async (
  ctx: MessengerContext,
  messageId: string,
  peer: string,
  build: (message: MessageEntry, timestamp: number) => { updated: MessageEntry; content: Content; extra?: WriteOp[] },
): Promise<{ before: MessageEntry; updated: MessageEntry }> => {
  const result = await ctx.platform.locks.withLock(peerLock(peer), async () => {
    const before = await ctx.history.message(messageId);
    if (!before) throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
    const timestamp = ctx.timestamps.next();
    const { updated, content, extra } = build(before, timestamp);
    const entry = newOutboxEntry(ctx, { destination: peer, kind: 'action', timestamp, content: encodeAction(content) });
    await ctx.platform.storage.commit([
      { op: 'put', table: 'messages', key: updated.id, value: updated },
      ...(extra ?? []),
      putOutboxEntry(entry),
    ]);
    return { before, updated };
  });
  emit(ctx, { type: 'message-updated', message: result.updated });
  return result;
};

/** Reacts to a message with one emoji (replacing this user's earlier reaction), or removes the reaction. */
export const sendReaction = async (
  ctx: MessengerContext,
  messageId: string,
  emoji: string,
  remove = false,
): Promise<MessageEntry> => {
  if (!isReactionEmoji(emoji)) throw new ClientError(ClientErrorCode.InvalidInput, 'a reaction is one emoji');
  const { peer } = await actionTarget(ctx, messageId);
  const me = ctx.account.accountId;
  const { updated } = await commitAction(ctx, messageId, peer, (message, timestamp) => {
    if (message.deletedAt !== undefined) throw new ClientError(ClientErrorCode.InvalidInput, 'the message was deleted');
    const current = message.reactions?.find((r) => r.authorAccountId === me);
    if (remove && !current) throw new ClientError(ClientErrorCode.InvalidInput, 'no reaction to remove');
    const changed = withReaction(message, { authorAccountId: me, emoji, timestamp, remove });
    if (!changed) throw new ClientError(ClientErrorCode.InvalidInput, 'the reaction cannot be applied');
    return {
      updated: changed,
      content: {
        kind: 'reaction',
        reaction: {
          timestamp,
          emoji,
          targetAuthorAccountId: message.authorAccountId,
          targetTimestamp: message.timestamp,
          ...(remove ? { remove: true } : {}),
        },
      },
    };
  });
  return updated;
};

/** The checks every edit and delete for everyone of this user's own message passes. */
const ownModifiable = (ctx: MessengerContext, message: MessageEntry, timestamp: number): void => {
  if (message.direction !== 'outgoing' || message.authorAccountId !== ctx.account.accountId)
    throw new ClientError(ClientErrorCode.InvalidInput, 'only your own messages can be changed for everyone');
  const refusal = modifyRefusal(message, timestamp, ctx.platform.clock.now(), MODIFY_WINDOW_MS);
  if (refusal === 'too_old')
    throw new ClientError(
      ClientErrorCode.InvalidInput,
      'the message is older than 24 hours and can no longer be changed',
    );
  if (refusal !== null)
    throw new ClientError(ClientErrorCode.InvalidInput, `the message cannot be changed (${refusal})`);
};

/** Gives one of this user's messages (sent within 24 hours) a new text; the peer keeps the earlier one as history. */
export const editMessage = async (ctx: MessengerContext, messageId: string, text: string): Promise<MessageEntry> => {
  if (text.length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the message is empty');
  if (utf8.encode(text).length > MAX_TEXT_BYTES)
    throw new ClientError(ClientErrorCode.InvalidInput, `the message is longer than ${MAX_TEXT_BYTES} bytes`);
  const { peer } = await actionTarget(ctx, messageId);
  const { updated } = await commitAction(ctx, messageId, peer, (message, timestamp) => {
    ownModifiable(ctx, message, timestamp);
    if (text === message.text) throw new ClientError(ClientErrorCode.InvalidInput, 'the text did not change');
    if ((message.edits?.length ?? 0) >= MAX_EDITS)
      throw new ClientError(ClientErrorCode.InvalidInput, `a message can be edited at most ${MAX_EDITS} times`);
    const changed = withEdit(message, { text, timestamp }, ctx.platform.clock.now(), MODIFY_WINDOW_MS);
    if (!changed) throw new ClientError(ClientErrorCode.InvalidInput, 'the message cannot be edited');
    return {
      updated: changed,
      content: { kind: 'edit', edit: { timestamp, targetTimestamp: message.timestamp, text } },
    };
  });
  return updated;
};

/**
 * Deletes one of this user's messages (sent within 24 hours) for everyone: here it becomes a placeholder at once
 * (its local attachment blobs deleted, its re-send log entry dropped so a retry request cannot bring it back), and
 * the peer's devices replace it by the same placeholder.
 */
export const deleteForEveryone = async (ctx: MessengerContext, messageId: string): Promise<MessageEntry> => {
  const { peer } = await actionTarget(ctx, messageId);
  const { before, updated } = await commitAction(ctx, messageId, peer, (message, timestamp) => {
    ownModifiable(ctx, message, timestamp);
    const changed = withDeletion(message, timestamp, ctx.platform.clock.now(), MODIFY_WINDOW_MS);
    if (!changed) throw new ClientError(ClientErrorCode.InvalidInput, 'the message cannot be deleted');
    return {
      updated: changed,
      content: { kind: 'delete', delete: { timestamp, targetTimestamp: message.timestamp } },
      extra: [{ op: 'delete', table: 'resendLog', key: resendLogKey(peer, message.timestamp) }],
    };
  });
  await deleteAttachmentBlobs(ctx.platform, before);
  return updated;
};

/** What a message-info screen shows: when it was sent, received, edited, deleted, and per recipient delivered/read. */
export type MessageInfo = {
  id: string;
  direction: 'incoming' | 'outgoing';
  authorAccountId: string;
  /** The sender's send time. */
  sentAt: number;
  /** When the server accepted it (outgoing) or delivered it (incoming); null while unsent. */
  serverTimestamp: number | null;
  /** When this device stored it. */
  storedAt: number;
  status: MessageEntry['status'];
  editedAt: number | null;
  deletedAt: number | null;
  /** Outgoing: each recipient's delivery and read times (server timestamps of their receipts). */
  recipients: (RecipientReceipts & { username: string | null })[];
};

export const messageInfo = async (ctx: MessengerContext, messageId: string): Promise<MessageInfo | null> => {
  const message = await ctx.history.message(messageId);
  if (!message || isExpired(message, ctx.platform.clock.now())) return null;
  const peer = directPeerOf(message.conversationId);
  const recipients: MessageInfo['recipients'] = [];
  if (message.direction === 'outgoing' && peer !== null) {
    const contact = await ctx.platform.storage.get('contacts', peer);
    const receipts = message.receipts?.find((r) => r.accountId === peer);
    recipients.push({
      accountId: peer,
      username: contact?.username ?? null,
      deliveredAt: receipts?.deliveredAt ?? null,
      readAt: receipts?.readAt ?? null,
    });
  }
  return {
    id: message.id,
    direction: message.direction,
    authorAccountId: message.authorAccountId,
    sentAt: message.timestamp,
    serverTimestamp: message.serverTimestamp,
    storedAt: message.storedAt,
    status: message.status,
    editedAt: message.editedAt ?? null,
    deletedAt: message.deletedAt ?? null,
    recipients,
  };
};
