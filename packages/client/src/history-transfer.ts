/**
 * History transfer when linking a device (docs/linking.md, "History transfer"). The existing device builds an archive
 * of recent history (the newest messages of the most recent conversations, within a number of days: timestamps,
 * authors, quotes, reactions, edits and attachment POINTERS — the attachments' bytes stay where they are on the
 * server — and the organization notices with the role certificate each carried), encrypts it as an attachment under
 * a fresh key, uploads it with tus, and hands the pointer (storage id, key, digest, sizes) to the new device inside
 * the encrypted provisioning message. The new device downloads it, verifies the digest before anything is decrypted,
 * checks every message (its account, its conversation, its author; a notice only in the notices conversation), and
 * only then imports it, skipping what it already holds (same conversation, author and timestamp). Anything wrong
 * refuses the whole archive (`history_refused`) and stores nothing. A notice whose certificate does not prove admin
 * or owner for its sender under the organization key this device pins is dropped and counted, as a live one would be
 * (the rest imports). Progress is reported through a callback on both sides. It does not send the provisioning
 * message (linking.ts) or choose whether to transfer (the shells ask the user).
 */
import {
  AttachmentError,
  attachmentBlobSize,
  attachmentPaddedSize,
  decryptAttachmentBytes,
  encryptAttachment,
} from '@cove/crypto';
import {
  ArchivedConversationId,
  HistoryArchive,
  ROLE_CERTIFICATE_BYTES,
  SIGNATURE_BYTES,
  MAX_HISTORY_ARCHIVE_BYTES,
  MAX_HISTORY_CONVERSATIONS,
  MAX_HISTORY_MESSAGES_PER_CONVERSATION,
  fromBase64,
  isReactionEmoji,
  toBase64,
  type ArchivedAttachment,
  type ArchivedConversation,
  type ArchivedMessage,
  type ArchivedNotice,
  type HistoryArchivePointer,
} from '@cove/protocol';

import { ATTACHMENT_PIECE_BYTES } from './attachments/attachment-service.js';
import { newBlobId } from './attachments/blob-id.js';
import {
  appendToUpload,
  attachmentHttpError,
  binaryRequest,
  createUpload,
  deleteUpload,
} from './attachments/tus-client.js';
import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { groupConversation, groupLock } from './groups.js';
import { isExpired, newConversation, putConversation, putMessage } from './history.js';
import { readMeta } from './meta.js';
import { newNoticesConversation } from './notices.js';
import { Organization } from './organization.js';
import type { WriteOp } from './platform.js';
import type { AttachmentEntry, ConversationEntry, MessageEntry, OrganizationRecord } from './tables.js';
import { NOTICES_CONVERSATION_ID, directPeerOf, groupOf, pad } from './tables.js';

/**
 * Days of history an archive covers by default: a month is what Signal's linked devices show after a transfer, and
 * it keeps a typical archive to a few hundred KiB.
 */
export const HISTORY_DEFAULT_DAYS = 30;
/** Messages per conversation by default: a few screens back, enough to carry on a conversation in context. */
export const HISTORY_DEFAULT_MESSAGES = 200;
const DAY_MS = 24 * 3600 * 1000;
/**
 * The lock an import of the notices conversation holds: its notices come from many senders, so no one peer's lock
 * covers it (live notices are stored under their sender's lock).
 */
const NOTICES_LOCK = 'cove:notices';

export type HistoryTransferPhase = 'preparing' | 'uploading' | 'downloading' | 'importing' | 'done' | 'failed';

/**
 * One progress report: the phase, and how far it is (`done` of `total`: conversations while preparing, bytes while
 * uploading or downloading, messages while importing). `done` reports what was imported and skipped; `failed` a
 * stable error code.
 */
export type HistoryTransferProgress = {
  phase: HistoryTransferPhase;
  done: number;
  total: number;
  imported?: number;
  skipped?: number;
  /** Notices left out because their certificate did not prove admin or owner here (the new device, `done`). */
  dropped?: number;
  error?: string;
};

/** What an import did: messages (and notices) stored, already held or expired, and notices that did not verify. */
export type HistoryImportOutcome = { imported: number; skipped: number; dropped: number };

export type HistoryProgressSink = (progress: HistoryTransferProgress) => void;

export type HistoryArchiveOptions = {
  /** Only messages stored within this many days (default HISTORY_DEFAULT_DAYS). */
  days?: number;
  /** At most this many of the newest messages per conversation (default HISTORY_DEFAULT_MESSAGES, at most 500). */
  messagesPerConversation?: number;
};

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Keeps a progress callback from breaking the transfer. */
const reporter =
  (sink: HistoryProgressSink | undefined): HistoryProgressSink =>
  (progress) => {
    try {
      sink?.(progress);
    } catch {
      // A shell's progress display failing is no reason to stop.
    }
  };

const archivedAttachment = (a: AttachmentEntry): ArchivedAttachment => ({
  storageId: a.storageId,
  key: toBase64(a.key),
  digest: toBase64(a.digest),
  paddedSize: a.paddedSize,
  plainSize: a.plainSize,
  contentType: a.contentType,
  fileName: a.fileName,
  width: a.width,
  height: a.height,
  thumbnail: a.thumbnail === null ? null : toBase64(a.thumbnail),
  durationMs: a.durationMs,
  waveform: a.waveform === null ? null : toBase64(a.waveform),
  voiceNote: a.voiceNote,
  caption: a.caption,
});

/**
 * A stored message as the archive carries it (a notice with what makes it one), or null for what is not history
 * worth moving.
 */
const archivedMessage = (m: MessageEntry, notice?: ArchivedNotice): ArchivedMessage | null => {
  // System lines are rebuilt from group states; unsent, failed and undecryptable messages mean nothing elsewhere.
  if (m.system || (m.notice !== undefined) !== (notice !== undefined)) return null;
  if (m.status !== 'sent' && m.status !== 'delivered' && m.status !== 'read' && m.status !== 'received') return null;
  const attachments = (m.attachments ?? []).filter((a) => a.storageId !== '').map(archivedAttachment);
  return {
    conversationId: m.conversationId,
    direction: m.direction,
    authorAccountId: m.authorAccountId,
    authorDeviceId: m.authorDeviceId,
    timestamp: m.timestamp,
    serverTimestamp: m.serverTimestamp,
    storedAt: m.storedAt,
    text: m.text,
    quote: m.quote,
    expireTimerSeconds: m.expireTimerSeconds || null,
    status: m.status,
    read: m.read,
    ...(attachments.length > 0 ? { attachments } : {}),
    ...(m.reactions && m.reactions.length > 0 ? { reactions: m.reactions } : {}),
    ...(m.edits && m.edits.length > 0 ? { edits: m.edits } : {}),
    ...(m.editedAt !== undefined ? { editedAt: m.editedAt } : {}),
    ...(m.deletedAt !== undefined ? { deletedAt: m.deletedAt } : {}),
    ...(notice ? { notice } : {}),
  };
};

/**
 * The notice part of a stored notice for the archive: its sender's username and the certificate it arrived with; for
 * a notice stored before notices kept theirs, the sender's current certificate from the server (the new device checks
 * it all the same, so the server can make no one an admin this way). Null when there is none: the notice stays here.
 */
const archivedNotice = async (
  ctx: MessengerContext,
  m: MessageEntry,
  fetched: Map<string, { roleCertificate: string; roleCertificateSignature: string } | null>,
): Promise<ArchivedNotice | null> => {
  if (!m.notice) return null;
  const { senderUsername, roleCertificate, roleCertificateSignature } = m.notice;
  if (roleCertificate && roleCertificateSignature)
    return {
      senderUsername,
      roleCertificate: toBase64(roleCertificate),
      roleCertificateSignature: toBase64(roleCertificateSignature),
    };
  if (!fetched.has(m.authorAccountId)) {
    const stored = await ctx.api.roleCertificate(m.authorAccountId).catch(() => null);
    let current: { roleCertificate: string; roleCertificateSignature: string } | null = null;
    try {
      // Re-encoded at their exact sizes: whatever the server sends, the archive stays one the new device accepts.
      const body = stored ? fromBase64(stored.certificate) : null;
      const signature = stored ? fromBase64(stored.signature) : null;
      if (body?.length === ROLE_CERTIFICATE_BYTES && signature?.length === SIGNATURE_BYTES)
        current = { roleCertificate: toBase64(body), roleCertificateSignature: toBase64(signature) };
    } catch {
      current = null;
    }
    fetched.set(m.authorAccountId, current);
  }
  const current = fetched.get(m.authorAccountId);
  return current ? { senderUsername, ...current } : null;
};

/**
 * The archive of this device's recent history: the most recent conversations (direct, group and the notices), each
 * with its newest messages stored within `days`, oldest first, until the archive would pass its size bound.
 */
export const buildHistoryArchive = async (
  ctx: MessengerContext,
  options: HistoryArchiveOptions = {},
  onProgress?: HistoryProgressSink,
): Promise<HistoryArchive> => {
  const report = reporter(onProgress);
  const now = ctx.platform.clock.now();
  const days = options.days ?? HISTORY_DEFAULT_DAYS;
  const perConversation = Math.min(
    options.messagesPerConversation ?? HISTORY_DEFAULT_MESSAGES,
    MAX_HISTORY_MESSAGES_PER_CONVERSATION,
  );
  if (!(days > 0) || !Number.isInteger(perConversation) || perConversation < 1)
    throw new ClientError(ClientErrorCode.InvalidInput, 'history days and messages must be positive');
  const since = now - days * DAY_MS;
  const conversations = (await ctx.history.conversations())
    .filter((c) => ArchivedConversationId.safeParse(c.id).success && c.lastMessageAt >= since)
    .slice(0, MAX_HISTORY_CONVERSATIONS);
  const out: ArchivedConversation[] = [];
  // JSON size so far, against the bound less a margin for the envelope and the padding's rounding.
  let size = 256;
  const budget = MAX_HISTORY_ARCHIVE_BYTES - 64 * 1024;
  const certificates = new Map<string, { roleCertificate: string; roleCertificateSignature: string } | null>();
  report({ phase: 'preparing', done: 0, total: conversations.length });
  for (const [index, conversation] of conversations.entries()) {
    const page = await ctx.history.messages(conversation.id, { limit: perConversation });
    const messages: ArchivedMessage[] = [];
    for (const m of page.messages) {
      if (m.storedAt < since) break;
      // The notices conversation holds notices only, and nothing else holds one.
      if ((conversation.id === NOTICES_CONVERSATION_ID) !== (m.notice !== undefined)) continue;
      const notice = m.notice ? await archivedNotice(ctx, m, certificates) : undefined;
      if (notice === null) continue;
      const archived = archivedMessage(m, notice);
      if (archived === null) continue;
      const length = utf8.encode(JSON.stringify(archived)).length + 1;
      if (size + length > budget) break;
      size += length;
      messages.push(archived);
    }
    if (messages.length > 0)
      out.push({
        id: conversation.id,
        peerUsername: conversation.kind === 'group' ? null : conversation.peerUsername,
        title: conversation.kind === 'group' ? (conversation.title ?? null) : null,
        messages: messages.reverse(),
      });
    report({ phase: 'preparing', done: index + 1, total: conversations.length });
    if (size + 1024 > budget) break;
  }
  return { version: 1, accountId: ctx.account.accountId, createdAt: now, conversations: out };
};

/** The storage id an upload URL names (the server's `Location` is `/v1/attachments/tus/<id>`). */
const storageIdOf = (uploadUrl: string): string =>
  decodeURIComponent(new URL(uploadUrl).pathname.split('/').pop() ?? '');

/**
 * Encrypts the archive as an attachment (a fresh key, the attachment format's padding and digest) and uploads it;
 * returns the pointer for the provisioning message. Progress: bytes uploaded.
 */
export const uploadHistoryArchive = async (
  ctx: MessengerContext,
  archive: HistoryArchive,
  onProgress?: HistoryProgressSink,
): Promise<HistoryArchivePointer> => {
  const report = reporter(onProgress);
  const plaintext = utf8.encode(JSON.stringify(archive));
  if (attachmentPaddedSize(plaintext.length) > MAX_HISTORY_ARCHIVE_BYTES)
    throw new ClientError(ClientErrorCode.AttachmentTooLarge, 'the history archive is too large');
  const sealed = await encryptAttachment(plaintext, { rng: (n) => ctx.platform.random.bytes(n) });
  const url = await createUpload(ctx, sealed.blobSize);
  let offset = 0;
  report({ phase: 'uploading', done: 0, total: sealed.blobSize });
  while (offset < sealed.blobSize) {
    const piece = sealed.blob.slice(offset, Math.min(sealed.blobSize, offset + ATTACHMENT_PIECE_BYTES));
    const confirmed = await appendToUpload(ctx, url, offset, piece);
    if (confirmed <= offset || confirmed > sealed.blobSize)
      throw new ClientError(ClientErrorCode.ServerError, 'the server did not take the history archive');
    offset = confirmed;
    report({ phase: 'uploading', done: offset, total: sealed.blobSize });
  }
  return {
    storageId: storageIdOf(url),
    key: toBase64(sealed.key),
    digest: toBase64(sealed.digest),
    paddedSize: sealed.paddedSize,
    plainSize: sealed.plainSize,
    messages: archive.conversations.reduce((n, c) => n + c.messages.length, 0),
    conversations: archive.conversations.length,
  };
};

const refuse = (why: string): never => {
  throw new ClientError(ClientErrorCode.HistoryRefused, `refused the history archive: ${why}`);
};

/**
 * Downloads the archive the pointer names (ranged GETs, never more than its size), verifies it against the digest
 * and decrypts it. A blob that does not verify, or a pointer naming more than MAX_HISTORY_ARCHIVE_BYTES, is refused.
 */
export const downloadHistoryArchive = async (
  ctx: MessengerContext,
  pointer: HistoryArchivePointer,
  onProgress?: HistoryProgressSink,
): Promise<Uint8Array> => {
  const report = reporter(onProgress);
  if (pointer.paddedSize > MAX_HISTORY_ARCHIVE_BYTES || pointer.plainSize > pointer.paddedSize)
    return refuse('too large');
  let key: Uint8Array;
  let digest: Uint8Array;
  try {
    key = fromBase64(pointer.key);
    digest = fromBase64(pointer.digest);
  } catch {
    return refuse('bad key or digest');
  }
  const total = attachmentBlobSize(pointer.paddedSize);
  const blob = new Uint8Array(total);
  const url = new URL(`/v1/attachments/${encodeURIComponent(pointer.storageId)}`, ctx.account.serverUrl).toString();
  let offset = 0;
  report({ phase: 'downloading', done: 0, total });
  while (offset < total) {
    const end = Math.min(total, offset + ATTACHMENT_PIECE_BYTES) - 1;
    const response = await binaryRequest(ctx, { method: 'GET', url, headers: { range: `bytes=${offset}-${end}` } });
    if (response.status !== 206 && response.status !== 200) throw attachmentHttpError(response);
    const body = response.status === 200 ? response.body.subarray(offset) : response.body;
    const usable = body.subarray(0, Math.min(body.length, total - offset));
    if (usable.length === 0) break;
    blob.set(usable, offset);
    offset += usable.length;
    report({ phase: 'downloading', done: offset, total });
  }
  try {
    return await decryptAttachmentBytes(blob.subarray(0, offset), {
      key,
      digest,
      paddedSize: pointer.paddedSize,
      plainSize: pointer.plainSize,
    });
  } catch (error) {
    if (error instanceof AttachmentError) return refuse('it does not match its digest');
    throw error;
  }
};

/**
 * Parses and checks a decrypted archive for this account: the shape and bounds, the account, no conversation twice,
 * and every message in the conversation it is listed under, written by someone who can have written it there (in a
 * direct conversation: the peer, or us for outgoing ones; in a group or the notices: us exactly for outgoing ones),
 * notices only in the notices conversation and nothing else there, a notice text alone with a certificate and
 * signature of exactly their sizes. The certificates themselves are verified later (verifyArchivedNotices: that needs the pinned key).
 */
export const parseHistoryArchive = (plaintext: Uint8Array, accountId: string): HistoryArchive => {
  let archive: HistoryArchive;
  try {
    const parsed = HistoryArchive.safeParse(JSON.parse(fromUtf8.decode(plaintext)));
    if (!parsed.success) return refuse('malformed');
    archive = parsed.data;
  } catch {
    return refuse('malformed');
  }
  if (archive.accountId !== accountId) return refuse('it is for another account');
  const seen = new Set<string>();
  for (const conversation of archive.conversations) {
    if (seen.has(conversation.id)) return refuse('a conversation appears twice');
    seen.add(conversation.id);
    const peer = directPeerOf(conversation.id);
    if (peer === accountId) return refuse('a conversation with this account itself');
    const notices = conversation.id === NOTICES_CONVERSATION_ID;
    for (const m of conversation.messages) {
      if (m.conversationId !== conversation.id) return refuse('a message claims another conversation');
      if (notices && !m.notice) return refuse('a message in the notices that is not a notice');
      if (!notices && m.notice) return refuse('a notice outside the notices');
      if (m.notice && !plainNotice(m)) return refuse('a notice with more than text');
      if (m.notice && !certificateSized(m.notice)) return refuse('a notice certificate of the wrong size');
      const own = m.authorAccountId === accountId;
      if ((m.direction === 'outgoing') !== own) return refuse('a message with the wrong author');
      if (peer !== null && !own && m.authorAccountId !== peer) return refuse('a message with the wrong author');
      if ((m.direction === 'outgoing') === (m.status === 'received')) return refuse('a message with a wrong status');
      for (const r of m.reactions ?? []) if (!isReactionEmoji(r.emoji)) return refuse('a reaction is not an emoji');
      for (const a of m.attachments ?? []) {
        if (a.plainSize > a.paddedSize) return refuse('an attachment larger than its padding');
        try {
          if (fromBase64(a.key).length !== 32 || fromBase64(a.digest).length !== 32) return refuse('bad attachment');
        } catch {
          return refuse('bad attachment');
        }
      }
    }
  }
  return archive;
};

/** A notice is text alone, as the content bounds hold live ones to: no quote, timer, attachment, reaction or edit. */
const plainNotice = (m: ArchivedMessage): boolean =>
  m.quote === null &&
  m.expireTimerSeconds === null &&
  !m.attachments &&
  !m.reactions &&
  !m.edits &&
  m.editedAt === undefined &&
  m.deletedAt === undefined;

/** Its certificate and signature have exactly their sizes (the archive's shape bounds base64 lengths only). */
const certificateSized = (notice: ArchivedNotice): boolean => {
  try {
    return (
      fromBase64(notice.roleCertificate).length === ROLE_CERTIFICATE_BYTES &&
      fromBase64(notice.roleCertificateSignature).length === SIGNATURE_BYTES
    );
  } catch {
    return false;
  }
};

/** A notice that verified here: the role its certificate proves now, and the sender's name as this device shows it. */
type VerifiedNotice = { role: 'owner' | 'admin'; senderUsername: string | null };

/**
 * Holds each notice of a checked archive to the check a live one gets: its certificate must prove admin or owner for
 * its sender (for ours: for our own account) under the organization key pinned here — pinned first from the server
 * when this device has none, as the live path does. The sender's username is shown only when the server confirms it
 * (ours: our profile's), else the contact's. Returns the archive without the notices that fail, how many those were,
 * and the verified role and name of each kept one.
 */
export const verifyArchivedNotices = async (
  ctx: MessengerContext,
  archive: HistoryArchive,
): Promise<{ archive: HistoryArchive; dropped: number; notices: Map<ArchivedMessage, VerifiedNotice> }> => {
  const verified = new Map<ArchivedMessage, VerifiedNotice>();
  const conversation = archive.conversations.find((c) => c.id === NOTICES_CONVERSATION_ID);
  if (!conversation) return { archive, dropped: 0, notices: verified };
  const organization = new Organization(ctx);
  let record: OrganizationRecord | undefined;
  try {
    record = (await organization.pinned()) ?? (await organization.refresh());
  } catch {
    record = undefined;
  }
  const me = ctx.account.accountId;
  const ownName = (await readMeta(ctx.platform.storage, 'profile'))?.username ?? null;
  const names = new Map<string, string | null>();
  const nameOf = async (author: string, claimed: string | null): Promise<string | null> => {
    if (author === me) return ownName;
    const key = `${author}/${claimed ?? ''}`;
    if (!names.has(key)) {
      // Only the spelling the server holds for this account, as a live notice's claimed username.
      const found = claimed === null ? null : await ctx.api.findUsername(claimed).catch(() => null);
      const confirmed = found?.accountId === author && found.username === claimed ? claimed : null;
      names.set(key, confirmed ?? (await ctx.platform.storage.get('contacts', author))?.username ?? null);
    }
    return names.get(key) ?? null;
  };
  const kept: ArchivedMessage[] = [];
  for (const m of conversation.messages) {
    if (!m.notice) continue;
    const role = organization.verifyCertificate(
      record,
      m.authorAccountId,
      fromBase64(m.notice.roleCertificate),
      fromBase64(m.notice.roleCertificateSignature),
    );
    if (role === 'member') continue;
    verified.set(m, { role, senderUsername: await nameOf(m.authorAccountId, m.notice.senderUsername) });
    kept.push(m);
  }
  const dropped = conversation.messages.length - kept.length;
  if (dropped > 0) ctx.platform.logger.warn('history notices dropped', { dropped });
  return {
    archive: {
      ...archive,
      conversations: archive.conversations.map((c) => (c === conversation ? { ...c, messages: kept } : c)),
    },
    dropped,
    notices: verified,
  };
};

const attachmentEntry = (ctx: MessengerContext, a: ArchivedAttachment): AttachmentEntry => ({
  storageId: a.storageId,
  key: fromBase64(a.key),
  digest: fromBase64(a.digest),
  paddedSize: a.paddedSize,
  plainSize: a.plainSize,
  contentType: a.contentType,
  fileName: a.fileName,
  width: a.width,
  height: a.height,
  thumbnail: a.thumbnail === null ? null : fromBase64(a.thumbnail),
  durationMs: a.durationMs,
  waveform: a.waveform === null ? null : fromBase64(a.waveform),
  voiceNote: a.voiceNote,
  caption: a.caption,
  blobId: newBlobId(ctx.platform.random),
  state: 'remote',
  error: null,
});

/**
 * A message key that sorts by the old device's storage time (the sequencer's layout: microseconds, 17 digits, and a
 * random suffix), so imported history sits before what this device received since it was linked.
 */
const importedKey = (ctx: MessengerContext, conversationId: string, storedAt: number): string => {
  const suffix = Array.from(ctx.platform.random.bytes(3), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${conversationId}/${pad(storedAt * 1000, 17)}${suffix}`;
};

/**
 * Imports one conversation of a checked archive in one commit; returns how many messages were new. Notices (only in
 * the notices conversation) take the role and name verifyArchivedNotices found; one it did not verify is not stored.
 */
const importConversation = async (
  ctx: MessengerContext,
  conversation: ArchivedConversation,
  notices: Map<ArchivedMessage, VerifiedNotice>,
  now: number,
): Promise<{ imported: number; skipped: number }> => {
  const { storage } = ctx.platform;
  const peer = directPeerOf(conversation.id);
  const groupId = groupOf(conversation.id);
  const isNotices = conversation.id === NOTICES_CONVERSATION_ID;
  const lock = isNotices ? NOTICES_LOCK : peer !== null ? peerLock(peer) : groupLock(groupId ?? '');
  return ctx.platform.locks.withLock(lock, async () => {
    const existing = await storage.get('conversations', conversation.id);
    const group = groupId === null ? undefined : await storage.get('groups', groupId);
    let summary: ConversationEntry =
      existing ??
      (isNotices
        ? newNoticesConversation(now)
        : peer !== null
          ? newConversation(peer, conversation.peerUsername, now)
          : groupConversation(undefined, { id: groupId ?? '', title: group?.title ?? conversation.title ?? '' }, now));
    const writes: WriteOp[] = [];
    const taken = new Set<string>();
    let imported = 0;
    let skipped = 0;
    for (const m of conversation.messages) {
      const verified = m.notice ? notices.get(m) : undefined;
      // Never stored unverified: parse and verify keep notices to the notices conversation and to valid certificates.
      if (m.notice && !verified) continue;
      const identity = `${m.authorAccountId}/${m.timestamp}`;
      const indexKey = `${conversation.id}/${m.authorAccountId}/${pad(m.timestamp)}`;
      if (taken.has(identity) || (await storage.get('messageIndex', indexKey)) !== undefined) {
        skipped++;
        continue;
      }
      const storedAt = Math.min(m.storedAt, now);
      const entry: MessageEntry = {
        id: importedKey(ctx, conversation.id, storedAt),
        conversationId: conversation.id,
        direction: m.direction,
        authorAccountId: m.authorAccountId,
        authorDeviceId: m.authorDeviceId,
        timestamp: m.timestamp,
        serverTimestamp: m.serverTimestamp,
        storedAt,
        text: m.text,
        quote: m.quote,
        expireTimerSeconds: m.expireTimerSeconds,
        status: m.status,
        read: m.read,
        error: null,
        ...(m.attachments ? { attachments: m.attachments.map((a) => attachmentEntry(ctx, a)) } : {}),
        ...(m.reactions ? { reactions: m.reactions } : {}),
        ...(m.edits ? { edits: m.edits } : {}),
        ...(m.editedAt !== undefined ? { editedAt: m.editedAt } : {}),
        ...(m.deletedAt !== undefined ? { deletedAt: m.deletedAt } : {}),
        ...(m.notice && verified
          ? {
              notice: {
                ...verified,
                roleCertificate: fromBase64(m.notice.roleCertificate),
                roleCertificateSignature: fromBase64(m.notice.roleCertificateSignature),
              },
            }
          : {}),
      };
      // A disappearing message whose time is up is not brought back.
      if (isExpired(entry, now)) {
        skipped++;
        continue;
      }
      taken.add(identity);
      writes.push(...putMessage(entry));
      imported++;
      if (summary.lastMessageKey === null || entry.id > summary.lastMessageKey)
        summary = { ...summary, lastMessageKey: entry.id, lastMessageAt: Math.max(summary.lastMessageAt, storedAt) };
      if (entry.direction === 'incoming' && !entry.read) summary = { ...summary, unreadCount: summary.unreadCount + 1 };
      if (storedAt < summary.createdAt) summary = { ...summary, createdAt: storedAt };
    }
    if (imported === 0) return { imported, skipped };
    writes.push(putConversation(summary));
    await storage.commit(writes);
    emit(ctx, { type: 'conversation-updated', conversation: summary });
    return { imported, skipped };
  });
};

/**
 * Imports a checked archive, a conversation at a time (each in one commit), skipping messages this device already
 * holds; its notices are verified first (verifyArchivedNotices) and those that fail dropped. Progress: messages
 * handled.
 */
export const importHistoryArchive = async (
  ctx: MessengerContext,
  checked: HistoryArchive,
  onProgress?: HistoryProgressSink,
): Promise<HistoryImportOutcome> => {
  const report = reporter(onProgress);
  const { archive, dropped, notices } = await verifyArchivedNotices(ctx, checked);
  const total = archive.conversations.reduce((n, c) => n + c.messages.length, 0);
  const now = ctx.platform.clock.now();
  let done = 0;
  let imported = 0;
  let skipped = 0;
  report({ phase: 'importing', done, total });
  for (const conversation of archive.conversations) {
    const result = await importConversation(ctx, conversation, notices, now);
    imported += result.imported;
    skipped += result.skipped;
    done += conversation.messages.length;
    report({ phase: 'importing', done, total });
  }
  return { imported, skipped, dropped };
};

/** The new device's side: download, verify, check and import the archive the pointer names. */
export const receiveHistory = async (
  ctx: MessengerContext,
  pointer: HistoryArchivePointer,
  onProgress?: HistoryProgressSink,
): Promise<HistoryImportOutcome> => {
  const plaintext = await downloadHistoryArchive(ctx, pointer, onProgress);
  const archive = parseHistoryArchive(plaintext, ctx.account.accountId);
  const outcome = await importHistoryArchive(ctx, archive, onProgress);
  // Imported: the server need not keep the (encrypted) archive until its expiry. Best effort: the server lets any
  // device of the account delete a finished upload, and the expiry job removes it otherwise.
  await deleteUpload(
    ctx,
    new URL(`/v1/attachments/tus/${encodeURIComponent(pointer.storageId)}`, ctx.account.serverUrl).toString(),
  );
  return outcome;
};
