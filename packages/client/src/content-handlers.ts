/**
 * What the inbox does with each kind of decrypted content: one handler per `Content` kind, in a table the compiler
 * checks is complete (a new kind in @cove/protocol does not compile until it has a handler here). A handler reads
 * what it needs and returns its writes (committed by the inbox in the same batch as the session change and the
 * processed GUID), the events to emit after that commit, whether the content counts as stored, and whether the
 * outbox has new work. Handlers never commit, emit or acknowledge themselves.
 */
import {
  ProtocolAddress,
  SenderKeyDistributionMessage,
  equalBytes,
  processSenderKeyDistributionMessage,
} from '@cove/crypto';
import type { Content, GroupContext, SyncMessage } from '@cove/protocol';

import { timerChange, timerText } from './disappearing.js';
import type { OpenEnvelope } from './session-crypto.js';

import { entryOfPointer } from './attachments/attachment-service.js';
import { takeBudget } from './budget.js';
import { MAX_RESENDS_PER_MESSAGE, MAX_RETRY_REQUESTS_PER_WINDOW } from './constants.js';
import type { MessengerContext } from './context.js';
import type { MessengerEvent } from './events.js';
import { isExpired, isStatusAdvance, newConversation, putConversation, putMessage } from './history.js';
import {
  RECEIVE_MODIFY_WINDOW_MS,
  groupStatusOf,
  withDeletion,
  withEdit,
  withReaction,
  withReceipt,
} from './message-actions.js';
import { mergeIntoOutbox, newOutboxEntry, putOutboxEntry } from './outbox.js';
import { noticeEntry, noticeRole, noticesConversation } from './notices.js';
import { Organization } from './organization.js';
import { applyContactRecords, applyConversationRecords, applyGroupState, fullSyncFor } from './device-sync.js';
import type { SyncApplied } from './device-sync.js';
import { acceptOwnProfileKey, acceptProfileKey, refreshOwnProfile } from './profiles.js';
import { readMeta } from './meta.js';
import { forgetRefusal } from './sealed-sender.js';
import { isContact } from './requests.js';
import type { WriteOp } from './platform.js';
import type { ProtocolZone } from './protocol-zone.js';
import type { ConversationEntry, GroupEntry, GroupMemberEntry, MessageEntry } from './tables.js';
import {
  directConversationId,
  groupConversationId,
  groupResendLogKey,
  NOTICES_SCOPE,
  memberKeyKey,
  messageIndexKey,
  ownSenderKeyKey,
  resendLogKey,
  sessionKey,
} from './tables.js';
import {
  accountOfMemberKey,
  groupConversation,
  judgeUpdate,
  memberKeyPrefix,
  memberOf,
  revisionWrites,
  toHex,
} from './groups.js';

export type Applied = {
  writes: WriteOp[];
  events: MessengerEvent[];
  stored: boolean;
  kick: boolean;
  /** Messages whose local attachment blobs go once the writes are committed (deleted for everyone). */
  discardBlobsOf?: MessageEntry[];
  /** Work after the commit that needs the network (a sibling's profile change: the fields are fetched again). */
  after?: () => Promise<void>;
};

/** A new message stored with its conversation moved to it: the writes, and the events for after the commit. */
const storedMessage = (message: MessageEntry, conversation: ConversationEntry): Applied => ({
  writes: [...putMessage(message), putConversation(conversation)],
  events: [
    { type: 'message-added', message },
    { type: 'conversation-updated', conversation },
  ],
  stored: true,
  kick: false,
});

/** What the inbox lends its handlers: the summary of a peer's conversation, and the username check. */
export type InboxTools = {
  conversationFor(peer: string): Promise<ConversationEntry>;
  confirmUsername(accountId: string, username: string): Promise<boolean>;
};

export type HandlerInput<K extends Content['kind']> = {
  ctx: MessengerContext;
  tools: InboxTools;
  envelope: OpenEnvelope;
  content: Extract<Content, { kind: K }>;
  zone: ProtocolZone;
  /** The sender's account id, and the id of the conversation with them. */
  peer: string;
  conversationId: string;
  /**
   * Set when the content came in a sender-key envelope: the distribution id of the chain that decrypted it, which
   * must be the one the sending device gave us for the group the message names.
   */
  senderKeyDistributionId?: string;
};

export type ContentHandler<K extends Content['kind']> = (input: HandlerInput<K>) => Promise<Applied>;

/**
 * A message: stored once (a re-send of one already shown is only receipted), with its conversation summary and a
 * delivery receipt.
 */
const applyData: ContentHandler<'data'> = async (input) => {
  if (input.content.data.notice) return applyNotice(input);
  if (input.content.data.group || input.senderKeyDistributionId !== undefined) return applyGroupData(input);
  const { ctx, tools, envelope, content, peer } = input;
  const { storage, clock } = ctx.platform;
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  const { data } = content;
  // Independent reads at once (on a browser, one IndexedDB transaction): the conversation (a direct one's id is
  // the peer's), whether this message is already stored, and the outbox the delivery receipt joins.
  const [conversation, existingKey, receipt] = await Promise.all([
    tools.conversationFor(peer),
    storage.get('messageIndex', messageIndexKey(directConversationId(peer), peer, data.timestamp)),
    mergeIntoOutbox(ctx, peer, 'receipt', [data.timestamp], { receiptType: 'delivery' }),
  ]);
  const existing = existingKey === undefined ? undefined : await storage.get('messages', existingKey);
  // A re-send of a message already shown (after a retry or a lost ack on the sender's side) is not shown twice.
  const duplicate = existing !== undefined && existing.status !== 'undecryptable';
  writes.push(...receipt);
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
  // A timer update (the codec refused one carrying a message): a system line, not unread, and the new timer.
  const timer = data.expireTimerUpdate ? (data.expireTimerSeconds ?? null) : undefined;
  const stored: MessageEntry =
    timer === undefined
      ? message
      : {
          ...message,
          text: timerText(peerUsername ?? 'They', timer),
          expireTimerSeconds: null,
          read: true,
          system: timerChange(timer),
        };
  const updated: ConversationEntry = {
    ...conversation,
    peerUsername,
    lastMessageAt: Math.max(conversation.lastMessageAt, stored.storedAt),
    lastMessageKey: stored.id,
    unreadCount: conversation.unreadCount + (timer === undefined ? 1 : 0),
    ...(timer === undefined ? {} : { expireTimerSeconds: timer }),
  };
  writes.push(...putMessage(stored), putConversation(updated));
  events.push(existing ? { type: 'message-updated', message: stored } : { type: 'message-added', message: stored }, {
    type: 'conversation-updated',
    conversation: updated,
  });
  return { writes, events, stored: true, kick: true };
};

/**
 * An organization notice: shown in the notices conversation only when the certificate it carries proves admin or
 * owner for the sending account under our pinned organization key (the server's 403 is not trusted to have held);
 * otherwise dropped and reported. Never from a group or our own account. In a sender-key envelope, only on the
 * organization-notice chain the sending device gave us over its 1:1 session (a group's chain, or any other, is
 * refused: `notice_misplaced`); over a 1:1 session (a re-send) as it is. No delivery receipt: nobody replies.
 */
const applyNotice: ContentHandler<'data'> = async (input) => {
  const { ctx, tools, envelope, content, peer } = input;
  const { data } = content;
  const { storage } = ctx.platform;
  const refused = (reason: string): Applied => {
    ctx.platform.logger.warn('notice refused', { reason });
    return {
      writes: [],
      events: [{ type: 'message-rejected', accountId: peer, deviceId: envelope.sourceDeviceId, reason }],
      stored: false,
      kick: false,
    };
  };
  if (!data.notice || data.group || peer === ctx.account.accountId) return refused('notice_misplaced');
  if (input.senderKeyDistributionId !== undefined) {
    const given = await storage.get('senderKeys', memberKeyKey(NOTICES_SCOPE, peer, envelope.sourceDeviceId));
    if (!given || !('distributionId' in given) || given.distributionId !== input.senderKeyDistributionId)
      return refused('notice_misplaced');
  }
  const organization = new Organization(ctx);
  const role = await noticeRole(organization, peer, data.notice, (await organization.pinned()) !== undefined);
  if (role === null) return refused('notice_not_admin');
  const conversation = await noticesConversation(ctx);
  const existingKey = await storage.get('messageIndex', messageIndexKey(conversation.id, peer, data.timestamp));
  if (existingKey !== undefined) return { writes: [], events: [], stored: false, kick: false };
  const contact = await storage.get('contacts', peer);
  const senderUsername =
    data.senderUsername && (await tools.confirmUsername(peer, data.senderUsername))
      ? data.senderUsername
      : (contact?.username ?? null);
  const { message, conversation: updated } = noticeEntry(ctx, conversation, {
    direction: 'incoming',
    authorAccountId: peer,
    authorDeviceId: envelope.sourceDeviceId,
    timestamp: data.timestamp,
    serverTimestamp: envelope.serverTimestamp,
    text: data.text,
    status: 'received',
    read: false,
    role,
    senderUsername,
    credential: data.notice,
  });
  return storedMessage(message, updated);
};

/**
 * Where a receipt's timestamp names one of our messages: the 1:1 conversation with its sender first, else one of
 * `groups` (the groups the sender is a member of); null when none holds it.
 */
const receiptedMessage = async (
  ctx: MessengerContext,
  conversationId: string,
  groups: GroupEntry[],
  timestamp: number,
): Promise<{ key: string; group: GroupEntry | null } | null> => {
  const { storage } = ctx.platform;
  const me = ctx.account.accountId;
  const key = await storage.get('messageIndex', messageIndexKey(conversationId, me, timestamp));
  if (key !== undefined) return { key, group: null };
  for (const group of groups) {
    const groupKey = await storage.get('messageIndex', messageIndexKey(groupConversationId(group.id), me, timestamp));
    if (groupKey !== undefined) return { key: groupKey, group };
  }
  return null;
};

/** The groups `peer` is a member of, as stored now. */
const groupsOf = async (ctx: MessengerContext, peer: string): Promise<GroupEntry[]> =>
  (await ctx.platform.storage.list('groups'))
    .map(({ value }) => value)
    .filter((group) => memberOf(group, peer) !== undefined);

/**
 * The groups whose messages a receipt from `peer` names, sorted: the inbox applies the receipt under their locks, as
 * every other change of a group message row is made (the outbox marking it sent, a reaction, a retry). Which group a
 * message belongs to never changes, so this may be read before the locks are taken.
 */
export const groupsReceipted = async (ctx: MessengerContext, peer: string, timestamps: number[]): Promise<string[]> => {
  const groups = await groupsOf(ctx, peer);
  if (groups.length === 0) return [];
  const found = new Set<string>();
  for (const timestamp of timestamps) {
    const where = await receiptedMessage(ctx, directConversationId(peer), groups, timestamp);
    if (where?.group) found.add(where.group.id);
  }
  return [...found].sort();
};

/**
 * Delivery and read receipts: outgoing statuses move forward (never for expired messages). A group message's row is
 * read and written here under its group's lock, which the inbox holds (groupsReceipted): without it, a receipt read
 * the row while the outbox marked it sent and wrote it back still `sending`, for good (seen in
 * test/pwa/groups.test.ts as a CLI group send reported queued although the server had taken it).
 */
const applyReceipt: ContentHandler<'receipt'> = async (input) => {
  const { ctx, content, peer, conversationId } = input;
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  const status = content.receipt.type === 'read' ? 'read' : 'delivered';
  // Group messages are receipted 1:1 by each member: looked for in the groups the sender is a member of.
  const groups = await groupsOf(ctx, peer);
  for (const timestamp of content.receipt.timestamps) {
    const where = await receiptedMessage(ctx, conversationId, groups, timestamp);
    const message = where ? await storage.get('messages', where.key) : undefined;
    const members = where?.group ? where.group.members.map((m) => m.accountId).filter((a) => a !== me) : null;
    if (!message || message.direction !== 'outgoing' || message.system !== undefined) continue;
    // An expired disappearing message is gone for the user: it is not updated, and no event names it.
    if (isExpired(message, clock.now())) continue;
    // Message info shows when each recipient got and read it (the receipt's server time), even when the status
    // does not move (a delivery receipt arriving after the read one).
    const timed = withReceipt(message, peer, content.receipt.type, input.envelope.serverTimestamp);
    // A group message is delivered (read) once every member it went to has it (read it).
    const reached = members === null ? status : groupStatusOf((timed ?? message).receipts ?? [], members);
    const advance = reached !== 'sent' && isStatusAdvance(message.status, reached);
    if (!advance && !timed) continue;
    const updated: MessageEntry = advance
      ? { ...(timed ?? message), status: reached, error: null }
      : (timed ?? message);
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

const NOTHING: Applied = { writes: [], events: [], stored: true, kick: false };

/**
 * A typing indicator: only reported, and only in a conversation the user has accepted (from a stranger, or in a
 * request, it is dropped: an indicator must not conjure a conversation or make a request look active).
 */
const applyTyping: ContentHandler<'typing'> = async (input) => {
  const { ctx, content, peer } = input;
  let { conversationId } = input;
  if (content.typing.group) {
    // In a group: from a current member of a group we are in, on that member's chain (see admitGroupContent).
    const admitted = await admitGroupContent(input, content.typing.group);
    if ('refused' in admitted) return admitted.refused;
    conversationId = admitted.conversationId;
  } else if (input.senderKeyDistributionId !== undefined) return NOTHING;
  const conversation = await ctx.platform.storage.get('conversations', conversationId);
  if (!conversation || conversation.request === true) return NOTHING;
  return {
    writes: [],
    events: [{ type: 'typing', conversationId, accountId: peer, action: content.typing.action }],
    stored: true,
    kick: false,
  };
};

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
      const group = await groupResend(input, timestamp, askingKey);
      if (group === null) unavailable.push(timestamp);
      else if (group.length === 0) refused += 1;
      else {
        writes.push(...group);
        resent += 1;
        kick = true;
      }
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
  const { ctx, content, peer } = input;
  let { conversationId } = input;
  const { reaction } = content;
  const author = reaction.targetAuthorAccountId;
  if (reaction.group) {
    // In a group: to any message of THAT group's conversation (the target is looked up only there).
    const admitted = await admitGroupContent(input, reaction.group);
    if ('refused' in admitted) return admitted.refused;
    conversationId = admitted.conversationId;
  } else if (author !== peer && author !== ctx.account.accountId) return NOTHING;
  const message = await targetOf({ ctx, conversationId }, author, reaction.targetTimestamp);
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
  const { ctx, content, envelope, peer } = input;
  const scoped = await actionConversation(input, content.edit.group);
  if ('refused' in scoped) return scoped.refused;
  const { conversationId } = scoped;
  const message = await targetOf({ ctx, conversationId }, peer, content.edit.targetTimestamp);
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
  const { ctx, content, envelope, peer } = input;
  const scoped = await actionConversation(input, content.delete.group);
  if ('refused' in scoped) return scoped.refused;
  const { conversationId } = scoped;
  const message = await targetOf({ ctx, conversationId }, peer, content.delete.targetTimestamp);
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

const ignored = (events: MessengerEvent[] = []): Applied => ({ writes: [], events, stored: false, kick: false });

/**
 * The checks all group content (a message, an action, a typing indicator) passes before it is applied: it names a
 * group we hold and are still in, its sender is a CURRENT member (a removed member's edit or delete, sent after the
 * removal, finds them gone), and — in a sender-key envelope — it came on the chain that member's device gave us for
 * this very group (a chain given for one group cannot speak in another). A refusal is logged and reported
 * (`group_refused`) and changes nothing.
 */
const admitGroupContent = async (
  input: Pick<HandlerInput<Content['kind']>, 'ctx' | 'envelope' | 'peer' | 'senderKeyDistributionId'>,
  context: GroupContext | undefined,
): Promise<
  { group: GroupEntry; member: GroupMemberEntry; conversationId: string } | { refused: Applied; group?: never }
> => {
  const { ctx, envelope, peer } = input;
  const { storage, logger } = ctx.platform;
  const refused = (why: string): { refused: Applied } => {
    logger.warn('group content refused', { accountId: peer, deviceId: envelope.sourceDeviceId, why });
    return {
      refused: ignored([
        { type: 'message-rejected', accountId: peer, deviceId: envelope.sourceDeviceId, reason: 'group_refused' },
      ]),
    };
  };
  if (!context) return refused('no group');
  const groupId = toHex(context.id);
  const group = await storage.get('groups', groupId);
  if (!group || !group.active) return refused('unknown group');
  const member = memberOf(group, peer);
  if (!member) return refused('not a member');
  if (input.senderKeyDistributionId !== undefined) {
    const given = await storage.get('senderKeys', memberKeyKey(groupId, peer, envelope.sourceDeviceId));
    if (!given || !('distributionId' in given) || given.distributionId !== input.senderKeyDistributionId)
      return refused('not the chain this device gave for the group');
  }
  return { group, member, conversationId: groupConversationId(groupId) };
};

/**
 * The conversation an edit or delete applies in: the group's when it names one (admitted as above), else the direct
 * one; an action without a group in a sender-key envelope is refused.
 */
const actionConversation = async (
  input: HandlerInput<'edit'> | HandlerInput<'delete'>,
  context: GroupContext | undefined,
): Promise<{ conversationId: string } | { refused: Applied }> => {
  if (context) return admitGroupContent(input, context);
  if (input.senderKeyDistributionId !== undefined) return { refused: NOTHING };
  return { conversationId: input.conversationId };
};

/**
 * A group message (in a sender-key envelope, or re-sent over a 1:1 session): accepted only from a current member of
 * a group we are in and, in a sender-key envelope, only on the chain that member's device gave us for this group;
 * stored once in the group's conversation (with its quote and attachments), and receipted 1:1 to its author.
 */
const applyGroupData = async (input: HandlerInput<'data'>): Promise<Applied> => {
  const { ctx, tools, envelope, content, peer } = input;
  const { storage, clock } = ctx.platform;
  const { data } = content;
  const admitted = await admitGroupContent(input, data.group);
  if ('refused' in admitted) return admitted.refused;
  const { group, member, conversationId } = admitted;
  const groupId = group.id;
  // Delivered: told 1:1 to the author (Signal's way), also for a copy already shown (its first receipt may be lost).
  const receipt =
    peer === ctx.account.accountId
      ? []
      : await mergeIntoOutbox(ctx, peer, 'receipt', [data.timestamp], { receiptType: 'delivery' });
  const existingKey = await storage.get('messageIndex', messageIndexKey(conversationId, peer, data.timestamp));
  const existing = existingKey === undefined ? undefined : await storage.get('messages', existingKey);
  if (existing !== undefined) return { writes: receipt, events: [], stored: false, kick: true };
  let username = member.username;
  if (
    data.senderUsername &&
    data.senderUsername !== username &&
    (await tools.confirmUsername(peer, data.senderUsername))
  )
    username = data.senderUsername;
  const conversation = groupConversation(await ctx.history.conversation(conversationId), group, clock.now());
  const message: MessageEntry = {
    id: `${conversationId}/${ctx.sequencer.next()}`,
    conversationId,
    direction: 'incoming',
    authorAccountId: peer,
    authorDeviceId: envelope.sourceDeviceId,
    timestamp: data.timestamp,
    serverTimestamp: envelope.serverTimestamp,
    storedAt: clock.now(),
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
    lastMessageAt: Math.max(conversation.lastMessageAt, message.storedAt),
    lastMessageKey: message.id,
    unreadCount: conversation.unreadCount + 1,
  };
  const writes: WriteOp[] = [...putMessage(message), putConversation(updated), ...receipt];
  if (username !== member.username) {
    const members = group.members.map((m) => (m.accountId === peer ? { ...m, username } : m));
    writes.push({ op: 'put', table: 'groups', key: groupId, value: { ...group, members } });
  }
  return {
    writes,
    events: [
      { type: 'message-added', message },
      { type: 'conversation-updated', conversation: updated },
    ],
    stored: true,
    kick: true,
  };
};

/** A group update: applied only by the rules of groups.ts judgeUpdate; anything else is ignored and reported. */
const applyGroupUpdate: ContentHandler<'group-update'> = async (input) => {
  const { ctx, content, peer, envelope } = input;
  const { storage, clock, logger } = ctx.platform;
  const update = content.groupUpdate;
  const groupId = toHex(update.id);
  const existing = await storage.get('groups', groupId);
  const verdict = judgeUpdate(existing, update, peer, ctx.account.accountId, clock.now());
  if (!verdict.apply) {
    logger.warn('group update ignored', { accountId: peer, deviceId: envelope.sourceDeviceId, reason: verdict.reason });
    return ignored([{ type: 'group-update-rejected', groupId, accountId: peer, reason: verdict.reason }]);
  }
  const contact = await storage.get('contacts', peer);
  const actor = memberOf(verdict.next, peer) ??
    (existing ? memberOf(existing, peer) : undefined) ?? { accountId: peer, username: contact?.username ?? null };
  const memberKeyRows = (await storage.list('senderKeys', { prefix: memberKeyPrefix(groupId) })).map(({ key }) => ({
    key,
    accountId: accountOfMemberKey(groupId, key),
  }));
  const { writes, lines, conversation } = revisionWrites({
    previous: existing,
    next: verdict.next,
    changes: verdict.changes,
    actor,
    me: ctx.account.accountId,
    timestamp: update.timestamp,
    conversation: await ctx.history.conversation(groupConversationId(groupId)),
    nextSequence: () => ctx.sequencer.next(),
    now: clock.now(),
    memberKeyRows,
  });
  // Added to a group we did not hold by someone who is not a contact: a message request, until accepted.
  const invited = !existing && verdict.next.active && !(await isContact(storage, peer));
  const shown: ConversationEntry = invited ? { ...conversation, request: true, invitedBy: peer } : conversation;
  const finalWrites = invited
    ? writes.map((w): WriteOp => (w.op === 'put' && w.table === 'conversations' ? putConversation(shown) : w))
    : writes;
  const events: MessengerEvent[] = lines.map((message) => ({ type: 'message-added', message }));
  events.push({ type: 'conversation-updated', conversation: shown }, { type: 'group-updated', group: verdict.next });
  return { writes: finalWrites, events, stored: true, kick: false };
};

/**
 * A member's sender key for a group, arriving on the 1:1 session with that member's device: stored under THAT
 * device's address (so nobody can hand us a chain as someone else), with the distribution id recorded as the only
 * one accepted from the device for the group. Refused for a group we hold that does not list the sender; kept for a
 * group we do not hold yet (the update adding us may come after it, from another member). An organization-notice
 * sender key is recorded the same way under the notices scope, from anyone: only notices are accepted on it, and
 * each only with a certificate proving its sender admin or owner (applyNotice).
 */
const applySenderKey: ContentHandler<'sender-key'> = async (input) => {
  const { ctx, content, peer, envelope, zone } = input;
  const { storage, clock, logger } = ctx.platform;
  const notice = content.senderKey.notice === true;
  const groupId = notice ? NOTICES_SCOPE : toHex(content.senderKey.groupId);
  const group = notice ? undefined : await storage.get('groups', groupId);
  const device = envelope.sourceDeviceId;
  if (group && (!group.active || !memberOf(group, peer))) {
    logger.warn('sender key refused', { accountId: peer, deviceId: device, why: 'not a member' });
    return ignored([{ type: 'message-rejected', accountId: peer, deviceId: device, reason: 'group_refused' }]);
  }
  let message: SenderKeyDistributionMessage;
  try {
    message = SenderKeyDistributionMessage.deserialize(content.senderKey.distributionMessage);
  } catch {
    logger.warn('sender key refused', { accountId: peer, deviceId: device, why: 'malformed' });
    return ignored([{ type: 'message-rejected', accountId: peer, deviceId: device, reason: 'malformed' }]);
  }
  const distributionId = message.distributionId();
  await processSenderKeyDistributionMessage(ProtocolAddress.new(peer, device), message, zone.senderKeyStore);
  const key = memberKeyKey(groupId, peer, device);
  const previous = await storage.get('senderKeys', key);
  if (previous && 'distributionId' in previous && previous.distributionId !== distributionId)
    zone.senderKeyStore.deleteSenderKey(peer, device, previous.distributionId);
  return {
    writes: [{ op: 'put', table: 'senderKeys', key, value: { distributionId, updatedAt: clock.now() } }],
    events: [],
    stored: true,
    kick: false,
  };
};

/**
 * A retry request naming a group message we sent: answered from the group re-send log under the same rules as
 * 1:1 (this device, the identity key its member had, the window and the per-message budget), pairwise; the device
 * is also marked as owed our sender key (`reshare`), so that the next group message sends it our key again; it stays
 * a holder, so that its later removal still rotates the key.
 */
const groupResend = async (
  input: HandlerInput<'retry'>,
  timestamp: number,
  askingKey: Uint8Array | undefined,
): Promise<WriteOp[] | null> => {
  const { ctx, envelope, peer } = input;
  const { storage, clock } = ctx.platform;
  const logKey = groupResendLogKey(timestamp);
  const stored = await storage.get('resendLog', logKey);
  const logged = typeof stored === 'object' ? stored : undefined;
  if (!logged) return null;
  const device = envelope.sourceDeviceId;
  const index = logged.devices.findIndex((d) => d.accountId === peer && d.deviceId === device);
  const sent = logged.devices[index];
  if (
    !sent ||
    logged.expiresAt <= clock.now() ||
    !askingKey ||
    !equalBytes(new Uint8Array(sent.identityKey), askingKey) ||
    sent.resent >= MAX_RESENDS_PER_MESSAGE
  )
    return [];
  const devices = logged.devices.map((d, i) => (i === index ? { ...d, resent: d.resent + 1 } : d));
  const writes: WriteOp[] = [
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
  ];
  const groupId = logged.peer.slice('group:'.length);
  const own = await storage.get('senderKeys', ownSenderKeyKey(groupId));
  if (own && 'holders' in own) {
    // Still holders (a removal of the device must rotate the key it may hold), but owed our key again.
    const asking = own.holders.filter((h) => h.startsWith(`${peer}.${device}.`));
    const reshare = [...new Set([...(own.reshare ?? []), ...asking])];
    writes.push({ op: 'put', table: 'senderKeys', key: ownSenderKeyKey(groupId), value: { ...own, reshare } });
  }
  return writes;
};

/**
 * Takes a profile key carried by content as the key of `peer` — the account whose own authenticated session (or
 * sender key) decrypted it; content cannot name anyone else's key — merged into a contact write the handler made.
 */
const withProfileKey = async (
  input: { ctx: MessengerContext; peer: string },
  applied: Applied,
  profileKey: Uint8Array,
): Promise<Applied> => {
  const { ctx, peer } = input;
  const index = applied.writes.findIndex((w) => w.op === 'put' && w.table === 'contacts' && w.key === peer);
  const pending = applied.writes[index];
  let changed = false;
  if (pending && pending.op === 'put' && pending.table === 'contacts') {
    const value = pending.value;
    if (!value.profileKey || !equalBytes(value.profileKey, profileKey)) {
      const { profile: _dropped, ...rest } = value;
      applied.writes[index] = { ...pending, value: { ...rest, profileKey: new Uint8Array(profileKey) } };
      changed = true;
    }
  } else {
    const writes = await acceptProfileKey(ctx, peer, profileKey);
    applied.writes.push(...writes);
    changed = writes.length > 0;
  }
  if (changed) {
    // Their new key gives a new access key: a refusal of the old one no longer holds.
    applied.writes.push(forgetRefusal(peer));
    applied.events.push({ type: 'contact-updated', accountId: peer });
  }
  return applied;
};

const applyDataWithProfileKey: ContentHandler<'data'> = async (input) => {
  const applied = await applyData(input);
  const { profileKey } = input.content.data;
  return profileKey ? withProfileKey(input, applied, profileKey) : applied;
};

/** A contact's new profile key after they rotated it: taken as theirs (see withProfileKey), nothing shown. */
const applyProfileKeyUpdate: ContentHandler<'profile-key'> = async (input) =>
  withProfileKey(input, { writes: [], events: [], stored: false, kick: false }, input.content.profileKey);

/**
 * A sync from one of this account's own devices: a message it sent (stored here as our own outgoing message, once, in
 * its conversation) or conversations read there (incoming messages up to the position marked read here, without
 * sending read receipts again). Accepted ONLY from our own account: anyone else's is dropped and reported.
 */
const applySync: ContentHandler<'sync'> = async (input) => {
  const { ctx, envelope, content, peer } = input;
  const me = ctx.account.accountId;
  if (peer !== me || envelope.sourceDeviceId === ctx.account.deviceId) {
    ctx.platform.logger.warn('sync from another account refused', {
      accountId: peer,
      deviceId: envelope.sourceDeviceId,
    });
    return ignored([
      { type: 'message-rejected', accountId: peer, deviceId: envelope.sourceDeviceId, reason: 'sync_refused' },
    ]);
  }
  const { sync } = content;
  switch (sync.type) {
    case 'sent':
      return applySentTranscript(input, sync);
    case 'read':
      return applyReadSync(input, sync);
    case 'action':
      return applyActionTranscript(input, sync);
    case 'contacts':
      return synced(await applyContactRecords(ctx, sync.contacts));
    case 'conversations': {
      const applied = await applyConversationRecords(ctx, sync.conversations);
      return { ...synced(applied), discardBlobsOf: applied.deletedBlobsOf };
    }
    case 'profile': {
      const writes = await acceptOwnProfileKey(ctx, sync.profileKey);
      return {
        writes,
        events: [],
        stored: true,
        kick: false,
        after: () => refreshOwnProfile(ctx),
      };
    }
    case 'group-state':
      return synced(await applyGroupState(ctx, sync.groupUpdate));
    case 'request': {
      const writes = await fullSyncFor(ctx, [envelope.sourceDeviceId]);
      // A request from a device our stored list lacks (it was read from the server before that device registered):
      // the list is forgotten in the same commit, so that the full sync goes to the devices the server lists then.
      // Kept, it sent the full sync to nobody, and the refresh that found the device next asked for none (one was just
      // made). Under the own account's lock, which the inbox holds, as every change of that list is made.
      const own = await ctx.platform.storage.get('contacts', me);
      const newDevice =
        writes.length > 0 && own?.devices && !own.devices.some((d) => d.deviceId === envelope.sourceDeviceId);
      if (newDevice) writes.push({ op: 'put', table: 'contacts', key: me, value: { ...own, devices: null } });
      // That device joined the account since the list was read: said here, because the refresh that lists it next
      // finds no list to compare with (it announces `own-device-added` only for devices missing from a known list).
      const events: MessengerEvent[] = newDevice
        ? [{ type: 'own-device-added', deviceId: envelope.sourceDeviceId }]
        : [];
      return { writes, events, stored: true, kick: writes.length > 0 };
    }
  }
};

const synced = (applied: SyncApplied): Applied => ({ ...applied, stored: true, kick: false });

/**
 * A reaction, edit or delete for everyone that one of our other devices sent in a direct conversation: applied here
 * as our own (the same rules as for a peer's action, with us as the author), so every device shows it.
 */
const applyActionTranscript = async (
  input: HandlerInput<'sync'>,
  sync: Extract<SyncMessage, { type: 'action' }>,
): Promise<Applied> => {
  const { ctx, envelope } = input;
  const me = ctx.account.accountId;
  const peer = sync.destinationAccountId;
  if (peer === me) return ignored();
  const conversationId = directConversationId(peer);
  const { action } = sync;
  const target = { ctx, conversationId };
  let message: MessageEntry | undefined;
  let updated: MessageEntry | null;
  if (action.kind === 'reaction') {
    const { reaction } = action;
    const author = reaction.targetAuthorAccountId;
    if (author !== peer && author !== me) return ignored();
    message = await targetOf(target, author, reaction.targetTimestamp);
    updated = message
      ? withReaction(message, {
          authorAccountId: me,
          emoji: reaction.emoji,
          timestamp: reaction.timestamp,
          remove: reaction.remove ?? false,
        })
      : null;
  } else if (action.kind === 'edit') {
    message = await targetOf(target, me, action.edit.targetTimestamp);
    updated = message
      ? withEdit(
          message,
          { text: action.edit.text, timestamp: action.edit.timestamp },
          envelope.serverTimestamp,
          RECEIVE_MODIFY_WINDOW_MS,
        )
      : null;
  } else {
    message = await targetOf(target, me, action.delete.targetTimestamp);
    updated = message
      ? withDeletion(message, action.delete.timestamp, envelope.serverTimestamp, RECEIVE_MODIFY_WINDOW_MS)
      : null;
  }
  if (!message || !updated) {
    ctx.platform.logger.info('synced action ignored', { kind: action.kind, known: message !== undefined });
    return ignored();
  }
  return {
    writes: [{ op: 'put', table: 'messages', key: updated.id, value: updated }],
    events: [{ type: 'message-updated', message: updated }],
    stored: true,
    kick: false,
    ...(action.kind === 'delete' ? { discardBlobsOf: [message] } : {}),
  };
};

const applySentTranscript = async (
  input: HandlerInput<'sync'>,
  sync: Extract<Content, { kind: 'sync' }>['sync'] & { type: 'sent' },
): Promise<Applied> => {
  const { ctx, envelope } = input;
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const data = sync.message;
  if (data.notice) return applyNoticeTranscript(input, sync);
  let conversation: ConversationEntry;
  if (!data.group && sync.destinationAccountId !== undefined) {
    const peer = sync.destinationAccountId;
    if (peer === me) return ignored();
    const contact = await storage.get('contacts', peer);
    const existing =
      (await ctx.history.conversation(directConversationId(peer))) ??
      newConversation(peer, contact?.username ?? null, clock.now());
    // Writing in a conversation accepts it (as on the device that sent).
    const { request: _request, ...accepted } = existing;
    conversation = accepted;
  } else {
    const groupId = data.group ? toHex(data.group.id) : '';
    const group = await storage.get('groups', groupId);
    // A group this device does not know (it was linked after joining): nothing to show the message in.
    if (!group) return ignored();
    conversation = groupConversation(await ctx.history.conversation(groupConversationId(groupId)), group, clock.now());
  }
  const indexKey = messageIndexKey(conversation.id, me, data.timestamp);
  if ((await storage.get('messageIndex', indexKey)) !== undefined) return ignored();
  // A 1:1 timer change made on another of our devices: the same system line and conversation timer as there (a
  // group's timer travels in its group update instead).
  const timer = data.expireTimerUpdate && !data.group ? (data.expireTimerSeconds ?? null) : undefined;
  const message: MessageEntry = {
    id: `${conversation.id}/${ctx.sequencer.next()}`,
    conversationId: conversation.id,
    direction: 'outgoing',
    authorAccountId: me,
    authorDeviceId: envelope.sourceDeviceId,
    timestamp: data.timestamp,
    serverTimestamp: envelope.serverTimestamp,
    storedAt: clock.now(),
    text: timer === undefined ? data.text : timerText('You', timer),
    quote: data.quote ?? null,
    expireTimerSeconds: timer === undefined ? (data.expireTimerSeconds ?? null) : null,
    status: 'sent',
    read: true,
    error: null,
    ...(data.attachments ? { attachments: data.attachments.map((pointer) => entryOfPointer(ctx, pointer)) } : {}),
    ...(timer === undefined ? {} : { system: timerChange(timer) }),
  };
  const updated: ConversationEntry = {
    ...conversation,
    lastMessageAt: Math.max(conversation.lastMessageAt, message.storedAt),
    lastMessageKey: message.id,
    ...(timer === undefined ? {} : { expireTimerSeconds: timer }),
  };
  return storedMessage(message, updated);
};

/**
 * A notice one of our other devices sent: shown in the notices conversation as ours only when its certificate proves
 * admin or owner for our own account under the key pinned here (a sibling is held to what any member checks);
 * anything else is dropped and reported. Never with a destination or a group: a notice goes to everyone.
 */
const applyNoticeTranscript = async (
  input: HandlerInput<'sync'>,
  sync: Extract<Content, { kind: 'sync' }>['sync'] & { type: 'sent' },
): Promise<Applied> => {
  const { ctx, envelope } = input;
  const { storage } = ctx.platform;
  const me = ctx.account.accountId;
  const data = sync.message;
  const refused = (reason: string): Applied => {
    ctx.platform.logger.warn('notice transcript refused', { reason });
    return ignored([{ type: 'message-rejected', accountId: me, deviceId: envelope.sourceDeviceId, reason }]);
  };
  if (!data.notice || data.group || sync.destinationAccountId !== undefined) return refused('notice_misplaced');
  const organization = new Organization(ctx);
  const role = await noticeRole(organization, me, data.notice, (await organization.pinned()) !== undefined);
  if (role === null) return refused('notice_not_admin');
  const conversation = await noticesConversation(ctx);
  if ((await storage.get('messageIndex', messageIndexKey(conversation.id, me, data.timestamp))) !== undefined)
    return ignored();
  const profile = await readMeta(storage, 'profile');
  const { message, conversation: updated } = noticeEntry(ctx, conversation, {
    direction: 'outgoing',
    authorAccountId: me,
    authorDeviceId: envelope.sourceDeviceId,
    timestamp: data.timestamp,
    serverTimestamp: envelope.serverTimestamp,
    text: data.text,
    status: 'sent',
    read: true,
    role,
    senderUsername: profile?.username ?? null,
    credential: data.notice,
  });
  return storedMessage(message, updated);
};

const applyReadSync = async (
  input: HandlerInput<'sync'>,
  sync: Extract<Content, { kind: 'sync' }>['sync'] & { type: 'read' },
): Promise<Applied> => {
  const { ctx } = input;
  const { storage } = ctx.platform;
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  for (const position of sync.positions) {
    const conversationId =
      position.peerAccountId !== undefined
        ? directConversationId(position.peerAccountId)
        : groupConversationId(toHex(position.groupId ?? new Uint8Array(0)));
    const conversation = await ctx.history.conversation(conversationId);
    if (!conversation || conversation.unreadCount === 0) continue;
    let unread = 0;
    for (const { value: message } of await storage.list('messages', { prefix: `${conversationId}/` })) {
      if (message.direction !== 'incoming' || message.read) continue;
      if (message.timestamp > position.timestamp) {
        unread += 1;
        continue;
      }
      const read: MessageEntry = { ...message, read: true };
      writes.push({ op: 'put', table: 'messages', key: message.id, value: read });
      events.push({ type: 'message-updated', message: read });
    }
    const updated: ConversationEntry = { ...conversation, unreadCount: unread };
    writes.push(putConversation(updated));
    events.push({ type: 'conversation-updated', conversation: updated });
  }
  return { writes, events, stored: true, kick: false };
};

/** Every content kind and its handler: adding a kind to Content makes this table incomplete until it has one. */
export const CONTENT_HANDLERS: { [K in Content['kind']]: ContentHandler<K> } = {
  data: applyDataWithProfileKey,
  receipt: applyReceipt,
  typing: applyTyping,
  null: applyNull,
  retry: applyRetry,
  reaction: applyReaction,
  edit: applyEdit,
  delete: applyDelete,
  'group-update': applyGroupUpdate,
  'sender-key': applySenderKey,
  'profile-key': applyProfileKeyUpdate,
  sync: applySync,
};

/** Runs the handler of a content kind. */
export const applyContent = <K extends Content['kind']>(kind: K, input: HandlerInput<K>): Promise<Applied> =>
  CONTENT_HANDLERS[kind](input);
