/**
 * What the inbox does with each kind of decrypted content: one handler per `Content` kind, in a table the compiler
 * checks is complete (a new kind in @cove/protocol does not compile until it has a handler here). A handler reads
 * what it needs and returns its writes (committed by the inbox in the same batch as the session change and the
 * processed GUID), the events to emit after that commit, whether the content counts as stored, and whether the
 * outbox has new work. Handlers never commit, emit or acknowledge themselves.
 */
import { equalBytes } from '@cove/crypto';
import type { Content, Envelope } from '@cove/protocol';

import { entryOfPointer } from './attachments/attachment-service.js';
import { takeBudget } from './budget.js';
import { MAX_RESENDS_PER_MESSAGE, MAX_RETRY_REQUESTS_PER_WINDOW } from './constants.js';
import type { MessengerContext } from './context.js';
import type { MessengerEvent } from './events.js';
import { isExpired, isStatusAdvance, putConversation, putMessage } from './history.js';
import { RECEIVE_MODIFY_WINDOW_MS, withDeletion, withEdit, withReaction, withReceipt } from './message-actions.js';
import { mergeIntoOutbox, newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type { ProtocolZone } from './protocol-zone.js';
import type { ConversationEntry, MessageEntry } from './tables.js';
import { messageIndexKey, resendLogKey, sessionKey } from './tables.js';

export type Applied = {
  writes: WriteOp[];
  events: MessengerEvent[];
  stored: boolean;
  kick: boolean;
  /** Messages whose local attachment blobs go once the writes are committed (deleted for everyone). */
  discardBlobsOf?: MessageEntry[];
};

/** What the inbox lends its handlers: the summary of a peer's conversation, and the username check. */
export type InboxTools = {
  conversationFor(peer: string): Promise<ConversationEntry>;
  confirmUsername(accountId: string, username: string): Promise<boolean>;
};

export type HandlerInput<K extends Content['kind']> = {
  ctx: MessengerContext;
  tools: InboxTools;
  envelope: Envelope;
  content: Extract<Content, { kind: K }>;
  zone: ProtocolZone;
  /** The sender's account id, and the id of the conversation with them. */
  peer: string;
  conversationId: string;
};

export type ContentHandler<K extends Content['kind']> = (input: HandlerInput<K>) => Promise<Applied>;

/**
 * A message: stored once (a re-send of one already shown is only receipted), with its conversation summary and a
 * delivery receipt.
 */
const applyData: ContentHandler<'data'> = async (input) => {
  const { ctx, tools, envelope, content, peer } = input;
  const { storage, clock } = ctx.platform;
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  const { data } = content;
  const conversation = await tools.conversationFor(peer);
  const existingKey = await storage.get('messageIndex', messageIndexKey(conversation.id, peer, data.timestamp));
  const existing = existingKey === undefined ? undefined : await storage.get('messages', existingKey);
  // A re-send of a message already shown (after a retry or a lost ack on the sender's side) is not shown twice.
  const duplicate = existing !== undefined && existing.status !== 'undecryptable';
  writes.push(...(await mergeIntoOutbox(ctx, peer, 'receipt', [data.timestamp], { receiptType: 'delivery' })));
  if (duplicate) return { writes, events, stored: false, kick: true };
  let peerUsername = conversation.peerUsername;
  if (
    data.senderUsername &&
    data.senderUsername !== peerUsername &&
    (await tools.confirmUsername(peer, data.senderUsername))
  ) {
    peerUsername = data.senderUsername;
    const contact = await storage.get('contacts', peer);
    writes.push(
      { op: 'put', table: 'usernames', key: peerUsername.toLowerCase(), value: peer },
      {
        op: 'put',
        table: 'contacts',
        key: peer,
        value: { accountId: peer, devices: null, ...contact, username: peerUsername, updatedAt: clock.now() },
      },
    );
  }
  const message: MessageEntry = {
    id: existing?.id ?? `${conversation.id}/${ctx.sequencer.next()}`,
    conversationId: conversation.id,
    direction: 'incoming',
    authorAccountId: peer,
    authorDeviceId: envelope.sourceDeviceId,
    timestamp: data.timestamp,
    serverTimestamp: envelope.serverTimestamp,
    storedAt: existing?.storedAt ?? clock.now(),
    text: data.text,
    quote: data.quote ?? null,
    expireTimerSeconds: data.expireTimerSeconds ?? null,
    status: 'received',
    read: false,
    error: null,
    ...(data.attachments ? { attachments: data.attachments.map((pointer) => entryOfPointer(ctx, pointer)) } : {}),
  };
  const updated: ConversationEntry = {
    ...conversation,
    peerUsername,
    lastMessageAt: Math.max(conversation.lastMessageAt, message.storedAt),
    lastMessageKey: message.id,
    unreadCount: conversation.unreadCount + 1,
  };
  writes.push(...putMessage(message), putConversation(updated));
  events.push(existing ? { type: 'message-updated', message } : { type: 'message-added', message }, {
    type: 'conversation-updated',
    conversation: updated,
  });
  return { writes, events, stored: true, kick: true };
};

/** Delivery and read receipts: outgoing statuses move forward (never for expired messages). */
const applyReceipt: ContentHandler<'receipt'> = async (input) => {
  const { ctx, content, peer, conversationId } = input;
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  const status = content.receipt.type === 'read' ? 'read' : 'delivered';
  for (const timestamp of content.receipt.timestamps) {
    const key = await storage.get('messageIndex', messageIndexKey(conversationId, me, timestamp));
    const message = key === undefined ? undefined : await storage.get('messages', key);
    if (!message || message.direction !== 'outgoing') continue;
    // An expired disappearing message is gone for the user: it is not updated, and no event names it.
    if (isExpired(message, clock.now())) continue;
    // Message info shows when each recipient got and read it (the receipt's server time), even when the status
    // does not move (a delivery receipt arriving after the read one).
    const timed = withReceipt(message, peer, content.receipt.type, input.envelope.serverTimestamp);
    const advance = isStatusAdvance(message.status, status);
    if (!advance && !timed) continue;
    const updated: MessageEntry = advance ? { ...(timed ?? message), status, error: null } : (timed ?? message);
    writes.push({ op: 'put', table: 'messages', key: message.id, value: updated });
    events.push({ type: 'message-updated', message: updated });
  }
  events.push({
    type: 'receipt',
    conversationId,
    accountId: peer,
    receiptType: content.receipt.type,
    timestamps: content.receipt.timestamps,
  });
  return { writes, events, stored: true, kick: false };
};

/** A typing indicator: only reported. */
const applyTyping: ContentHandler<'typing'> = ({ content, peer, conversationId }) =>
  Promise.resolve({
    writes: [],
    events: [{ type: 'typing', conversationId, accountId: peer, action: content.typing.action }],
    stored: true,
    kick: false,
  });

/** Carries nothing (the other devices' share of a re-send that answered one device). */
const applyNull: ContentHandler<'null'> = () => Promise.resolve({ writes: [], events: [], stored: true, kick: false });

/** A retry request: answered only from the re-send log; timestamps it had nothing for remove placeholders. */
const applyRetry: ContentHandler<'retry'> = async (input) => {
  const { ctx, envelope, content, zone, peer, conversationId } = input;
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  // The peer rebuilt its session with us (this message arrived in it) and asks for what it could not read.
  // Only what the re-send log holds for THIS device, under the identity key this request came with, within
  // the window and the budgets, is sent again; the rest gets no answer (its placeholder stays on their side).
  let kick = false;
  const device = envelope.sourceDeviceId;
  const askingKey = zone.usedIdentities.get(sessionKey(peer, device));
  const unavailable: number[] = [];
  let resent = 0;
  let refused = 0;
  let limited = false;
  if (content.retry.timestamps.length > 0) {
    const budget = await takeBudget(storage, 'retry', peer, device, MAX_RETRY_REQUESTS_PER_WINDOW, clock.now());
    writes.push(budget.write);
    limited = !budget.allowed;
  }
  for (const timestamp of limited ? [] : [...new Set(content.retry.timestamps)]) {
    const key = await storage.get('messageIndex', messageIndexKey(conversationId, me, timestamp));
    const message = key === undefined ? undefined : await storage.get('messages', key);
    if (!message || message.direction !== 'outgoing') {
      unavailable.push(timestamp);
      continue;
    }
    const logKey = resendLogKey(peer, timestamp);
    const stored = await storage.get('resendLog', logKey);
    // Entries are records; the expiry index beside them holds strings.
    const logged = typeof stored === 'object' ? stored : undefined;
    const index = logged?.devices.findIndex((d) => d.deviceId === device) ?? -1;
    const sent = logged?.devices[index];
    if (
      !logged ||
      !sent ||
      logged.expiresAt <= clock.now() ||
      !askingKey ||
      !equalBytes(new Uint8Array(sent.identityKey), askingKey) ||
      sent.resent >= MAX_RESENDS_PER_MESSAGE
    ) {
      refused += 1;
      continue;
    }
    const devices = logged.devices.map((d, i) => (i === index ? { ...d, resent: d.resent + 1 } : d));
    writes.push(
      { op: 'put', table: 'resendLog', key: logKey, value: { ...logged, devices } },
      putOutboxEntry(
        newOutboxEntry(ctx, {
          destination: peer,
          kind: 'resend',
          timestamp,
          content: new Uint8Array(logged.content),
          deviceId: device,
          identityKey: new Uint8Array(sent.identityKey),
        }),
      ),
    );
    resent += 1;
    kick = true;
  }
  if (unavailable.length > 0) {
    writes.push(...(await mergeIntoOutbox(ctx, peer, 'retry-unavailable', unavailable)));
    kick = true;
  }
  // The peer had nothing to re-send for these: they were receipts or typing indicators, not messages.
  for (const timestamp of content.retry.unavailable ?? []) {
    const indexKey = messageIndexKey(conversationId, peer, timestamp);
    const key = await storage.get('messageIndex', indexKey);
    const message = key === undefined ? undefined : await storage.get('messages', key);
    if (!message || message.status !== 'undecryptable') continue;
    writes.push(
      { op: 'delete', table: 'messages', key: message.id },
      { op: 'delete', table: 'messageIndex', key: indexKey },
    );
    events.push({ type: 'message-removed', conversationId, messageId: message.id });
  }
  ctx.platform.logger.info('retry request', {
    accountId: peer,
    deviceId: device,
    count: content.retry.timestamps.length,
    resent,
    refused,
    unavailable: unavailable.length,
    limited,
  });
  return { writes, events, stored: true, kick };
};

const NOTHING: Applied = { writes: [], events: [], stored: true, kick: false };

/** The stored message a peer's action names (never an expired one), or undefined. */
const targetOf = async (
  input: Pick<HandlerInput<'reaction'>, 'ctx' | 'conversationId'>,
  author: string,
  timestamp: number,
): Promise<MessageEntry | undefined> => {
  const { storage, clock } = input.ctx.platform;
  const key = await storage.get('messageIndex', messageIndexKey(input.conversationId, author, timestamp));
  const message = key === undefined ? undefined : await storage.get('messages', key);
  return message && !isExpired(message, clock.now()) ? message : undefined;
};

/**
 * A reaction: to one of the peer's messages or one of ours (nobody else's exists in a direct conversation), one per
 * person, a newer one replacing the older. A reaction to a message this device does not have is ignored.
 */
const applyReaction: ContentHandler<'reaction'> = async (input) => {
  const { ctx, content, peer, conversationId } = input;
  const { reaction } = content;
  const author = reaction.targetAuthorAccountId;
  if (author !== peer && author !== ctx.account.accountId) return NOTHING;
  const message = await targetOf(input, author, reaction.targetTimestamp);
  const updated = message
    ? withReaction(message, {
        authorAccountId: peer,
        emoji: reaction.emoji,
        timestamp: reaction.timestamp,
        remove: reaction.remove ?? false,
      })
    : null;
  if (!updated) {
    ctx.platform.logger.info('reaction ignored', { accountId: peer, known: message !== undefined });
    return NOTHING;
  }
  return {
    writes: [{ op: 'put', table: 'messages', key: updated.id, value: updated }],
    events: [
      { type: 'message-updated', message: updated },
      {
        type: 'reaction',
        conversationId,
        accountId: peer,
        message: updated,
        emoji: reaction.emoji,
        remove: reaction.remove ?? false,
      },
    ],
    stored: true,
    kick: false,
  };
};

/**
 * An edit: only of the SENDER's own message (the target is looked up among the sender's messages, so a forged edit
 * of anyone else's finds nothing), within the receive window, at most MAX_EDITS times; earlier texts are kept.
 */
const applyEdit: ContentHandler<'edit'> = async (input) => {
  const { ctx, content, envelope, peer, conversationId } = input;
  const message = await targetOf(input, peer, content.edit.targetTimestamp);
  const updated = message
    ? withEdit(
        message,
        { text: content.edit.text, timestamp: content.edit.timestamp },
        envelope.serverTimestamp,
        RECEIVE_MODIFY_WINDOW_MS,
      )
    : null;
  if (!updated) {
    ctx.platform.logger.info('edit ignored', { accountId: peer, known: message !== undefined });
    return NOTHING;
  }
  return {
    writes: [{ op: 'put', table: 'messages', key: updated.id, value: updated }],
    events: [
      { type: 'message-updated', message: updated },
      { type: 'message-edited', conversationId, accountId: peer, message: updated },
    ],
    stored: true,
    kick: false,
  };
};

/**
 * Delete for everyone: only of the sender's own message, within the receive window; the message becomes a
 * placeholder and its local attachment blobs are deleted after the commit.
 */
const applyDelete: ContentHandler<'delete'> = async (input) => {
  const { ctx, content, envelope, peer, conversationId } = input;
  const message = await targetOf(input, peer, content.delete.targetTimestamp);
  const updated = message
    ? withDeletion(message, content.delete.timestamp, envelope.serverTimestamp, RECEIVE_MODIFY_WINDOW_MS)
    : null;
  if (!message || !updated) {
    ctx.platform.logger.info('delete ignored', { accountId: peer, known: message !== undefined });
    return NOTHING;
  }
  return {
    writes: [{ op: 'put', table: 'messages', key: updated.id, value: updated }],
    events: [
      { type: 'message-updated', message: updated },
      { type: 'message-deleted', conversationId, accountId: peer, message: updated },
    ],
    stored: true,
    kick: false,
    discardBlobsOf: [message],
  };
};

/** Every content kind and its handler: adding a kind to Content makes this table incomplete until it has one. */
export const CONTENT_HANDLERS: { [K in Content['kind']]: ContentHandler<K> } = {
  data: applyData,
  receipt: applyReceipt,
  typing: applyTyping,
  null: applyNull,
  retry: applyRetry,
  reaction: applyReaction,
  edit: applyEdit,
  delete: applyDelete,
};

/** Runs the handler of a content kind. */
export const applyContent = <K extends Content['kind']>(kind: K, input: HandlerInput<K>): Promise<Applied> =>
  CONTENT_HANDLERS[kind](input);
