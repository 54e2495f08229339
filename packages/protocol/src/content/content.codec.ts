/**
 * Encodes and decodes Cove's `Content` (content.proto, package cove.content.v1) with the code protoc-gen-es
 * generates from that schema (generated/content_pb.ts), as a thin, strict wrapper: before the generated decoder
 * builds a message, content.wire-check.ts refuses wrong wire types, invalid UTF-8, duplicated bodies, over-long lists
 * and out-of-range 64-bit numbers; afterwards the message is turned into the public Content shape and held to
 * content.bounds.ts. Every refusal is a ContentError with a `reason`; unknown fields are skipped so that older
 * clients read newer content that only adds fields.
 * It does not pad or encrypt (see padding.ts and the client), and it does not clamp: a value out of bounds is refused.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';

import {
  MAX_ATTACHMENTS,
  MAX_GROUP_MEMBERS,
  MAX_READ_POSITIONS,
  MAX_RETRY_TIMESTAMPS,
  MAX_SYNC_RECORDS,
  MAX_TIMESTAMPS,
  MAX_TIMESTAMP_MS,
  validateContent,
} from './content.bounds.js';
import { ContentError, ContentErrorReason } from './content.types.js';
import type {
  AttachmentPointer,
  Content,
  ContentContext,
  ContactRecord,
  ConversationRecord,
  DataMessage,
  GroupContext,
  ReactionMessage,
  DeleteMessage,
  EditMessage,
  GroupMember,
  GroupUpdate,
  ReceiptMessage,
  RetryRequest,
  SyncMessage,
  TypingMessage,
} from './content.types.js';
import { checkWire } from './content.wire-check.js';
import type { WireRules } from './content.wire-check.js';
import * as pb from './generated/content_pb.js';

/** The content format version this code writes and the newest it reads. */
export const CONTENT_VERSION = 1;

/** What the wire check enforces while it reads: the list lengths of content.bounds.ts, and the date range. */
const WIRE_RULES: WireRules = {
  maxEntries: new Map([
    [pb.ReceiptMessageSchema.field.timestamps, MAX_TIMESTAMPS],
    [pb.RetryRequestSchema.field.timestamps, MAX_RETRY_TIMESTAMPS],
    [pb.RetryRequestSchema.field.unavailable, MAX_RETRY_TIMESTAMPS],
    [pb.DataMessageSchema.field.attachments, MAX_ATTACHMENTS],
    [pb.GroupUpdateSchema.field.members, MAX_GROUP_MEMBERS],
    [pb.ReadSyncSchema.field.positions, MAX_READ_POSITIONS],
    [pb.ContactsSyncSchema.field.contacts, MAX_SYNC_RECORDS],
    [pb.ConversationsSyncSchema.field.conversations, MAX_SYNC_RECORDS],
  ]),
  maxUint64: BigInt(MAX_TIMESTAMP_MS),
};

/**
 * Nesting budget of the generated decoder: above what the wire check lets through (three levels of messages plus
 * 100 levels of unknown groups under any field), so it never refuses what the check accepted.
 */
const DECODE_RECURSION_LIMIT = 200;

const toPointer = (pointer: AttachmentPointer): pb.AttachmentPointer =>
  create(pb.AttachmentPointerSchema, {
    storageId: pointer.storageId,
    key: pointer.key,
    digest: pointer.digest,
    paddedSize: BigInt(pointer.paddedSize),
    plainSize: BigInt(pointer.plainSize),
    contentType: pointer.contentType,
    fileName: pointer.fileName ?? '',
    width: pointer.width ?? 0,
    height: pointer.height ?? 0,
    thumbnail: pointer.thumbnail ?? new Uint8Array(0),
    blurhash: pointer.blurhash ?? '',
    durationMs: pointer.durationMs ?? 0,
    waveform: pointer.waveform ?? new Uint8Array(0),
    voiceNote: pointer.voiceNote ?? false,
    caption: pointer.caption ?? '',
  });

/** A UUID string as its 16 bytes (bounds already checked the format). */
const uuidToBytes = (id: string): Uint8Array => {
  const hex = id.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
};

/** 16 bytes as a lower-case dashed UUID; any other length is malformed. */
const uuidFromBytes = (bytes: Uint8Array, field: string): string => {
  if (bytes.length !== 16) throw new ContentError(`${field} is not 16 bytes`, ContentErrorReason.InvalidFormat);
  const h = Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

const toMember = (member: GroupMember): pb.GroupMember =>
  create(pb.GroupMemberSchema, {
    accountId: uuidToBytes(member.accountId),
    role: member.role === 'admin' ? pb.GroupMember_Role.ADMIN : pb.GroupMember_Role.MEMBER,
    username: member.username ?? '',
  });

const toGroupUpdate = (update: GroupUpdate): pb.GroupUpdate =>
  create(pb.GroupUpdateSchema, {
    id: update.id,
    masterKey: update.masterKey,
    revision: update.revision,
    title: update.title,
    description: update.description ?? '',
    ...(update.avatar ? { avatar: toPointer(update.avatar) } : {}),
    members: update.members.map(toMember),
    expireTimerSeconds: update.expireTimerSeconds ?? 0,
    timestamp: BigInt(update.timestamp),
  });

/** The `group` field of an action or indicator, present only when it is for a group. */
const groupField = (group: GroupContext | undefined): { group?: pb.GroupContext } =>
  group ? { group: create(pb.GroupContextSchema, { id: group.id, revision: group.revision }) } : {};

/** A decoded `group` field, or nothing when absent. */
const groupOf = (group: pb.GroupContext | undefined): { group?: GroupContext } =>
  group ? { group: { id: group.id, revision: group.revision } } : {};

const toData = (data: DataMessage): pb.DataMessage => {
  const { quote } = data;
  return create(pb.DataMessageSchema, {
    text: data.text,
    timestamp: BigInt(data.timestamp),
    ...(quote
      ? {
          quote: {
            timestamp: BigInt(quote.timestamp),
            authorAccountId: quote.authorAccountId,
            text: quote.text,
          },
        }
      : {}),
    expireTimerSeconds: data.expireTimerSeconds ?? 0,
    senderUsername: data.senderUsername ?? '',
    attachments: (data.attachments ?? []).map(toPointer),
    ...(data.group ? { group: { id: data.group.id, revision: data.group.revision } } : {}),
    ...(data.profileKey ? { profileKey: data.profileKey } : {}),
    ...(data.expireTimerUpdate ? { expireTimerUpdate: true } : {}),
    ...(data.notice
      ? {
          notice: {
            roleCertificate: data.notice.roleCertificate,
            roleCertificateSignature: data.notice.roleCertificateSignature,
          },
        }
      : {}),
  });
};

const TRUST_TO_WIRE = {
  'trusted-first-use': pb.ContactRecord_Trust.TRUSTED_FIRST_USE,
  verified: pb.ContactRecord_Trust.VERIFIED,
  unverified: pb.ContactRecord_Trust.UNVERIFIED,
} as const;

const toContactRecord = (record: ContactRecord): pb.ContactRecord =>
  create(pb.ContactRecordSchema, {
    accountId: record.accountId,
    username: record.username ?? '',
    nickname: record.nickname ?? '',
    identityKey: record.identityKey ?? new Uint8Array(0),
    trust: TRUST_TO_WIRE[record.trust],
    blocked: record.blocked,
    profileKey: record.profileKey ?? new Uint8Array(0),
    updatedAt: BigInt(record.updatedAt),
  });

const toConversationRecord = (record: ConversationRecord): pb.ConversationRecord =>
  create(pb.ConversationRecordSchema, {
    ...(record.peerAccountId === undefined ? {} : { peerAccountId: record.peerAccountId }),
    groupId: record.groupId ?? new Uint8Array(0),
    deleted: record.deleted,
    request: record.request,
    mutedUntil: BigInt(record.mutedUntil ?? 0),
    mutedForever: record.mutedForever,
    pinnedAt: BigInt(record.pinnedAt ?? 0),
    archived: record.archived,
    expireTimerSeconds: record.expireTimerSeconds ?? 0,
    updatedAt: BigInt(record.updatedAt),
  });

const toSyncBody = (sync: SyncMessage): pb.SyncMessage['body'] => {
  switch (sync.type) {
    case 'sent':
      return {
        case: 'sent',
        value: create(pb.SentTranscriptSchema, {
          ...(sync.destinationAccountId === undefined ? {} : { destinationAccountId: sync.destinationAccountId }),
          message: toData(sync.message),
        }),
      };
    case 'read':
      return {
        case: 'read',
        value: create(pb.ReadSyncSchema, {
          positions: sync.positions.map((p) => ({
            ...(p.peerAccountId === undefined ? {} : { peerAccountId: p.peerAccountId }),
            groupId: p.groupId ?? new Uint8Array(0),
            timestamp: BigInt(p.timestamp),
          })),
        }),
      };
    case 'action': {
      const { action } = sync;
      const body: pb.ActionTranscript['action'] =
        action.kind === 'reaction'
          ? { case: 'reaction', value: toReaction(action.reaction) }
          : action.kind === 'edit'
            ? { case: 'edit', value: toEdit(action.edit) }
            : { case: 'delete', value: toDelete(action.delete) };
      return {
        case: 'action',
        value: create(pb.ActionTranscriptSchema, { destinationAccountId: sync.destinationAccountId, action: body }),
      };
    }
    case 'contacts':
      return {
        case: 'contacts',
        value: create(pb.ContactsSyncSchema, { contacts: sync.contacts.map(toContactRecord) }),
      };
    case 'conversations':
      return {
        case: 'conversations',
        value: create(pb.ConversationsSyncSchema, { conversations: sync.conversations.map(toConversationRecord) }),
      };
    case 'profile':
      return { case: 'profile', value: create(pb.OwnProfileSyncSchema, { profileKey: sync.profileKey }) };
    case 'group-state':
      return { case: 'groupState', value: toGroupUpdate(sync.groupUpdate) };
    case 'request':
      return { case: 'request', value: create(pb.SyncRequestSchema) };
  }
};

const toSync = (sync: SyncMessage): pb.SyncMessage => create(pb.SyncMessageSchema, { body: toSyncBody(sync) });

const toReaction = (reaction: ReactionMessage): pb.ReactionMessage =>
  create(pb.ReactionMessageSchema, {
    timestamp: BigInt(reaction.timestamp),
    emoji: reaction.emoji,
    targetAuthorAccountId: reaction.targetAuthorAccountId,
    targetTimestamp: BigInt(reaction.targetTimestamp),
    remove: reaction.remove ?? false,
    ...groupField(reaction.group),
  });

const toDelete = (message: DeleteMessage): pb.DeleteMessage =>
  create(pb.DeleteMessageSchema, {
    timestamp: BigInt(message.timestamp),
    targetTimestamp: BigInt(message.targetTimestamp),
    ...groupField(message.group),
  });

const toEdit = (message: EditMessage): pb.EditMessage =>
  create(pb.EditMessageSchema, {
    timestamp: BigInt(message.timestamp),
    targetTimestamp: BigInt(message.targetTimestamp),
    text: message.text,
    ...groupField(message.group),
  });

const toMessage = (content: Content): pb.Content => {
  switch (content.kind) {
    case 'data':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'dataMessage', value: toData(content.data) },
      });
    case 'sync':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'syncMessage', value: toSync(content.sync) },
      });
    case 'receipt': {
      const value = create(pb.ReceiptMessageSchema, {
        type: content.receipt.type === 'read' ? pb.ReceiptMessage_Type.READ : pb.ReceiptMessage_Type.DELIVERY,
        timestamps: content.receipt.timestamps.map(BigInt),
      });
      return create(pb.ContentSchema, { version: CONTENT_VERSION, body: { case: 'receiptMessage', value } });
    }
    case 'typing': {
      const value = create(pb.TypingMessageSchema, {
        timestamp: BigInt(content.typing.timestamp),
        action: content.typing.action === 'stopped' ? pb.TypingMessage_Action.STOPPED : pb.TypingMessage_Action.STARTED,
        ...groupField(content.typing.group),
      });
      return create(pb.ContentSchema, { version: CONTENT_VERSION, body: { case: 'typingMessage', value } });
    }
    case 'retry': {
      const value = create(pb.RetryRequestSchema, {
        timestamps: content.retry.timestamps.map(BigInt),
        unavailable: (content.retry.unavailable ?? []).map(BigInt),
      });
      return create(pb.ContentSchema, { version: CONTENT_VERSION, body: { case: 'retryRequest', value } });
    }
    case 'null':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'nullMessage', value: create(pb.NullMessageSchema) },
      });
    case 'reaction':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'reactionMessage', value: toReaction(content.reaction) },
      });
    case 'delete':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'deleteMessage', value: toDelete(content.delete) },
      });
    case 'edit':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'editMessage', value: toEdit(content.edit) },
      });
    case 'group-update':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: { case: 'groupUpdate', value: toGroupUpdate(content.groupUpdate) },
      });
    case 'sender-key':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: {
          case: 'senderKeyDistribution',
          value: create(pb.SenderKeyDistributionSchema, {
            groupId: content.senderKey.groupId,
            distributionMessage: content.senderKey.distributionMessage,
            notice: content.senderKey.notice === true,
          }),
        },
      });
    case 'profile-key':
      return create(pb.ContentSchema, {
        version: CONTENT_VERSION,
        body: {
          case: 'profileKeyUpdate',
          value: create(pb.ProfileKeyUpdateSchema, { profileKey: content.profileKey }),
        },
      });
  }
};

/** Serializes content to protobuf bytes (unpadded). */
export const encodeContent = (content: Content): Uint8Array<ArrayBuffer> => {
  validateContent(content);
  return toBinary(pb.ContentSchema, toMessage(content));
};

/** A decoded 64-bit timestamp as a number; the wire check already refused values past the date range. */
const timestampOf = (value: bigint | undefined, field: string): number => {
  const raw = value ?? 0n;
  if (raw > WIRE_RULES.maxUint64) throw new ContentError(`${field} is too large`, ContentErrorReason.OutOfRange);
  return Number(raw);
};

/** A decoded size as a number; the wire check already refused values past 2^53 (content.bounds.ts bounds it). */
const sizeOf = (value: bigint, field: string): number => timestampOf(value, field);

const fromPointer = (message: pb.AttachmentPointer): AttachmentPointer => {
  const pointer: AttachmentPointer = {
    storageId: message.storageId,
    key: message.key,
    digest: message.digest,
    paddedSize: sizeOf(message.paddedSize, 'attachment.paddedSize'),
    plainSize: sizeOf(message.plainSize, 'attachment.plainSize'),
    contentType: message.contentType,
  };
  if (message.fileName !== '') pointer.fileName = message.fileName;
  if (message.width !== 0) pointer.width = message.width;
  if (message.height !== 0) pointer.height = message.height;
  if (message.thumbnail.length > 0) pointer.thumbnail = message.thumbnail;
  if (message.blurhash !== '') pointer.blurhash = message.blurhash;
  if (message.durationMs !== 0) pointer.durationMs = message.durationMs;
  if (message.waveform.length > 0) pointer.waveform = message.waveform;
  if (message.voiceNote) pointer.voiceNote = true;
  if (message.caption !== '') pointer.caption = message.caption;
  return pointer;
};

const fromData = (message: pb.DataMessage): DataMessage => {
  const data: DataMessage = { text: message.text ?? '', timestamp: timestampOf(message.timestamp, 'timestamp') };
  if (message.quote) {
    data.quote = {
      timestamp: timestampOf(message.quote.timestamp, 'quote.timestamp'),
      authorAccountId: (message.quote.authorAccountId ?? '').toLowerCase(),
      text: message.quote.text ?? '',
    };
  }
  if (message.expireTimerSeconds !== 0) data.expireTimerSeconds = message.expireTimerSeconds;
  if (message.senderUsername !== '') data.senderUsername = message.senderUsername;
  if (message.attachments.length > 0) data.attachments = message.attachments.map(fromPointer);
  if (message.group) data.group = { id: message.group.id, revision: message.group.revision };
  if (message.profileKey.length > 0) data.profileKey = message.profileKey;
  if (message.expireTimerUpdate) data.expireTimerUpdate = true;
  if (message.notice)
    data.notice = {
      roleCertificate: message.notice.roleCertificate,
      roleCertificateSignature: message.notice.roleCertificateSignature,
    };
  return data;
};

const fromMember = (member: pb.GroupMember, i: number): GroupMember => {
  const field = `groupUpdate.members[${i}]`;
  const accountId = uuidFromBytes(member.accountId, `${field}.accountId`);
  let role: GroupMember['role'];
  switch (member.role) {
    case pb.GroupMember_Role.ADMIN:
      role = 'admin';
      break;
    case pb.GroupMember_Role.MEMBER:
      role = 'member';
      break;
    default:
      throw new ContentError(`${field}.role is unknown`, ContentErrorReason.OutOfRange);
  }
  return member.username === '' ? { accountId, role } : { accountId, role, username: member.username };
};

const fromGroupUpdate = (message: pb.GroupUpdate): GroupUpdate => {
  const update: GroupUpdate = {
    id: message.id,
    masterKey: message.masterKey,
    revision: message.revision,
    title: message.title,
    members: message.members.map(fromMember),
    timestamp: timestampOf(message.timestamp, 'groupUpdate.timestamp'),
  };
  if (message.description !== '') update.description = message.description;
  if (message.avatar) update.avatar = fromPointer(message.avatar);
  if (message.expireTimerSeconds !== 0) update.expireTimerSeconds = message.expireTimerSeconds;
  return update;
};

const fromReceipt = (message: pb.ReceiptMessage): ReceiptMessage => {
  const timestamps = message.timestamps.map((t) => timestampOf(t, 'receipt.timestamps'));
  switch (message.type ?? pb.ReceiptMessage_Type.DELIVERY) {
    case pb.ReceiptMessage_Type.DELIVERY:
      return { type: 'delivery', timestamps };
    case pb.ReceiptMessage_Type.READ:
      return { type: 'read', timestamps };
    default:
      throw new ContentError('unknown receipt type', ContentErrorReason.OutOfRange);
  }
};

const fromTyping = (message: pb.TypingMessage): TypingMessage => {
  const timestamp = timestampOf(message.timestamp, 'typing.timestamp');
  switch (message.action ?? pb.TypingMessage_Action.STARTED) {
    case pb.TypingMessage_Action.STARTED:
      return { timestamp, action: 'started', ...groupOf(message.group) };
    case pb.TypingMessage_Action.STOPPED:
      return { timestamp, action: 'stopped', ...groupOf(message.group) };
    default:
      throw new ContentError('unknown typing action', ContentErrorReason.OutOfRange);
  }
};

const fromRetry = (message: pb.RetryRequest): RetryRequest => {
  const timestamps = message.timestamps.map((t) => timestampOf(t, 'retry.timestamps'));
  const unavailable = message.unavailable.map((t) => timestampOf(t, 'retry.unavailable'));
  return unavailable.length > 0 ? { timestamps, unavailable } : { timestamps };
};

const fromReaction = (message: pb.ReactionMessage): ReactionMessage => {
  const reaction: ReactionMessage = {
    timestamp: timestampOf(message.timestamp, 'reaction.timestamp'),
    emoji: message.emoji ?? '',
    targetAuthorAccountId: (message.targetAuthorAccountId ?? '').toLowerCase(),
    targetTimestamp: timestampOf(message.targetTimestamp, 'reaction.targetTimestamp'),
  };
  if (message.remove) reaction.remove = true;
  if (message.group) reaction.group = { id: message.group.id, revision: message.group.revision };
  return reaction;
};

const fromMessage = (message: pb.Content): Content => {
  if (message.version < 1) throw new ContentError('missing content version');
  if (message.version > CONTENT_VERSION)
    throw new ContentError(
      `content version ${message.version} is newer than ${CONTENT_VERSION}`,
      ContentErrorReason.Unsupported,
    );
  const { body } = message;
  switch (body.case) {
    case 'dataMessage':
      return { kind: 'data', data: fromData(body.value) };
    case 'receiptMessage':
      return { kind: 'receipt', receipt: fromReceipt(body.value) };
    case 'typingMessage':
      return { kind: 'typing', typing: fromTyping(body.value) };
    case 'retryRequest':
      return { kind: 'retry', retry: fromRetry(body.value) };
    case 'nullMessage':
      return { kind: 'null' };
    case 'reactionMessage':
      return { kind: 'reaction', reaction: fromReaction(body.value) };
    case 'deleteMessage':
      return { kind: 'delete', delete: fromDelete(body.value) };
    case 'editMessage':
      return { kind: 'edit', edit: fromEdit(body.value) };
    case 'groupUpdate':
      return { kind: 'group-update', groupUpdate: fromGroupUpdate(body.value) };
    case 'senderKeyDistribution':
      return {
        kind: 'sender-key',
        senderKey: {
          groupId: body.value.groupId,
          distributionMessage: body.value.distributionMessage,
          ...(body.value.notice ? { notice: true } : {}),
        },
      };
    case 'profileKeyUpdate':
      return { kind: 'profile-key', profileKey: body.value.profileKey };
    case 'syncMessage':
      return { kind: 'sync', sync: fromSync(body.value) };
    case undefined:
      throw new ContentError('content has no body');
  }
};

const fromDelete = (message: pb.DeleteMessage): DeleteMessage => ({
  timestamp: timestampOf(message.timestamp, 'delete.timestamp'),
  targetTimestamp: timestampOf(message.targetTimestamp, 'delete.targetTimestamp'),
  ...groupOf(message.group),
});

const fromEdit = (message: pb.EditMessage): EditMessage => ({
  timestamp: timestampOf(message.timestamp, 'edit.timestamp'),
  targetTimestamp: timestampOf(message.targetTimestamp, 'edit.targetTimestamp'),
  text: message.text ?? '',
  ...groupOf(message.group),
});

const fromTrust = (trust: pb.ContactRecord_Trust, field: string): ContactRecord['trust'] => {
  switch (trust) {
    case pb.ContactRecord_Trust.TRUSTED_FIRST_USE:
      return 'trusted-first-use';
    case pb.ContactRecord_Trust.VERIFIED:
      return 'verified';
    case pb.ContactRecord_Trust.UNVERIFIED:
      return 'unverified';
    default:
      throw new ContentError(`${field}.trust is unknown`, ContentErrorReason.OutOfRange);
  }
};

const fromContactRecord = (message: pb.ContactRecord, i: number): ContactRecord => {
  const field = `contacts[${i}]`;
  const record: ContactRecord = {
    accountId: (message.accountId ?? '').toLowerCase(),
    trust: fromTrust(message.trust, field),
    blocked: message.blocked,
    updatedAt: timestampOf(message.updatedAt, `${field}.updatedAt`),
  };
  if (message.username !== '') record.username = message.username;
  if (message.nickname !== '') record.nickname = message.nickname;
  if (message.identityKey.length > 0) record.identityKey = message.identityKey;
  if (message.profileKey.length > 0) record.profileKey = message.profileKey;
  return record;
};

const fromConversationRecord = (message: pb.ConversationRecord, i: number): ConversationRecord => {
  const field = `conversations[${i}]`;
  const mutedUntil = timestampOf(message.mutedUntil, `${field}.mutedUntil`);
  const pinnedAt = timestampOf(message.pinnedAt, `${field}.pinnedAt`);
  return {
    ...(message.peerAccountId === undefined ? {} : { peerAccountId: message.peerAccountId.toLowerCase() }),
    ...(message.groupId.length > 0 ? { groupId: message.groupId } : {}),
    deleted: message.deleted,
    request: message.request,
    ...(mutedUntil > 0 ? { mutedUntil } : {}),
    mutedForever: message.mutedForever,
    ...(pinnedAt > 0 ? { pinnedAt } : {}),
    archived: message.archived,
    ...(message.expireTimerSeconds !== 0 ? { expireTimerSeconds: message.expireTimerSeconds } : {}),
    updatedAt: timestampOf(message.updatedAt, `${field}.updatedAt`),
  };
};

const fromAction = (message: pb.ActionTranscript): SyncMessage => {
  const { action } = message;
  const destinationAccountId = (message.destinationAccountId ?? '').toLowerCase();
  switch (action.case) {
    case 'reaction':
      return {
        type: 'action',
        destinationAccountId,
        action: { kind: 'reaction', reaction: fromReaction(action.value) },
      };
    case 'edit':
      return { type: 'action', destinationAccountId, action: { kind: 'edit', edit: fromEdit(action.value) } };
    case 'delete':
      return { type: 'action', destinationAccountId, action: { kind: 'delete', delete: fromDelete(action.value) } };
    case undefined:
      throw new ContentError('action transcript without its action');
  }
};

const fromSync = (message: pb.SyncMessage): SyncMessage => {
  const { body } = message;
  switch (body.case) {
    case 'sent': {
      if (!body.value.message) throw new ContentError('sent transcript without its message');
      return {
        type: 'sent',
        ...(body.value.destinationAccountId === undefined
          ? {}
          : { destinationAccountId: body.value.destinationAccountId.toLowerCase() }),
        message: fromData(body.value.message),
      };
    }
    case 'read':
      return {
        type: 'read',
        positions: body.value.positions.map((p) => ({
          ...(p.peerAccountId === undefined ? {} : { peerAccountId: p.peerAccountId.toLowerCase() }),
          ...(p.groupId.length > 0 ? { groupId: p.groupId } : {}),
          timestamp: timestampOf(p.timestamp, 'read.timestamp'),
        })),
      };
    case 'action':
      return fromAction(body.value);
    case 'contacts':
      return { type: 'contacts', contacts: body.value.contacts.map(fromContactRecord) };
    case 'conversations':
      return { type: 'conversations', conversations: body.value.conversations.map(fromConversationRecord) };
    case 'profile':
      return { type: 'profile', profileKey: body.value.profileKey };
    case 'groupState':
      return { type: 'group-state', groupUpdate: fromGroupUpdate(body.value) };
    case 'request':
      return { type: 'request' };
    case undefined:
      throw new ContentError('sync message has no body');
  }
};

/**
 * Parses protobuf bytes (already unpadded) into validated content. Pass the envelope's server timestamp as
 * `context` so that timestamps are held to their windows; anything else throws a ContentError, never another error.
 */
export const decodeContent = (bytes: Uint8Array, context?: ContentContext): Content => {
  try {
    checkWire(pb.ContentSchema, bytes, WIRE_RULES);
    const message = fromBinary(pb.ContentSchema, bytes, {
      readUnknownFields: false,
      recursionLimit: DECODE_RECURSION_LIMIT,
    });
    const content = fromMessage(message);
    validateContent(content, context);
    return content;
  } catch (error) {
    if (error instanceof ContentError) throw error;
    // The wire reader's own errors: truncation, bad tags, invalid varints, groups nested too deeply.
    throw new ContentError(`malformed protobuf: ${error instanceof Error ? error.message : String(error)}`);
  }
};
