/**
 * State synced between one account's own devices (docs/linking.md): contacts (username, nickname, identity key and
 * its trust, block, profile key), conversations (request accepted or deleted, mute, pin, archive, timer), this
 * account's profile key after an edit or a rotation, whole group states, and action transcripts (reactions, edits
 * and deletes for everyone this device sent). Each change made here is queued as a `SyncMessage` to our own account
 * (outbox kind `sync`, ordinary end-to-end encrypted envelopes) by `queueContactSync`, `queueConversationSync`,
 * `queueProfileSync`, `groupStateSyncWrites` and `actionTranscriptOf`; `fullSyncWrites` carries everything at once
 * to a device that just appeared. The receiving side (`apply…`) is called by content-handlers.ts only for content
 * from a sibling device (the sender found after opening is our own account).
 *
 * Convergence: every contact and conversation record carries the time the user last changed it on the sending
 * device; the receiver keeps a stamp per item (`meta` rows `sync/contact/<id>`, `sync/conversation/<id>`) and takes
 * a record only when it is newer than its own stamp (last writer wins). An older record (or one from a full sync of
 * items never changed) only fills in what this device lacks — an unknown contact or conversation, a missing nickname,
 * identity or profile key — and never clears, unblocks or un-verifies. A synced identity key is taken only for a
 * contact whose key this device does not hold; a synced trust applies only to the same key. It sends nothing else and
 * fetches nothing itself (the own profile is refetched by the messenger after the commit).
 */
import { PublicKey, equalBytes } from '@cove/crypto';
import { MAX_ENVELOPE_CONTENT_BYTES, encodeContent } from '@cove/protocol';
import type { ContactRecord, ConversationRecord, GroupUpdate, SyncMessage, SyncedAction } from '@cove/protocol';

import { CHAT_PREFERENCES_PREFIX, MUTED_FOREVER, readChatPreference, toChatPreferences } from './chat-preferences.js';
import type { MessengerContext } from './context.js';
import { peerLock } from './context.js';
import type { MessengerEvent } from './events.js';
import { deleteMessage, newConversation, putConversation } from './history.js';
import {
  accountOfMemberKey,
  changesBetween,
  fromHex,
  groupConversation,
  groupLock,
  memberKeyPrefix,
  memberOf,
  revisionWrites,
  stateOf,
  toHex,
  updateContent,
} from './groups.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type {
  ChatPreferencesRecord,
  ContactEntry,
  ConversationEntry,
  GroupEntry,
  IdentityEntry,
  MessageEntry,
} from './tables.js';
import { directConversationId, directPeerOf, groupConversationId, groupOf } from './tables.js';

/** Meta keys of the per-item change stamps. */
const contactStampKey = (accountId: string): string => `sync/contact/${accountId}`;
const conversationStampKey = (conversationId: string): string => `sync/conversation/${conversationId}`;

/**
 * Records per sync message: below the wire bound (MAX_SYNC_RECORDS) and small enough that a message of typical
 * records stays far under the envelope limit; `chunked` also splits by encoded size for long nicknames.
 */
const RECORDS_PER_MESSAGE = 200;
/**
 * A sibling's sync request is answered at most this often: a new device asks once, and a device of our own that
 * asked in a loop must not make this one resend everything each time.
 */
const FULL_SYNC_INTERVAL_MS = 60_000;
const fullSyncAtKey = (deviceId: number): string => `sync/full-at/${deviceId}`;

/** Encoded size a sync message is kept under: the envelope limit less room for padding and the envelope itself. */
const MAX_SYNC_BYTES = MAX_ENVELOPE_CONTENT_BYTES / 2;

const stampOf = async (ctx: MessengerContext, key: string): Promise<number> => {
  const value = await ctx.platform.storage.get('meta', key);
  return typeof value === 'number' ? value : 0;
};

/** The outbox entry that carries one sync message to our own other devices. */
const syncEntry = (ctx: MessengerContext, sync: SyncMessage): WriteOp =>
  putOutboxEntry(
    newOutboxEntry(ctx, {
      destination: ctx.account.accountId,
      kind: 'sync',
      timestamp: ctx.timestamps.next(),
      content: encodeContent({ kind: 'sync', sync }),
    }),
  );

/** Splits records into sync messages under both the count and the size limit. */
const chunked = <T>(records: T[], make: (part: T[]) => SyncMessage): SyncMessage[] => {
  const out: SyncMessage[] = [];
  let part: T[] = [];
  const size = (items: T[]): number => encodeContent({ kind: 'sync', sync: make(items) }).length;
  for (const record of records) {
    part.push(record);
    if (part.length > 1 && (part.length > RECORDS_PER_MESSAGE || size(part) > MAX_SYNC_BYTES)) {
      part.pop();
      out.push(make(part));
      part = [record];
    }
  }
  if (part.length > 0) out.push(make(part));
  return out;
};

// ---- building records from local state ---------------------------------------------------------------------

const contactRecordOf = async (
  ctx: MessengerContext,
  contact: ContactEntry,
  updatedAt: number,
): Promise<ContactRecord> => {
  const identity = await ctx.platform.storage.get('identities', contact.accountId);
  return {
    accountId: contact.accountId,
    ...(contact.username ? { username: contact.username } : {}),
    ...(contact.nickname ? { nickname: contact.nickname } : {}),
    ...(identity ? { identityKey: new Uint8Array(identity.publicKey) } : {}),
    trust: identity?.trust ?? 'trusted-first-use',
    blocked: contact.blockedAt !== undefined,
    ...(contact.profileKey ? { profileKey: new Uint8Array(contact.profileKey) } : {}),
    updatedAt,
  };
};

const conversationRecordOf = (
  conversation: ConversationEntry,
  preferences: ChatPreferencesRecord,
  updatedAt: number,
): ConversationRecord => {
  const groupId = groupOf(conversation.id);
  const muted = preferences.mutedUntil;
  return {
    ...(groupId !== null ? { groupId: fromHex(groupId) } : { peerAccountId: conversation.peerAccountId }),
    deleted: false,
    request: conversation.request === true,
    ...(muted !== null && muted !== MUTED_FOREVER ? { mutedUntil: muted } : {}),
    mutedForever: muted === MUTED_FOREVER,
    ...(preferences.pinnedAt !== null ? { pinnedAt: preferences.pinnedAt } : {}),
    archived: preferences.archivedAfter !== null,
    ...(conversation.expireTimerSeconds ? { expireTimerSeconds: conversation.expireTimerSeconds } : {}),
    updatedAt,
  };
};

const deletedRecordOf = (conversationId: string, updatedAt: number): ConversationRecord => {
  const groupId = groupOf(conversationId);
  return {
    ...(groupId !== null ? { groupId: fromHex(groupId) } : { peerAccountId: directPeerOf(conversationId) ?? '' }),
    deleted: true,
    request: false,
    mutedForever: false,
    archived: false,
    updatedAt,
  };
};

// ---- queueing this device's changes ------------------------------------------------------------------------

/** Queues the current state of these contacts (after the user changed them here) to our other devices. */
export const queueContactSync = async (ctx: MessengerContext, accountIds: string[]): Promise<void> => {
  const { storage, clock } = ctx.platform;
  const now = clock.now();
  const records: ContactRecord[] = [];
  const writes: WriteOp[] = [];
  for (const accountId of new Set(accountIds)) {
    if (accountId === ctx.account.accountId) continue;
    const contact = await storage.get('contacts', accountId);
    if (!contact) continue;
    records.push(await contactRecordOf(ctx, contact, now));
    writes.push({ op: 'put', table: 'meta', key: contactStampKey(accountId), value: now });
  }
  if (records.length === 0) return;
  for (const sync of chunked(records, (contacts) => ({ type: 'contacts', contacts })))
    writes.push(syncEntry(ctx, sync));
  await storage.commit(writes);
};

/**
 * Queues the current state of these conversations (after the user changed them here; one that no longer exists
 * goes as deleted) to our other devices.
 */
export const queueConversationSync = async (ctx: MessengerContext, conversationIds: string[]): Promise<void> => {
  const { storage, clock } = ctx.platform;
  const now = clock.now();
  const records: ConversationRecord[] = [];
  const writes: WriteOp[] = [];
  for (const id of new Set(conversationIds)) {
    if (groupOf(id) === null && directPeerOf(id) === null) continue;
    if (directPeerOf(id) === ctx.account.accountId) continue;
    const conversation = await storage.get('conversations', id);
    records.push(
      conversation
        ? conversationRecordOf(conversation, await readChatPreference(storage, id), now)
        : deletedRecordOf(id, now),
    );
    writes.push({ op: 'put', table: 'meta', key: conversationStampKey(id), value: now });
  }
  if (records.length === 0) return;
  for (const sync of chunked(records, (conversations) => ({ type: 'conversations', conversations })))
    writes.push(syncEntry(ctx, sync));
  await storage.commit(writes);
};

/** Queues this account's current profile key (after a profile edit or a key rotation here). */
export const queueProfileSync = async (ctx: MessengerContext, profileKey: Uint8Array): Promise<void> => {
  await ctx.platform.storage.commit([syncEntry(ctx, { type: 'profile', profileKey: new Uint8Array(profileKey) })]);
};

/** The write that carries a group's new state to our other devices (in the commit of the revision). */
export const groupStateSyncWrites = (ctx: MessengerContext, group: GroupEntry): WriteOp[] => {
  const content = updateContent(group, ctx.platform.clock.now());
  if (content.kind !== 'group-update') return [];
  return [syncEntry(ctx, { type: 'group-state', groupUpdate: content.groupUpdate })];
};

/** The transcript of a message action (reaction, edit, delete) this device sent to `destination`, or null. */
export const actionTranscriptOf = (destination: string, action: SyncedAction | null): SyncMessage | null =>
  action ? { type: 'action', destinationAccountId: destination, action } : null;

/**
 * Everything at once, for a device of ours that just appeared (linked, or re-registered): every contact, every
 * conversation with its settings, every group we are in, and the profile key. Records carry their stored stamps (0
 * for items never changed since syncing existed), so a receiver with newer changes keeps them.
 */
export const fullSyncWrites = async (ctx: MessengerContext, forDevices: number[] = []): Promise<WriteOp[]> => {
  const { storage } = ctx.platform;
  const me = ctx.account.accountId;
  const contacts: ContactRecord[] = [];
  for (const { value: contact } of await storage.list('contacts')) {
    if (contact.accountId === me) continue;
    contacts.push(await contactRecordOf(ctx, contact, await stampOf(ctx, contactStampKey(contact.accountId))));
  }
  const preferences = new Map(
    (await storage.list('meta', { prefix: CHAT_PREFERENCES_PREFIX })).map((e) => [
      e.key.slice(CHAT_PREFERENCES_PREFIX.length),
      toChatPreferences(e.value),
    ]),
  );
  const conversations: ConversationRecord[] = [];
  for (const conversation of await ctx.history.conversations()) {
    if (conversation.peerAccountId === me) continue;
    // Only direct and group conversations are synced (the organization's notices conversation is neither).
    if (groupOf(conversation.id) === null && directPeerOf(conversation.id) === null) continue;
    const settings = preferences.get(conversation.id) ?? toChatPreferences(null);
    conversations.push(
      conversationRecordOf(conversation, settings, await stampOf(ctx, conversationStampKey(conversation.id))),
    );
  }
  const writes: WriteOp[] = [];
  // Groups first: a conversation record of a group is applied only when the group is held.
  for (const { value: group } of await storage.list('groups'))
    if (group.active) writes.push(...groupStateSyncWrites(ctx, group));
  for (const sync of chunked(contacts, (part) => ({ type: 'contacts', contacts: part })))
    writes.push(syncEntry(ctx, sync));
  for (const sync of chunked(conversations, (part) => ({ type: 'conversations', conversations: part })))
    writes.push(syncEntry(ctx, sync));
  const own = await storage.get('meta', 'ownProfile');
  if (own && typeof own === 'object' && 'profileKey' in own)
    writes.push(syncEntry(ctx, { type: 'profile', profileKey: new Uint8Array(own.profileKey) }));
  for (const deviceId of forDevices)
    writes.push({ op: 'put', table: 'meta', key: fullSyncAtKey(deviceId), value: ctx.platform.clock.now() });
  return writes;
};

/**
 * A full sync for siblings that appeared or asked for one (just linked), leaving out those that got one within the
 * interval (a new device both appears and asks); empty when none is left.
 */
export const fullSyncFor = async (ctx: MessengerContext, deviceIds: number[]): Promise<WriteOp[]> => {
  const now = ctx.platform.clock.now();
  const due: number[] = [];
  for (const deviceId of new Set(deviceIds)) {
    const last = await stampOf(ctx, fullSyncAtKey(deviceId));
    if (!(now >= last && now - last < FULL_SYNC_INTERVAL_MS)) due.push(deviceId);
  }
  return due.length === 0 ? [] : fullSyncWrites(ctx, due);
};

// ---- applying a sibling's syncs ----------------------------------------------------------------------------

/**
 * The locks a sibling's sync must be applied under, in the order to take them (after the own account's, which the
 * inbox holds): the peer lock of every contact a contact record names, then for conversation records the peer lock of
 * each direct conversation's peer and the lock of each group. Every other change of those rows is made under those
 * locks (a profile fetched, a nickname set, a message stored, a setting changed); a sync applied under the own
 * account's lock alone could read a row before such a commit and write it back after, undoing it, or have its own
 * change undone the same way (seen: a synced nickname lost to a profile fetch of that contact committed meanwhile).
 * Empty for every other sync.
 */
export const syncRowLocks = (ctx: MessengerContext, sync: SyncMessage): string[] => {
  const me = ctx.account.accountId;
  const peers = new Set<string>();
  const groups = new Set<string>();
  if (sync.type === 'contacts') for (const record of sync.contacts) peers.add(record.accountId);
  if (sync.type === 'conversations')
    for (const record of sync.conversations) {
      if (record.groupId) groups.add(toHex(record.groupId));
      else if (record.peerAccountId) peers.add(record.peerAccountId);
    }
  // Our own account's lock is held already (not re-entrant): never asked for again.
  peers.delete(me);
  return [...[...peers].sort().map(peerLock), ...[...groups].sort().map(groupLock)];
};

export type SyncApplied = { writes: WriteOp[]; events: MessengerEvent[] };

const sameKey = (a: Uint8Array, b: Uint8Array): boolean => equalBytes(new Uint8Array(a), new Uint8Array(b));

/** Contact records: newer ones replace this device's state; older ones only fill in what it lacks. */
export const applyContactRecords = async (ctx: MessengerContext, records: ContactRecord[]): Promise<SyncApplied> => {
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const now = clock.now();
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  for (const record of records) {
    const id = record.accountId;
    if (id === me) continue;
    const existing = await storage.get('contacts', id);
    const identity = await storage.get('identities', id);
    // A contact blocked before stamps existed counts as changed when it was blocked.
    const local = Math.max(await stampOf(ctx, contactStampKey(id)), existing?.blockedAt ?? 0);
    const newer = record.updatedAt > local;
    let next: ContactEntry = existing ?? { accountId: id, username: null, devices: null, updatedAt: now };
    if (record.username && (newer || !next.username)) next = { ...next, username: record.username };
    if (newer || next.nickname === undefined) {
      const { nickname: _old, ...rest } = next;
      next = record.nickname ? { ...rest, nickname: record.nickname } : newer ? rest : next;
    }
    if (
      record.profileKey &&
      (newer || !next.profileKey) &&
      !(next.profileKey && sameKey(next.profileKey, record.profileKey))
    ) {
      const { profile: _dropped, ...rest } = next;
      next = { ...rest, profileKey: new Uint8Array(record.profileKey) };
    }
    const wasBlocked = next.blockedAt !== undefined;
    if (newer && record.blocked !== wasBlocked) {
      if (record.blocked) next = { ...next, blockedAt: record.updatedAt };
      else {
        const { blockedAt: _blockedAt, ...rest } = next;
        next = rest;
      }
      events.push({ type: 'block-list-changed', accountId: id, blocked: record.blocked });
      if (record.blocked) {
        // Nothing more goes to them from this device either: queued receipts and typing are dropped (as blockPeer).
        for (const { key, value } of await storage.list('outbox'))
          if (value.destination === id && (value.kind === 'receipt' || value.kind === 'typing'))
            writes.push({ op: 'delete', table: 'outbox', key });
      }
    }
    // Only a contact that changed is written and announced (a full sync of 800 unchanged contacts must not make 800
    // profile fetches).
    const changed =
      !existing ||
      existing.username !== next.username ||
      existing.nickname !== next.nickname ||
      existing.blockedAt !== next.blockedAt ||
      existing.profileKey !== next.profileKey;
    if (changed) {
      writes.push({ op: 'put', table: 'contacts', key: id, value: { ...next, updatedAt: now } });
      if (next.username) writes.push({ op: 'put', table: 'usernames', key: next.username.toLowerCase(), value: id });
    }
    const before = writes.length;
    if (record.identityKey) {
      let key: Uint8Array | null;
      try {
        key = PublicKey.deserialize(record.identityKey).serialize();
      } catch {
        key = null;
      }
      if (key && !identity) {
        // A key this device never had: taken with the sibling's trust (as the provisioning message does).
        const entry: IdentityEntry = {
          publicKey: key,
          trust: record.trust,
          firstSeenAt: now,
          changedAt: null,
          blocked: false,
        };
        writes.push({ op: 'put', table: 'identities', key: id, value: entry });
      } else if (key && identity && sameKey(identity.publicKey, key) && newer && identity.trust !== record.trust) {
        // The same key, verified or un-verified there: the same here (verifying also lifts a send block).
        const entry: IdentityEntry = {
          ...identity,
          trust: record.trust,
          blocked: record.trust === 'verified' ? false : identity.blocked,
        };
        writes.push({ op: 'put', table: 'identities', key: id, value: entry });
      }
    }
    const identityChanged = writes.length > before;
    if (newer) writes.push({ op: 'put', table: 'meta', key: contactStampKey(id), value: record.updatedAt });
    if (changed || identityChanged) events.push({ type: 'contact-updated', accountId: id });
  }
  return { writes, events };
};

/** Conversation records: newer ones replace this device's state (or delete it); older ones only create. */
export const applyConversationRecords = async (
  ctx: MessengerContext,
  records: ConversationRecord[],
): Promise<SyncApplied & { deletedBlobsOf: MessageEntry[] }> => {
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const now = clock.now();
  const writes: WriteOp[] = [];
  const events: MessengerEvent[] = [];
  const deletedBlobsOf: MessageEntry[] = [];
  for (const record of records) {
    const groupId = record.groupId ? toHex(record.groupId) : null;
    if (groupId === null && record.peerAccountId === me) continue;
    const id = groupId !== null ? groupConversationId(groupId) : directConversationId(record.peerAccountId ?? '');
    const existing = await storage.get('conversations', id);
    const newer = record.updatedAt > (await stampOf(ctx, conversationStampKey(id)));
    if (!newer && (existing || record.deleted)) continue;
    if (newer) writes.push({ op: 'put', table: 'meta', key: conversationStampKey(id), value: record.updatedAt });
    if (record.deleted) {
      const messages = (await storage.list('messages', { prefix: `${id}/` })).map(({ value }) => value);
      if (!existing && messages.length === 0) continue;
      const queued = (await storage.list('outbox')).filter(
        ({ value }) => value.messageKey !== null && value.messageKey.startsWith(`${id}/`),
      );
      writes.push(
        ...messages.flatMap(deleteMessage),
        ...queued.map(({ key }): WriteOp => ({ op: 'delete', table: 'outbox', key })),
        { op: 'delete', table: 'conversations', key: id },
        { op: 'delete', table: 'meta', key: CHAT_PREFERENCES_PREFIX + id },
      );
      deletedBlobsOf.push(...messages.filter((m) => m.attachments?.length));
      events.push({ type: 'conversation-removed', conversationId: id });
      continue;
    }
    let conversation: ConversationEntry;
    if (groupId !== null) {
      const group = await storage.get('groups', groupId);
      // A group this device does not hold (its state comes in its own sync): nothing to show yet.
      if (!group) continue;
      conversation = groupConversation(existing, group, now);
    } else {
      const peer = record.peerAccountId ?? '';
      conversation = existing ?? newConversation(peer, (await storage.get('contacts', peer))?.username ?? null, now);
      conversation = { ...conversation, expireTimerSeconds: record.expireTimerSeconds ?? null };
    }
    if (record.request) conversation = { ...conversation, request: true };
    else {
      const { request: _request, invitedBy: _invitedBy, ...accepted } = conversation;
      conversation = accepted;
    }
    writes.push(putConversation(conversation));
    const preferences: ChatPreferencesRecord = {
      mutedUntil: record.mutedForever ? MUTED_FOREVER : (record.mutedUntil ?? null),
      pinnedAt: record.pinnedAt ?? null,
      // Archived as of this device's newest message (arrival order is per device).
      archivedAfter: record.archived ? (conversation.lastMessageKey ?? '') : null,
    };
    const key = CHAT_PREFERENCES_PREFIX + id;
    writes.push(
      preferences.mutedUntil === null && preferences.pinnedAt === null && preferences.archivedAfter === null
        ? { op: 'delete', table: 'meta', key }
        : { op: 'put', table: 'meta', key, value: preferences },
    );
    events.push({ type: 'conversation-updated', conversation });
  }
  return { writes, events, deletedBlobsOf };
};

/**
 * A group's whole state from a sibling: taken when this device does not hold the group or holds an older revision
 * of it (the same master key), with the system lines of what changed since.
 */
export const applyGroupState = async (ctx: MessengerContext, update: GroupUpdate): Promise<SyncApplied> => {
  const { storage, clock } = ctx.platform;
  const me = ctx.account.accountId;
  const groupId = toHex(update.id);
  const existing = await storage.get('groups', groupId);
  if (existing && (!sameKey(existing.masterKey, update.masterKey) || update.revision <= existing.revision))
    return { writes: [], events: [] };
  const next: GroupEntry = stateOf(update, existing, clock.now());
  if (!memberOf(next, me)) next.active = false;
  const memberKeyRows = (await storage.list('senderKeys', { prefix: memberKeyPrefix(groupId) })).map(({ key }) => ({
    key,
    accountId: accountOfMemberKey(groupId, key),
  }));
  const own = memberOf(next, me) ?? { accountId: me, username: null };
  const { writes, lines, conversation } = revisionWrites({
    previous: existing,
    next,
    // A group this device never held shows no history of changes (who made them is not in the state); a newer
    // revision of one it holds is a change made on the sibling, by us.
    changes: existing ? changesBetween(existing.active ? existing : undefined, next, me) : [],
    actor: own,
    me,
    timestamp: update.timestamp,
    conversation: await ctx.history.conversation(groupConversationId(groupId)),
    nextSequence: () => ctx.sequencer.next(),
    now: clock.now(),
    memberKeyRows,
  });
  const events: MessengerEvent[] = lines.map((message) => ({ type: 'message-added', message }));
  events.push({ type: 'conversation-updated', conversation }, { type: 'group-updated', group: next });
  return { writes, events };
};
