/**
 * The history archive a linking device may hand to the new one (docs/linking.md, "History transfer"): the pointer
 * that rides in the encrypted provisioning message (`ProvisioningPayload.history`) and the archive's plaintext
 * (JSON, encrypted and uploaded like an attachment). Recent messages of each conversation with their timestamps,
 * authors, quotes, reactions, edits and attachment pointers — never attachment bytes, never system lines — and the
 * organization notices, each with the sender's role certificate so the new device can check it as it would a live
 * notice. This module holds shapes and bounds only: building, encrypting, checking authors and certificates and
 * importing is the client's work.
 */
import { z } from 'zod';

import { BASE64_PATTERN, base64Length } from './base64.js';
import { MAX_EXPIRE_SECONDS, ROLE_CERTIFICATE_BYTES } from './content/content.bounds.js';
import { AccountId, Username } from './http.js';
import { SIGNATURE_BYTES } from './limits.js';

/**
 * Largest archive (padded plaintext) a new device downloads: 200 conversations of 500 messages at about 300 bytes
 * of JSON each fit, and a new device never holds more than this in memory while it verifies and imports.
 */
export const MAX_HISTORY_ARCHIVE_BYTES = 32 * 1024 * 1024;
/** Conversations per archive: the most recent ones (what a user scrolls to on a new device). */
export const MAX_HISTORY_CONVERSATIONS = 200;
/** Messages per conversation in an archive (the newest ones). */
export const MAX_HISTORY_MESSAGES_PER_CONVERSATION = 500;
/** Attachments, reactions and edits per message: the content bounds' orders of magnitude (one screenful each). */
const MAX_ARCHIVED_ATTACHMENTS = 32;
const MAX_ARCHIVED_REACTIONS = 256;
const MAX_ARCHIVED_EDITS = 64;
/** Text bound in UTF-16 units: a 64 KiB UTF-8 text never has more (the content bound is checked in bytes). */
const MAX_ARCHIVED_TEXT = 64 * 1024;
/** Millisecond times: a safe integer range (year 275 760 at most, as Date allows). */
const Time = z.number().int().min(0).max(8.64e15);
const Base64 = (maxBytes: number) =>
  z.string().max(base64Length(maxBytes)).regex(BASE64_PATTERN, 'must be standard base64');

/** The notices conversation's id (the client's NOTICES_CONVERSATION_ID): the one conversation notices sit in. */
export const ARCHIVED_NOTICES_CONVERSATION_ID = 'notices';

/** `direct:<account id>`, `group:<64 hex>` or `notices`: the only conversations an archive may fill. */
export const ArchivedConversationId = z
  .string()
  .regex(
    /^(?:direct:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|group:[0-9a-f]{64}|notices)$/,
    'must be direct:<account id>, group:<group id> or notices',
  );

/** The server's storage ids: safe in a URL path (the content bounds' pattern). */
const StorageId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a storage id');

/** Where the encrypted archive is (an attachment upload) and how to open it: attachment key, digest and sizes. */
export const HistoryArchivePointer = z.strictObject({
  storageId: StorageId,
  /** Standard base64 of the attachment key (32 bytes) and digest (32 bytes). */
  key: Base64(32),
  digest: Base64(32),
  paddedSize: z.number().int().min(1).max(MAX_HISTORY_ARCHIVE_BYTES),
  plainSize: z.number().int().min(0).max(MAX_HISTORY_ARCHIVE_BYTES),
  /** Messages and conversations in it, for the new device's progress. */
  messages: z
    .number()
    .int()
    .min(0)
    .max(MAX_HISTORY_CONVERSATIONS * MAX_HISTORY_MESSAGES_PER_CONVERSATION),
  conversations: z.number().int().min(0).max(MAX_HISTORY_CONVERSATIONS),
});

export const ArchivedAttachment = z.strictObject({
  storageId: StorageId,
  key: Base64(32),
  digest: Base64(32),
  paddedSize: z
    .number()
    .int()
    .min(0)
    .max(2 * 1024 * 1024 * 1024),
  plainSize: z
    .number()
    .int()
    .min(0)
    .max(2 * 1024 * 1024 * 1024),
  contentType: z.string().max(128),
  fileName: z.string().max(255).nullable(),
  width: z.number().int().min(0).max(100_000).nullable(),
  height: z.number().int().min(0).max(100_000).nullable(),
  thumbnail: Base64(64 * 1024).nullable(),
  durationMs: z.number().int().min(0).max(8.64e7).nullable(),
  waveform: Base64(1024).nullable(),
  voiceNote: z.boolean(),
  caption: z.string().max(4096).nullable(),
});

/**
 * What makes an archived message an organization notice (only in the `notices` conversation, where every message
 * has it): the sender's username as the old device confirmed it, and the role certificate (34-byte body, 64-byte
 * signature) the notice carried, which the new device verifies under its own pinned organization key.
 */
export const ArchivedNotice = z.strictObject({
  senderUsername: Username.nullable(),
  roleCertificate: Base64(ROLE_CERTIFICATE_BYTES),
  roleCertificateSignature: Base64(SIGNATURE_BYTES),
});

export const ArchivedMessage = z.strictObject({
  /** The conversation it belongs to: must be the one it is listed under (a message claiming another is refused). */
  conversationId: ArchivedConversationId,
  direction: z.enum(['incoming', 'outgoing']),
  authorAccountId: AccountId,
  authorDeviceId: z.number().int().min(1).max(1000).nullable(),
  /** The sender's timestamp: with the author, the message's identity across devices (duplicates are skipped). */
  timestamp: Time,
  serverTimestamp: Time.nullable(),
  /** When the old device stored it: orders the imported history and starts a disappearing timer as it did there. */
  storedAt: Time,
  text: z.string().max(MAX_ARCHIVED_TEXT),
  quote: z
    .strictObject({ timestamp: Time, authorAccountId: AccountId, text: z.string().max(MAX_ARCHIVED_TEXT) })
    .nullable(),
  expireTimerSeconds: z.number().int().min(1).max(MAX_EXPIRE_SECONDS).nullable(),
  status: z.enum(['sent', 'delivered', 'read', 'received']),
  read: z.boolean(),
  attachments: z.array(ArchivedAttachment).max(MAX_ARCHIVED_ATTACHMENTS).optional(),
  reactions: z
    .array(z.strictObject({ authorAccountId: AccountId, emoji: z.string().min(1).max(64), timestamp: Time }))
    .max(MAX_ARCHIVED_REACTIONS)
    .optional(),
  edits: z
    .array(z.strictObject({ text: z.string().max(MAX_ARCHIVED_TEXT), timestamp: Time }))
    .max(MAX_ARCHIVED_EDITS)
    .optional(),
  editedAt: Time.optional(),
  deletedAt: Time.optional(),
  /** Present exactly on the messages of the `notices` conversation. */
  notice: ArchivedNotice.optional(),
});

export const ArchivedConversation = z.strictObject({
  id: ArchivedConversationId,
  /** Direct conversations: the peer's username as the old device knew it. */
  peerUsername: Username.nullable(),
  /** Groups: the title as the old device knew it (the group state itself arrives with the full sync). */
  title: z.string().max(256).nullable(),
  messages: z.array(ArchivedMessage).max(MAX_HISTORY_MESSAGES_PER_CONVERSATION),
});

/** The archive's plaintext: whose it is, when it was made, and the conversations, most recent first. */
export const HistoryArchive = z.strictObject({
  version: z.literal(1),
  accountId: AccountId,
  createdAt: Time,
  conversations: z.array(ArchivedConversation).max(MAX_HISTORY_CONVERSATIONS),
});

export type HistoryArchivePointer = z.infer<typeof HistoryArchivePointer>;
export type ArchivedAttachment = z.infer<typeof ArchivedAttachment>;
export type ArchivedNotice = z.infer<typeof ArchivedNotice>;
export type ArchivedMessage = z.infer<typeof ArchivedMessage>;
export type ArchivedConversation = z.infer<typeof ArchivedConversation>;
export type HistoryArchive = z.infer<typeof HistoryArchive>;
