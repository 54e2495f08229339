/**
 * Group state held by the members' clients: ids, the rules for applying a group update, the changes between two
 * revisions (the system lines "Ann added Ben") and the writes of a new revision. A group has a random 32-byte id
 * (lower-case hex here, `group:<id>` as a conversation) and a 32-byte master key; its state — title, description,
 * avatar pointer, members with roles, disappearing timer, revision — travels only inside end-to-end encrypted
 * group updates, each carrying the whole state of the next revision, sent pairwise to every member device.
 *
 * Rules for an update from a sender (the account of the 1:1 session it arrived on): a group we hold takes it only
 * when its revision is newer than ours, its master key is the group's, and its sender is an admin of OUR current
 * revision, or a member whose only change is leaving (the same state without itself); a group we do not hold takes
 * it only when we are listed and its sender is an admin in it (we are being added: the current state, no history).
 * Everything else is ignored (stale, duplicate, forged) and changes nothing. An update that removes or loses a
 * member makes us rotate our sender key (its row is deleted: the next send starts a new chain); a member's removed
 * DEVICE rotates it too, checked by the sender before each encryption (group-sender.ts).
 *
 * It does not send (group-sender.ts), receive envelopes (inbox.ts, content-handlers.ts) or take locks (callers
 * hold `groupLock`).
 */
import type { Content, GroupUpdate } from '@cove/protocol';

import type { WriteOp } from './platform.js';
import type { ConversationEntry, GroupChange, GroupEntry, GroupMemberEntry, MessageEntry } from './tables.js';
import { groupConversationId, memberKeyKey, ownSenderKeyKey } from './tables.js';

/** Group state changes (a read-modify-write of the group row) run under this lock; taken after a peer lock, never before. */
export const groupLock = (groupId: string): string => `cove:group:${groupId}`;

/** 32 random bytes, as hex: the canonical spelling of a group id in storage, conversation ids, the CLI and JSON. */
const GROUP_ID_HEX = /^[0-9a-f]{64}$/;
/** The same 32 bytes in unpadded base64url (43 characters), accepted as input. */
const GROUP_ID_BASE64URL = /^[A-Za-z0-9_-]{43}$/;

export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export const fromHex = (hex: string): Uint8Array => {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
};

/** A group id as a person or a script may write it (hex in any case, base64url, or `group:<hex>`), canonical; null if none. */
export const parseGroupId = (input: string): string | null => {
  const raw = input.startsWith('group:') ? input.slice('group:'.length) : input;
  if (GROUP_ID_HEX.test(raw.toLowerCase())) return raw.toLowerCase();
  if (GROUP_ID_BASE64URL.test(raw)) {
    const b64 = raw.replace(/-/g, '+').replace(/_/g, '/') + '=';
    const bin = atob(b64);
    if (bin.length !== 32) return null;
    return toHex(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }
  return null;
};

export const memberOf = (group: GroupEntry, accountId: string): GroupMemberEntry | undefined =>
  group.members.find((m) => m.accountId === accountId);

export const isAdmin = (group: GroupEntry, accountId: string): boolean => memberOf(group, accountId)?.role === 'admin';

/** The group-update content that carries a state. */
export const updateContent = (group: GroupEntry, timestamp: number): Content => ({
  kind: 'group-update',
  groupUpdate: {
    id: fromHex(group.id),
    masterKey: new Uint8Array(group.masterKey),
    revision: group.revision,
    title: group.title,
    ...(group.description ? { description: group.description } : {}),
    ...(group.avatar ? { avatar: group.avatar } : {}),
    members: group.members.map((m) => ({
      accountId: m.accountId,
      role: m.role,
      ...(m.username ? { username: m.username } : {}),
    })),
    ...(group.expireTimerSeconds ? { expireTimerSeconds: group.expireTimerSeconds } : {}),
    timestamp,
  },
});

/** A received update as the state it describes (members' usernames we already know win over claimed ones). */
export const stateOf = (update: GroupUpdate, previous: GroupEntry | undefined, now: number): GroupEntry => ({
  id: toHex(update.id),
  masterKey: new Uint8Array(update.masterKey),
  revision: update.revision,
  title: update.title,
  description: update.description ?? null,
  avatar: update.avatar ?? null,
  members: update.members.map((m) => ({
    accountId: m.accountId,
    role: m.role,
    username: (previous && memberOf(previous, m.accountId)?.username) ?? m.username ?? null,
  })),
  expireTimerSeconds: update.expireTimerSeconds ?? null,
  active: true,
  createdAt: previous?.createdAt ?? now,
  updatedAt: now,
});

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Whether `next` is `previous` with only `leaver` gone (a member leaving, which needs no admin). */
const isOnlyLeaving = (previous: GroupEntry, next: GroupEntry, leaver: string): boolean => {
  const rest = previous.members.filter((m) => m.accountId !== leaver);
  return (
    memberOf(previous, leaver) !== undefined &&
    next.members.length === rest.length &&
    rest.every((m) => memberOf(next, m.accountId)?.role === m.role) &&
    next.title === previous.title &&
    next.description === previous.description &&
    next.expireTimerSeconds === previous.expireTimerSeconds &&
    JSON.stringify(next.avatar) === JSON.stringify(previous.avatar)
  );
};

export type UpdateVerdict =
  | { apply: true; next: GroupEntry; changes: GroupChange[] }
  | { apply: false; reason: 'stale' | 'forbidden' | 'not-member' | 'forged' };

/** Decides whether an update from `sender` applies to what we hold (see the module comment), and what it changes. */
export const judgeUpdate = (
  existing: GroupEntry | undefined,
  update: GroupUpdate,
  sender: string,
  me: string,
  now: number,
): UpdateVerdict => {
  const next = stateOf(update, existing, now);
  if (existing) {
    if (!sameBytes(new Uint8Array(existing.masterKey), update.masterKey)) return { apply: false, reason: 'forged' };
    if (update.revision <= existing.revision) return { apply: false, reason: 'stale' };
    const allowed = existing.active
      ? isAdmin(existing, sender) || isOnlyLeaving(existing, next, sender)
      : memberOf(next, me) !== undefined && isAdmin(next, sender) && isAdmin(existing, sender);
    if (!allowed) return { apply: false, reason: 'forbidden' };
  } else {
    if (!memberOf(next, me)) return { apply: false, reason: 'not-member' };
    if (!isAdmin(next, sender)) return { apply: false, reason: 'forbidden' };
  }
  if (!memberOf(next, me)) next.active = false;
  return { apply: true, next, changes: changesBetween(existing?.active ? existing : undefined, next, sender) };
};

/** The changes from `previous` (none: we were just added or it was created) to `next`, made by `actor`. */
export const changesBetween = (previous: GroupEntry | undefined, next: GroupEntry, actor: string): GroupChange[] => {
  const base = { revision: next.revision, title: null, expireTimerSeconds: null };
  if (!previous) return [{ ...base, kind: 'created', members: next.members, title: next.title }];
  const changes: GroupChange[] = [];
  const added = next.members.filter((m) => !memberOf(previous, m.accountId));
  const removed = previous.members.filter((m) => !memberOf(next, m.accountId));
  if (added.length > 0) changes.push({ ...base, kind: 'added', members: added });
  if (removed.length === 1 && removed[0]?.accountId === actor)
    changes.push({ ...base, kind: 'left', members: removed });
  else if (removed.length > 0) changes.push({ ...base, kind: 'removed', members: removed });
  const promoted = next.members.filter((m) => m.role === 'admin' && memberOf(previous, m.accountId)?.role === 'member');
  if (promoted.length > 0) changes.push({ ...base, kind: 'admin', members: promoted });
  if (next.title !== previous.title) changes.push({ ...base, kind: 'title', members: [], title: next.title });
  if (next.description !== previous.description) changes.push({ ...base, kind: 'description', members: [] });
  if (next.expireTimerSeconds !== previous.expireTimerSeconds)
    changes.push({ ...base, kind: 'timer', members: [], expireTimerSeconds: next.expireTimerSeconds });
  return changes;
};

/** Whether a change takes someone out of the group (every remaining member then rotates its sender key). */
export const losesMembers = (changes: GroupChange[]): boolean =>
  changes.some((c) => c.kind === 'removed' || c.kind === 'left');

const nameOf = (member: GroupMemberEntry): string => member.username ?? member.accountId.slice(0, 8);

/** An English rendering of a change, stored as the system line's text (UIs render `system` in their language). */
export const describeChange = (change: GroupChange, actor: string): string => {
  const names = change.members.map(nameOf).join(', ');
  switch (change.kind) {
    case 'created':
      return `${actor} created the group "${change.title ?? ''}"`;
    case 'added':
      return `${actor} added ${names}`;
    case 'removed':
      return `${actor} removed ${names}`;
    case 'left':
      return `${actor} left the group`;
    case 'admin':
      return `${actor} made ${names} an admin`;
    case 'title':
      return `${actor} renamed the group to "${change.title ?? ''}"`;
    case 'description':
      return `${actor} changed the group description`;
    case 'timer':
      return change.expireTimerSeconds
        ? `${actor} set disappearing messages to ${change.expireTimerSeconds} s`
        : `${actor} turned off disappearing messages`;
  }
};

/** The group's conversation summary: the existing one, or a new one. */
export const groupConversation = (
  existing: ConversationEntry | undefined,
  group: Pick<GroupEntry, 'id' | 'title'>,
  now: number,
): ConversationEntry => ({
  ...(existing ?? {
    id: groupConversationId(group.id),
    peerAccountId: '',
    peerUsername: null,
    createdAt: now,
    lastMessageAt: now,
    lastMessageKey: null,
    unreadCount: 0,
  }),
  kind: 'group',
  groupId: group.id,
  title: group.title,
});

/**
 * The writes of a new revision: the group row, system lines for its changes (written by `actor`, at `timestamp`),
 * the conversation summary, and — when members were lost — our sender key's rotation and the lost members' keys
 * forgotten. Returns the writes, the system lines and the summary, for events after the commit.
 */
export const revisionWrites = (input: {
  previous: GroupEntry | undefined;
  next: GroupEntry;
  changes: GroupChange[];
  actor: GroupMemberEntry | { accountId: string; username: string | null };
  me: string;
  timestamp: number;
  conversation: ConversationEntry | undefined;
  nextSequence: () => string;
  now: number;
  /** Member device keys (`m/…` rows of `senderKeys`) of the group, to forget those of members who are gone. */
  memberKeyRows: { key: string; accountId: string }[];
}): { writes: WriteOp[]; lines: MessageEntry[]; conversation: ConversationEntry } => {
  const { previous, next, changes, actor, me, timestamp, now } = input;
  const writes: WriteOp[] = [{ op: 'put', table: 'groups', key: next.id, value: next }];
  const conversationId = groupConversationId(next.id);
  const actorName = actor.accountId === me ? 'You' : (actor.username ?? actor.accountId.slice(0, 8));
  const lines: MessageEntry[] = changes.map((change) => ({
    id: `${conversationId}/${input.nextSequence()}`,
    conversationId,
    direction: actor.accountId === me ? 'outgoing' : 'incoming',
    authorAccountId: actor.accountId,
    authorDeviceId: null,
    timestamp,
    serverTimestamp: null,
    storedAt: now,
    text: describeChange(change, actorName),
    quote: null,
    expireTimerSeconds: null,
    status: actor.accountId === me ? 'sent' : 'received',
    read: true,
    error: null,
    system: change,
  }));
  // System lines are not indexed by author and timestamp: one update makes several, and none is ever receipted.
  for (const line of lines) writes.push({ op: 'put', table: 'messages', key: line.id, value: line });
  const last = lines[lines.length - 1];
  const conversation: ConversationEntry = {
    ...groupConversation(input.conversation, next, now),
    ...(last ? { lastMessageAt: Math.max(input.conversation?.lastMessageAt ?? 0, now), lastMessageKey: last.id } : {}),
  };
  writes.push({ op: 'put', table: 'conversations', key: conversation.id, value: conversation });
  const lost = previous ? previous.members.filter((m) => !memberOf(next, m.accountId)) : [];
  if (lost.length > 0 || !next.active) {
    // Whoever is gone must not read anything new: our next group message starts a new chain (rotation).
    writes.push({ op: 'delete', table: 'senderKeys', key: ownSenderKeyKey(next.id) });
    for (const row of input.memberKeyRows)
      if (!next.active || lost.some((m) => m.accountId === row.accountId))
        writes.push({ op: 'delete', table: 'senderKeys', key: row.key });
  }
  return { writes, lines, conversation };
};

/** The `m/…` rows of a group's member device keys, with the account each belongs to. */
export const memberKeyPrefix = (groupId: string): string => `m/${groupId}/`;

export const accountOfMemberKey = (groupId: string, key: string): string => {
  const rest = key.slice(memberKeyPrefix(groupId).length);
  return rest.slice(0, rest.lastIndexOf('.'));
};

export { memberKeyKey };
