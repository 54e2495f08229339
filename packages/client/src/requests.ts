/**
 * Message requests and the block list. A **contact** is an account with which this user has a direct conversation
 * that is not a request: one the user started or wrote in (sending clears the flag), or accepted. A first direct
 * message from anyone else opens a conversation marked `request`; so does a group that a non-contact added us to
 * (`invitedBy`). Until accepted, the core sends no read receipts and no typing indicators there, reports no typing
 * from there, and `isAccepted` says no (profiles are only given to accepted peers). Accepting clears the flag and
 * sends the read receipts held back; deleting removes the conversation and its history here (a group is left
 * first). The **block list** is a mark on the contact row: a blocked sender's envelopes are still decrypted (their
 * sessions and sender-key chains stay in step, so unblocking needs no repair) but dropped unseen and unanswered,
 * with no receipt; nothing can be sent to them until unblocked. Blocking is invisible to the blocked sender (the
 * server accepts their messages as before). This module does not send anything itself except through the outbox
 * (read receipts on accept) and the group leave on delete; it decides nothing about groups' membership.
 */
import { deleteAttachmentBlobs } from './attachments/attachment-blobs.js';
import { resolveCached } from './contacts.js';
import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { groupIdOrThrow, leaveGroup } from './group-actions.js';
import { groupLock } from './groups.js';
import { deleteMessage, newConversation, putConversation } from './history.js';
import { mergeIntoOutbox } from './outbox.js';
import type { KeyValueStorage, WriteOp } from './platform.js';
import { contactOrNew } from './recipients.js';
import type { ConversationEntry, MessageEntry } from './tables.js';
import { directConversationId, groupConversationId, groupOf } from './tables.js';

/** One entry of the block list. */
export type BlockedPeer = { accountId: string; username: string | null; blockedAt: number };

/** Whether an account is on this user's block list. */
export const isBlocked = async (storage: KeyValueStorage, accountId: string): Promise<boolean> =>
  (await storage.get('contacts', accountId))?.blockedAt !== undefined;

/** Whether an account is a contact: a direct conversation with it that is not a request, and not blocked. */
export const isContact = async (storage: KeyValueStorage, accountId: string): Promise<boolean> => {
  if (await isBlocked(storage, accountId)) return false;
  const conversation = await storage.get('conversations', directConversationId(accountId));
  return conversation !== undefined && conversation.request !== true;
};

/**
 * Whether the user accepted a peer (username, account id or direct conversation id: a contact) or a group
 * conversation (`group:<id>`: present and not a request). What may be shared with them — read receipts, typing,
 * the profile — is shared only when this is true.
 */
export const isAccepted = async (ctx: MessengerContext, peerOrConversation: string): Promise<boolean> => {
  const { storage } = ctx.platform;
  if (groupOf(peerOrConversation) !== null) {
    const conversation = await storage.get('conversations', peerOrConversation);
    return conversation !== undefined && conversation.request !== true;
  }
  return isContact(storage, await resolveCached(ctx, peerOrConversation));
};

/** The conversation id a peer or conversation names (direct or group). */
export const conversationIdOf = async (ctx: MessengerContext, peerOrConversation: string): Promise<string> =>
  groupOf(peerOrConversation) !== null
    ? groupConversationId(groupIdOrThrow(peerOrConversation))
    : directConversationId(await resolveCached(ctx, peerOrConversation));

/**
 * The read receipts held back while a direct conversation was a request: for the messages the user read in it,
 * to go out now that it is accepted (callers hold the peer's lock and commit the writes).
 */
export const heldReadReceipts = async (ctx: MessengerContext, peer: string): Promise<WriteOp[]> => {
  const read = (await ctx.platform.storage.list('messages', { prefix: `${directConversationId(peer)}/` }))
    .map(({ value }) => value)
    .filter((m) => m.direction === 'incoming' && m.read && m.status === 'received' && m.deletedAt === undefined)
    .map((m) => m.timestamp);
  return read.length > 0 ? mergeIntoOutbox(ctx, peer, 'receipt', read, { receiptType: 'read' }) : [];
};

/**
 * Accepts a request (a direct conversation or a group): it becomes an ordinary conversation, and the read receipts
 * held back for messages already read in it go out. Accepting a blocked peer unblocks them. Accepting what is not a
 * request changes nothing (a direct conversation that does not exist yet is created: the user added the peer).
 */
export const acceptConversation = async (
  ctx: MessengerContext,
  peerOrConversation: string,
): Promise<ConversationEntry> => {
  const { storage, clock, locks } = ctx.platform;
  const conversationId = await conversationIdOf(ctx, peerOrConversation);
  const groupId = groupOf(conversationId);
  if (groupId !== null) {
    const accepted = await locks.withLock(groupLock(groupId), async () => {
      const conversation = await ctx.history.conversation(conversationId);
      if (!conversation) throw new ClientError(ClientErrorCode.InvalidInput, 'no such conversation');
      const { request: _request, invitedBy: _invitedBy, ...rest } = conversation;
      await storage.commit([putConversation(rest)]);
      return rest;
    });
    emit(ctx, { type: 'conversation-updated', conversation: accepted });
    return accepted;
  }
  const peer = conversationId.slice('direct:'.length);
  if (peer === ctx.account.accountId) throw new ClientError(ClientErrorCode.InvalidInput, 'that is you');
  const result = await locks.withLock(peerLock(peer), async () => {
    const contact = await storage.get('contacts', peer);
    const existing = await ctx.history.conversation(conversationId);
    const base = existing ?? newConversation(peer, contact?.username ?? null, clock.now());
    const { request: wasRequest, ...accepted } = base;
    const writes: WriteOp[] = [putConversation(accepted)];
    const unblocked = contact?.blockedAt !== undefined;
    if (contact && unblocked) {
      const { blockedAt: _blockedAt, ...rest } = contact;
      writes.push({ op: 'put', table: 'contacts', key: peer, value: rest });
    }
    const held = wasRequest === true ? await heldReadReceipts(ctx, peer) : [];
    writes.push(...held);
    const receipts = held.length > 0;
    await storage.commit(writes);
    return { accepted, unblocked, receipts };
  });
  if (result.unblocked) emit(ctx, { type: 'block-list-changed', accountId: peer, blocked: false });
  emit(ctx, { type: 'conversation-updated', conversation: result.accepted });
  return result.accepted;
};

/**
 * Puts a peer on the block list. Read and delivery receipts still queued for them are dropped (nothing more goes
 * to them); their conversation stays (the UI hides it) until deleted. Returns whether they were not blocked yet.
 */
export const blockPeer = async (ctx: MessengerContext, peer: string): Promise<boolean> => {
  const accountId = await resolveCached(ctx, peer);
  if (accountId === ctx.account.accountId) throw new ClientError(ClientErrorCode.InvalidInput, 'that is you');
  const { storage, clock, locks } = ctx.platform;
  const changed = await locks.withLock(peerLock(accountId), async () => {
    const contact = contactOrNew(await storage.get('contacts', accountId), accountId, clock.now());
    if (contact.blockedAt !== undefined) return false;
    const pending = (await storage.list('outbox')).filter(
      ({ value }) => value.destination === accountId && (value.kind === 'receipt' || value.kind === 'typing'),
    );
    await storage.commit([
      { op: 'put', table: 'contacts', key: accountId, value: { ...contact, blockedAt: clock.now() } },
      ...pending.map(({ key }): WriteOp => ({ op: 'delete', table: 'outbox', key })),
    ]);
    return true;
  });
  if (changed) emit(ctx, { type: 'block-list-changed', accountId, blocked: true });
  return changed;
};

/** Takes a peer off the block list; returns whether they were on it. Messages dropped meanwhile stay dropped. */
export const unblockPeer = async (ctx: MessengerContext, peer: string): Promise<boolean> => {
  const accountId = await resolveCached(ctx, peer);
  const { storage, locks } = ctx.platform;
  const changed = await locks.withLock(peerLock(accountId), async () => {
    const contact = await storage.get('contacts', accountId);
    if (contact?.blockedAt === undefined) return false;
    const { blockedAt: _blockedAt, ...rest } = contact;
    await storage.commit([{ op: 'put', table: 'contacts', key: accountId, value: rest }]);
    return true;
  });
  if (changed) emit(ctx, { type: 'block-list-changed', accountId, blocked: false });
  return changed;
};

/** The block list, most recently blocked first. */
export const blockedPeers = async (ctx: MessengerContext): Promise<BlockedPeer[]> =>
  (await ctx.platform.storage.list('contacts'))
    .flatMap(({ value }) =>
      value.blockedAt === undefined
        ? []
        : [{ accountId: value.accountId, username: value.username, blockedAt: value.blockedAt }],
    )
    .sort((a, b) => b.blockedAt - a.blockedAt);

/** Conversations waiting for the user's answer (requests from blocked peers are not shown), newest first. */
export const pendingRequests = async (ctx: MessengerContext): Promise<ConversationEntry[]> => {
  const result: ConversationEntry[] = [];
  for (const conversation of await ctx.history.conversations()) {
    if (conversation.request !== true) continue;
    const peer = conversation.kind === 'group' ? conversation.invitedBy : conversation.peerAccountId;
    if (peer !== undefined && (await isBlocked(ctx.platform.storage, peer))) continue;
    result.push(conversation);
  }
  return result;
};

/**
 * Deletes a conversation and its whole history on this device (attachments' local blobs too, and outgoing
 * messages still queued in it). A group we are still in is left first, so that it does not come back. Returns
 * whether there was anything to delete. The peer is not told (a direct conversation) and stays a stranger: their
 * next message is a request again.
 */
export const deleteConversation = async (ctx: MessengerContext, peerOrConversation: string): Promise<boolean> => {
  const { storage, locks } = ctx.platform;
  const conversationId = await conversationIdOf(ctx, peerOrConversation);
  const groupId = groupOf(conversationId);
  if (groupId !== null) {
    const group = await storage.get('groups', groupId);
    if (group?.active) await leaveGroup(ctx, groupId);
  }
  const lock = groupId !== null ? groupLock(groupId) : peerLock(conversationId.slice('direct:'.length));
  const removed = await locks.withLock(lock, async () => {
    const conversation = await storage.get('conversations', conversationId);
    const messages = (await storage.list('messages', { prefix: `${conversationId}/` })).map(({ value }) => value);
    if (!conversation && messages.length === 0) return null;
    const queued = (await storage.list('outbox')).filter(
      ({ value }) => value.messageKey !== null && value.messageKey.startsWith(`${conversationId}/`),
    );
    await storage.commit([
      ...messages.flatMap(deleteMessage),
      ...queued.map(({ key }): WriteOp => ({ op: 'delete', table: 'outbox', key })),
      { op: 'delete', table: 'conversations', key: conversationId },
    ]);
    return messages;
  });
  if (removed === null) return false;
  for (const message of removed.filter((m: MessageEntry) => m.attachments?.length))
    await deleteAttachmentBlobs(ctx.platform, message);
  emit(ctx, { type: 'conversation-removed', conversationId });
  return true;
};
