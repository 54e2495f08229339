/**
 * What a member does to a group from this device: create one, add or remove members, leave, rename, make an admin,
 * send a message (text, a reply quoting a message of the group, a photo, voice note or file). Each change is
 * checked here (only an admin changes a group; anyone may leave), committed as the next revision — the group row, its system lines, the conversation summary, our sender key's rotation when someone is
 * gone, and one outbox entry per member account (removed ones included, so that they learn it) carrying the whole
 * new state — in ONE commit under the group's lock, and then reported. A text is stored with its outbox entry of
 * kind `group` (sent with sender keys by group-sender.ts); an attachment is uploaded once for all members. It does not
 * send or receive by itself.
 */
import { encodeContent } from '@cove/protocol';
import { MAX_GROUP_MEMBERS, MAX_GROUP_TITLE_CHARS, MAX_TEXT_BYTES } from '@cove/protocol';

import { resolveCached } from './contacts.js';
import { encodeDataMessage } from './content-builder.js';
import { groupStateSyncWrites } from './device-sync.js';
import type { MessengerContext } from './context.js';
import { emit } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import type { MessengerEvent } from './events.js';
import {
  accountOfMemberKey,
  changesBetween,
  fromHex,
  groupConversation,
  groupLock,
  isAdmin,
  memberKeyPrefix,
  memberOf,
  parseGroupId,
  revisionWrites,
  toHex,
  updateContent,
} from './groups.js';
import { putConversation, putMessage } from './history.js';
import { readMeta } from './meta.js';
import { readOwnProfile } from './profiles.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type {
  AttachmentEntry,
  ConversationEntry,
  GroupEntry,
  GroupMemberEntry,
  MessageEntry,
  PendingUpload,
  QuoteEntry,
} from './tables.js';
import { groupConversationId, messageIndexKey } from './tables.js';
import type { OutgoingAttachment } from './attachments/attachment-service.js';
import { pointerOf, prepareOutgoing } from './attachments/attachment-service.js';
import { deleteUpload } from './attachments/tus-client.js';

const utf8 = new TextEncoder();

/** A group id given by a caller, canonical, or InvalidInput. */
export const groupIdOrThrow = (input: string): string => {
  const id = parseGroupId(input);
  if (id === null) throw new ClientError(ClientErrorCode.InvalidInput, 'not a group id');
  return id;
};

const checkTitle = (title: string): void => {
  if (title.trim().length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the group needs a name');
  if ([...title].length > MAX_GROUP_TITLE_CHARS)
    throw new ClientError(ClientErrorCode.InvalidInput, `a group name has at most ${MAX_GROUP_TITLE_CHARS} characters`);
};

/** Members named by username or account id, resolved (asking the server for unknown usernames). */
const resolveMembers = async (ctx: MessengerContext, peers: string[]): Promise<GroupMemberEntry[]> => {
  const members: GroupMemberEntry[] = [];
  for (const peer of peers) {
    const accountId = await resolveCached(ctx, peer);
    if (accountId === ctx.account.accountId || members.some((m) => m.accountId === accountId)) continue;
    const contact = await ctx.platform.storage.get('contacts', accountId);
    members.push({ accountId, role: 'member', username: contact?.username ?? null });
  }
  return members;
};

const ownMember = async (ctx: MessengerContext, role: GroupMemberEntry['role']): Promise<GroupMemberEntry> => ({
  accountId: ctx.account.accountId,
  role,
  username: (await readMeta(ctx.platform.storage, 'profile'))?.username ?? null,
});

/** One outbox entry per account (but ours) carrying the state, all with the same timestamp. */
const updateEntries = (ctx: MessengerContext, group: GroupEntry, accounts: string[], timestamp: number): WriteOp[] => {
  const content = encodeContent(updateContent(group, timestamp));
  return [...new Set(accounts)]
    .filter((a) => a !== ctx.account.accountId)
    .map((destination) =>
      putOutboxEntry(newOutboxEntry(ctx, { destination, kind: 'group-control', timestamp, content })),
    );
};

const commitRevision = async (
  ctx: MessengerContext,
  previous: GroupEntry | undefined,
  next: GroupEntry,
): Promise<GroupEntry> => {
  const { storage, clock } = ctx.platform;
  const timestamp = ctx.timestamps.next();
  const me = await ownMember(ctx, memberOf(next, ctx.account.accountId)?.role ?? 'member');
  const changes = changesBetween(previous, next, ctx.account.accountId);
  const memberKeyRows = (await storage.list('senderKeys', { prefix: memberKeyPrefix(next.id) })).map(({ key }) => ({
    key,
    accountId: accountOfMemberKey(next.id, key),
  }));
  const { writes, lines, conversation } = revisionWrites({
    previous,
    next,
    changes,
    actor: me,
    me: ctx.account.accountId,
    timestamp,
    conversation: await ctx.history.conversation(groupConversationId(next.id)),
    nextSequence: () => ctx.sequencer.next(),
    now: clock.now(),
    memberKeyRows,
  });
  const accounts = [...(previous?.members ?? []), ...next.members].map((m) => m.accountId);
  // Every member's pairwise update is stored in the same commit as the revision: none can be lost in a crash.
  writes.push(...updateEntries(ctx, next, accounts, timestamp));
  // Our own other devices get the new state too (they are not among the members' addresses: ours is skipped).
  writes.push(...groupStateSyncWrites(ctx, next));
  await storage.commit(writes);
  const events: MessengerEvent[] = lines.map((message) => ({ type: 'message-added', message }));
  events.push({ type: 'conversation-updated', conversation }, { type: 'group-updated', group: next });
  for (const event of events) emit(ctx, event);
  return next;
};

/** Creates a group with us as its admin and the named members, and sends them its state. */
export const createGroup = async (ctx: MessengerContext, title: string, peers: string[]): Promise<GroupEntry> => {
  checkTitle(title);
  const members = await resolveMembers(ctx, peers);
  if (members.length + 1 > MAX_GROUP_MEMBERS)
    throw new ClientError(ClientErrorCode.InvalidInput, `a group has at most ${MAX_GROUP_MEMBERS} members`);
  const { random, clock } = ctx.platform;
  const id = toHex(random.bytes(32));
  const group: GroupEntry = {
    id,
    masterKey: random.bytes(32),
    revision: 0,
    title,
    description: null,
    avatar: null,
    members: [await ownMember(ctx, 'admin'), ...members],
    expireTimerSeconds: null,
    active: true,
    createdAt: clock.now(),
    updatedAt: clock.now(),
  };
  return ctx.platform.locks.withLock(groupLock(id), () => commitRevision(ctx, undefined, group));
};

/**
 * Applies `change` to the group as the next revision, if we may: an admin any change, anyone leaving. Throws
 * InvalidInput for an unknown group, a group we are no longer in, or a change we may not make.
 */
const changeGroup = async (
  ctx: MessengerContext,
  groupIdInput: string,
  change: (group: GroupEntry) => GroupEntry,
  options: { leaving?: boolean } = {},
): Promise<GroupEntry> => {
  const groupId = groupIdOrThrow(groupIdInput);
  return ctx.platform.locks.withLock(groupLock(groupId), async () => {
    const group = await ctx.platform.storage.get('groups', groupId);
    if (!group) throw new ClientError(ClientErrorCode.InvalidInput, 'no such group');
    if (!group.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are no longer in this group');
    if (!options.leaving && !isAdmin(group, ctx.account.accountId))
      throw new ClientError(ClientErrorCode.InvalidInput, 'only an admin can change this group');
    const changed = change(structuredClone(group));
    const next: GroupEntry = {
      ...changed,
      revision: group.revision + 1,
      active: memberOf(changed, ctx.account.accountId) !== undefined,
      updatedAt: ctx.platform.clock.now(),
    };
    return commitRevision(ctx, group, next);
  });
};

export const addMembers = async (ctx: MessengerContext, groupId: string, peers: string[]): Promise<GroupEntry> => {
  const added = await resolveMembers(ctx, peers);
  return changeGroup(ctx, groupId, (group) => {
    const members = [...group.members, ...added.filter((m) => !memberOf(group, m.accountId))];
    if (members.length > MAX_GROUP_MEMBERS)
      throw new ClientError(ClientErrorCode.InvalidInput, `a group has at most ${MAX_GROUP_MEMBERS} members`);
    if (members.length === group.members.length)
      throw new ClientError(ClientErrorCode.InvalidInput, 'they are already members');
    return { ...group, members };
  });
};

export const removeMembers = async (ctx: MessengerContext, groupId: string, peers: string[]): Promise<GroupEntry> => {
  const removed = (await resolveMembers(ctx, peers)).map((m) => m.accountId);
  return changeGroup(ctx, groupId, (group) => {
    const members = group.members.filter((m) => !removed.includes(m.accountId));
    if (members.length === group.members.length)
      throw new ClientError(ClientErrorCode.InvalidInput, 'they are not members');
    return { ...group, members };
  });
};

/** Leaves a group (an only admin hands the role to the first remaining member, so that the group keeps one). */
export const leaveGroup = (ctx: MessengerContext, groupId: string): Promise<GroupEntry> =>
  changeGroup(
    ctx,
    groupId,
    (group) => {
      const me = ctx.account.accountId;
      let members = group.members.filter((m) => m.accountId !== me);
      if (isAdmin(group, me) && !members.some((m) => m.role === 'admin') && members[0])
        members = [{ ...members[0], role: 'admin' }, ...members.slice(1)];
      return { ...group, members };
    },
    { leaving: true },
  );

export const setGroupTitle = (ctx: MessengerContext, groupId: string, title: string): Promise<GroupEntry> => {
  checkTitle(title);
  return changeGroup(ctx, groupId, (group) => ({ ...group, title }));
};

export const makeAdmin = async (ctx: MessengerContext, groupId: string, peer: string): Promise<GroupEntry> => {
  const accountId = await resolveCached(ctx, peer);
  return changeGroup(ctx, groupId, (group) => {
    if (!memberOf(group, accountId)) throw new ClientError(ClientErrorCode.InvalidInput, 'not a member');
    return { ...group, members: group.members.map((m) => (m.accountId === accountId ? { ...m, role: 'admin' } : m)) };
  });
};

/** What a group message carries besides its timestamp (text, quote, attachments and their uploads). */
type GroupMessageFields = {
  text: string;
  quote: QuoteEntry | null;
  attachments?: AttachmentEntry[];
  uploads?: PendingUpload[];
};

/** The encoded group data message (with the group's context), or InvalidInput when out of the codec's bounds. */
export const encodeGroupMessage = (
  fields: { text: string; timestamp: number; quote: QuoteEntry | null; attachments?: AttachmentEntry[] | undefined },
  group: GroupEntry,
  senderUsername: string | null | undefined,
  profileKey?: Uint8Array | null,
): Uint8Array =>
  encodeDataMessage({
    text: fields.text,
    timestamp: fields.timestamp,
    senderUsername,
    quote: fields.quote,
    expireTimerSeconds: group.expireTimerSeconds,
    attachments: fields.attachments?.map(pointerOf) ?? null,
    group: { id: fromHex(group.id), revision: group.revision },
    // Every group message carries our profile key (as Signal's do): members who never chatted with us 1:1 can then
    // show our profile name. Receivers take it only as the key of the member whose chain carried it.
    profileKey: profileKey ?? null,
  });

/**
 * Stores a group message (status `sending`) with its outbox entry of kind `group` in one commit under the group's
 * lock; the outbox sends it (after its uploads, if any). An upload not created yet (server unreachable) leaves the
 * content empty: the uploader encodes it once every upload exists.
 */
const storeGroupMessage = async (
  ctx: MessengerContext,
  groupIdInput: string,
  fields: GroupMessageFields,
): Promise<MessageEntry> => {
  const groupId = groupIdOrThrow(groupIdInput);
  const profile = await readMeta(ctx.platform.storage, 'profile');
  const { profileKey } = await readOwnProfile(ctx);
  const { message, conversation } = await ctx.platform.locks.withLock(groupLock(groupId), async () => {
    const { storage, clock } = ctx.platform;
    const group = await storage.get('groups', groupId);
    if (!group) throw new ClientError(ClientErrorCode.InvalidInput, 'no such group');
    if (!group.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are no longer in this group');
    const timestamp = ctx.timestamps.next();
    const deferred = fields.attachments?.some((a) => a.storageId === '') ?? false;
    // Checked now in every case (a caption or quote out of bounds is refused at once), with a stand-in storage id
    // while an upload does not exist yet.
    const checked = encodeGroupMessage(
      {
        ...fields,
        timestamp,
        attachments: fields.attachments?.map((a) => (a.storageId === '' ? { ...a, storageId: 'deferred' } : a)),
      },
      group,
      profile?.username,
      profileKey,
    );
    const content = deferred ? new Uint8Array(0) : checked;
    const conversationId = groupConversationId(groupId);
    // Writing in a group we were invited to accepts it (as writing in a 1:1 request does): read receipts and
    // typing indicators are shared from now on.
    const {
      request: _request,
      invitedBy: _invitedBy,
      ...base
    } = groupConversation(await ctx.history.conversation(conversationId), group, clock.now());
    const stored: MessageEntry = {
      id: `${conversationId}/${ctx.sequencer.next()}`,
      conversationId,
      direction: 'outgoing',
      authorAccountId: ctx.account.accountId,
      authorDeviceId: ctx.account.deviceId,
      timestamp,
      serverTimestamp: null,
      storedAt: clock.now(),
      text: fields.text,
      quote: fields.quote,
      expireTimerSeconds: group.expireTimerSeconds,
      status: 'sending',
      read: true,
      error: null,
      ...(fields.attachments ? { attachments: fields.attachments } : {}),
    };
    const updated: ConversationEntry = {
      ...base,
      lastMessageAt: Math.max(base.lastMessageAt, stored.storedAt),
      lastMessageKey: stored.id,
    };
    const entry = {
      ...newOutboxEntry(ctx, {
        destination: conversationId,
        kind: 'group',
        timestamp,
        content,
        messageKey: stored.id,
      }),
      ...(fields.uploads ? { uploads: fields.uploads } : {}),
    };
    await storage.commit([...putMessage(stored), putConversation(updated), putOutboxEntry(entry)]);
    return { message: stored, conversation: updated };
  });
  emit(ctx, { type: 'message-added', message });
  emit(ctx, { type: 'conversation-updated', conversation });
  return message;
};

/** A quote of a message in the group's conversation (any member's, or ours), as the quoting message carries it. */
const quoteInGroup = async (ctx: MessengerContext, groupId: string, quote: QuoteEntry): Promise<QuoteEntry> => {
  const key = await ctx.platform.storage.get(
    'messageIndex',
    messageIndexKey(groupConversationId(groupId), quote.authorAccountId, quote.timestamp),
  );
  if (key === undefined) throw new ClientError(ClientErrorCode.InvalidInput, 'the quoted message is not in this group');
  return quote;
};

/** Stores a text for the group (status `sending`, optionally quoting a message of the group); the outbox sends it. */
export const sendGroupText = async (
  ctx: MessengerContext,
  groupIdInput: string,
  text: string,
  options: { quote?: QuoteEntry | null } = {},
): Promise<MessageEntry> => {
  if (text.length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the message is empty');
  if (utf8.encode(text).length > MAX_TEXT_BYTES)
    throw new ClientError(ClientErrorCode.InvalidInput, `the message is longer than ${MAX_TEXT_BYTES} bytes`);
  const groupId = groupIdOrThrow(groupIdInput);
  const quote = options.quote ? await quoteInGroup(ctx, groupId, options.quote) : null;
  return storeGroupMessage(ctx, groupId, { text, quote });
};

/**
 * Sends a photo, voice note or file (with an optional caption) to a group: encrypted once into the local blob store
 * and uploaded once, then its pointer goes to every member in the one sender-key message (as for 1:1: size and quota
 * refused before anything is stored; the blob and upload are dropped when the message cannot be stored).
 */
export const sendGroupAttachment = async (
  ctx: MessengerContext,
  groupIdInput: string,
  input: OutgoingAttachment,
): Promise<MessageEntry> => {
  const groupId = groupIdOrThrow(groupIdInput);
  const group = await ctx.platform.storage.get('groups', groupId);
  if (!group?.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are not in this group');
  const { entry: attachment, upload } = await prepareOutgoing(ctx, input);
  try {
    return await storeGroupMessage(ctx, groupId, {
      text: input.caption ?? '',
      quote: null,
      attachments: [attachment],
      uploads: [upload],
    });
  } catch (error) {
    await ctx.platform.attachments?.delete(attachment.blobId);
    if (upload.uploadUrl !== null) await deleteUpload(ctx, upload.uploadUrl);
    throw error;
  }
};

/** Groups held here, newest activity first; `active` false for those we left or were removed from. */
export const listGroups = async (ctx: MessengerContext): Promise<GroupEntry[]> =>
  (await ctx.platform.storage.list('groups')).map(({ value }) => value).sort((a, b) => b.updatedAt - a.updatedAt);

/** One group, or undefined. */
export const getGroup = async (ctx: MessengerContext, groupId: string): Promise<GroupEntry | undefined> =>
  ctx.platform.storage.get('groups', groupIdOrThrow(groupId));
