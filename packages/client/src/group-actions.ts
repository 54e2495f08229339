/**
 * What a member does to a group from this device: create one, add or remove members, leave, rename, make an admin,
 * send a text. Each change is checked here (only an admin changes a group; anyone may leave), committed as the next
 * revision — the group row, its system lines, the conversation summary, our sender key's rotation when someone is
 * gone, and one outbox entry per member account (removed ones included, so that they learn it) carrying the whole
 * new state — in ONE commit under the group's lock, and then reported. A text is stored with its outbox entry of
 * kind `group` (sent with sender keys by group-sender.ts). It does not send or receive by itself.
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
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type { ConversationEntry, GroupEntry, GroupMemberEntry, MessageEntry } from './tables.js';
import { groupConversationId } from './tables.js';

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

/** Stores a text for the group (status `sending`) with its outbox entry in one commit; the outbox sends it. */
export const sendGroupText = async (
  ctx: MessengerContext,
  groupIdInput: string,
  text: string,
): Promise<MessageEntry> => {
  if (text.length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the message is empty');
  if (utf8.encode(text).length > MAX_TEXT_BYTES)
    throw new ClientError(ClientErrorCode.InvalidInput, `the message is longer than ${MAX_TEXT_BYTES} bytes`);
  const groupId = groupIdOrThrow(groupIdInput);
  const profile = await readMeta(ctx.platform.storage, 'profile');
  const { message, conversation } = await ctx.platform.locks.withLock(groupLock(groupId), async () => {
    const { storage, clock } = ctx.platform;
    const group = await storage.get('groups', groupId);
    if (!group) throw new ClientError(ClientErrorCode.InvalidInput, 'no such group');
    if (!group.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are no longer in this group');
    const timestamp = ctx.timestamps.next();
    const content = encodeDataMessage({
      text,
      timestamp,
      senderUsername: profile?.username,
      expireTimerSeconds: group.expireTimerSeconds,
      group: { id: fromHex(groupId), revision: group.revision },
    });
    const conversationId = groupConversationId(groupId);
    const base = groupConversation(await ctx.history.conversation(conversationId), group, clock.now());
    const stored: MessageEntry = {
      id: `${conversationId}/${ctx.sequencer.next()}`,
      conversationId,
      direction: 'outgoing',
      authorAccountId: ctx.account.accountId,
      authorDeviceId: ctx.account.deviceId,
      timestamp,
      serverTimestamp: null,
      storedAt: clock.now(),
      text,
      quote: null,
      expireTimerSeconds: group.expireTimerSeconds,
      status: 'sending',
      read: true,
      error: null,
    };
    const updated: ConversationEntry = {
      ...base,
      lastMessageAt: Math.max(base.lastMessageAt, stored.storedAt),
      lastMessageKey: stored.id,
    };
    const entry = newOutboxEntry(ctx, {
      destination: conversationId,
      kind: 'group',
      timestamp,
      content,
      messageKey: stored.id,
    });
    await storage.commit([...putMessage(stored), putConversation(updated), putOutboxEntry(entry)]);
    return { message: stored, conversation: updated };
  });
  emit(ctx, { type: 'message-added', message });
  emit(ctx, { type: 'conversation-updated', conversation });
  return message;
};

/** Groups held here, newest activity first; `active` false for those we left or were removed from. */
export const listGroups = async (ctx: MessengerContext): Promise<GroupEntry[]> =>
  (await ctx.platform.storage.list('groups')).map(({ value }) => value).sort((a, b) => b.updatedAt - a.updatedAt);

/** One group, or undefined. */
export const getGroup = async (ctx: MessengerContext, groupId: string): Promise<GroupEntry | undefined> =>
  ctx.platform.storage.get('groups', groupIdOrThrow(groupId));
