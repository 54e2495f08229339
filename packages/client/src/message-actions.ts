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
import type { Content, GroupContext } from '@cove/protocol';

import { deleteAttachmentBlobs } from './attachments/attachment-blobs.js';
import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { fromHex, groupLock, memberOf } from './groups.js';
import { isExpired } from './history.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type { MessageEntry, RecipientReceipts } from './tables.js';
import { directPeerOf, groupConversationId, groupOf, groupResendLogKey, resendLogKey } from './tables.js';

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

/**
 * Where an action goes: a direct conversation's peer, or a group (sent once with our sender key to every member).
 * `lock` is the lock its history changes take (the peer's, or the group's).
 */
type ActionScope = { kind: 'direct'; peer: string; lock: string } | { kind: 'group'; groupId: string; lock: string };

/**
 * The status a group message of ours has once `receipts` are in: `read` when every member it went to (the current
 * members but us) read it, `delivered` when every one has it, else `sent` (as WhatsApp shows a group message's
 * ticks). Members who left since are not waited for.
 */
export const groupStatusOf = (receipts: RecipientReceipts[], members: string[]): 'sent' | 'delivered' | 'read' => {
  if (members.length === 0) return 'sent';
  const of = (accountId: string): RecipientReceipts | undefined => receipts.find((r) => r.accountId === accountId);
  if (members.every((m) => of(m)?.readAt != null)) return 'read';
  if (members.every((m) => of(m)?.deliveredAt != null)) return 'delivered';
  return 'sent';
};

/** The stored message and where its actions go, for an action of this device's user; refuses what cannot be acted on. */
const actionTarget = async (
  ctx: MessengerContext,
  messageId: string,
): Promise<{ message: MessageEntry; scope: ActionScope }> => {
  const message = await ctx.history.message(messageId);
  if (!message || message.status === 'undecryptable' || message.system !== undefined)
    throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
  const peer = directPeerOf(message.conversationId);
  if (peer !== null) return { message, scope: { kind: 'direct', peer, lock: peerLock(peer) } };
  const groupId = groupOf(message.conversationId);
  if (groupId === null) throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
  return { message, scope: { kind: 'group', groupId, lock: groupLock(groupId) } };
};

const encodeAction = (content: Content): Uint8Array => {
  try {
    return encodeContent(content);
  } catch (error) {
    throw new ClientError(ClientErrorCode.InvalidInput, error instanceof Error ? error.message : 'invalid action');
  }
};

/**
 * The group context an action in a group carries (the revision we hold), read under the group's lock; refuses a
 * group we are no longer in (nobody there would take it). Undefined for a direct conversation.
 */
const groupContextOf = async (ctx: MessengerContext, scope: ActionScope): Promise<GroupContext | undefined> => {
  if (scope.kind === 'direct') return undefined;
  const group = await ctx.platform.storage.get('groups', scope.groupId);
  if (!group?.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are no longer in this group');
  return { id: fromHex(scope.groupId), revision: group.revision };
};

/**
 * Commits a user's action: re-reads the message under the peer's (or the group's) lock, lets `build` compute the
 * new row (or refuse with a ClientError), and writes it with the action's outbox entry and any `extra` writes in one
 * batch; then emits `message-updated`. In a group the entry is of kind `group` (sent once with our sender key).
 * Returns the message before and after.
 */
const commitAction = async (
  ctx: MessengerContext,
  messageId: string,
  scope: ActionScope,
  build: (
    message: MessageEntry,
    timestamp: number,
    group: GroupContext | undefined,
  ) => { updated: MessageEntry; content: Content; extra?: WriteOp[] },
): Promise<{ before: MessageEntry; updated: MessageEntry }> => {
  const result = await ctx.platform.locks.withLock(scope.lock, async () => {
    const before = await ctx.history.message(messageId);
    if (!before) throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
    const group = await groupContextOf(ctx, scope);
    const timestamp = ctx.timestamps.next();
    const { updated, content, extra } = build(before, timestamp, group);
    const entry =
      scope.kind === 'direct'
        ? newOutboxEntry(ctx, { destination: scope.peer, kind: 'action', timestamp, content: encodeAction(content) })
        : newOutboxEntry(ctx, {
            destination: groupConversationId(scope.groupId),
            kind: 'group',
            timestamp,
            content: encodeAction(content),
          });
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
  const { scope } = await actionTarget(ctx, messageId);
  const me = ctx.account.accountId;
  const { updated } = await commitAction(ctx, messageId, scope, (message, timestamp, group) => {
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
          ...(group ? { group } : {}),
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
  const { scope } = await actionTarget(ctx, messageId);
  const { updated } = await commitAction(ctx, messageId, scope, (message, timestamp, group) => {
    ownModifiable(ctx, message, timestamp);
    if (text === message.text) throw new ClientError(ClientErrorCode.InvalidInput, 'the text did not change');
    if ((message.edits?.length ?? 0) >= MAX_EDITS)
      throw new ClientError(ClientErrorCode.InvalidInput, `a message can be edited at most ${MAX_EDITS} times`);
    const changed = withEdit(message, { text, timestamp }, ctx.platform.clock.now(), MODIFY_WINDOW_MS);
    if (!changed) throw new ClientError(ClientErrorCode.InvalidInput, 'the message cannot be edited');
    return {
      updated: changed,
      content: {
        kind: 'edit',
        edit: { timestamp, targetTimestamp: message.timestamp, text, ...(group ? { group } : {}) },
      },
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
  const { scope } = await actionTarget(ctx, messageId);
  const { before, updated } = await commitAction(ctx, messageId, scope, (message, timestamp, group) => {
    ownModifiable(ctx, message, timestamp);
    const changed = withDeletion(message, timestamp, ctx.platform.clock.now(), MODIFY_WINDOW_MS);
    if (!changed) throw new ClientError(ClientErrorCode.InvalidInput, 'the message cannot be deleted');
    return {
      updated: changed,
      content: {
        kind: 'delete',
        delete: { timestamp, targetTimestamp: message.timestamp, ...(group ? { group } : {}) },
      },
      extra: [
        {
          op: 'delete',
          table: 'resendLog',
          key:
            scope.kind === 'direct'
              ? resendLogKey(scope.peer, message.timestamp)
              : groupResendLogKey(message.timestamp),
        },
      ],
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
  const groupId = groupOf(message.conversationId);
  const recipients: MessageInfo['recipients'] = [];
  if (message.direction === 'outgoing' && groupId !== null && message.system === undefined) {
    // A group message: every member it went to (and anyone who receipted it since leaving), each with its times.
    const group = await ctx.platform.storage.get('groups', groupId);
    const me = ctx.account.accountId;
    const accounts = new Set([
      ...(group?.members ?? []).map((m) => m.accountId),
      ...(message.receipts ?? []).map((r) => r.accountId),
    ]);
    accounts.delete(me);
    for (const accountId of accounts) {
      const receipts = message.receipts?.find((r) => r.accountId === accountId);
      const member = group ? memberOf(group, accountId) : undefined;
      const contact = await ctx.platform.storage.get('contacts', accountId);
      recipients.push({
        accountId,
        username: contact?.username ?? member?.username ?? null,
        deliveredAt: receipts?.deliveredAt ?? null,
        readAt: receipts?.readAt ?? null,
      });
    }
  }
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
