/**
 * Attachments in the client core: encrypting an outgoing file (streamed, into the local blob store as ciphertext),
 * creating its tus upload, uploading what the outbox entry says is missing (resuming from the server's offset after
 * a restart or a dropped connection, the offset committed after every piece), downloading an incoming blob with
 * ranged requests (resuming from what is on disk), verifying its digest and tags before it is marked usable, and
 * releasing plaintext only from a verified blob. Progress is reported as `attachment-progress` events. It does not
 * build or send the message (messenger.ts, outbox.ts) and never writes plaintext anywhere.
 */
import {
  AttachmentError,
  attachmentBlobSize,
  createAttachmentEncryptor,
  decryptAttachment,
  verifyAttachment,
} from '@cove/crypto';
import type { AttachmentPointer } from '@cove/protocol';

import type { MessengerContext } from '../context.js';
import { emit, peerLock } from '../context.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { AttachmentBlobStore } from '../platform.js';
import type { AttachmentEntry, MessageEntry, OutboxEntry, PendingUpload } from '../tables.js';
import { conversationOfMessageKey, directPeerOf } from '../tables.js';
import { newBlobId } from './blob-id.js';
import {
  appendToUpload,
  attachmentHttpError,
  binaryHttpOf,
  binaryRequest,
  createUpload,
  uploadOffset,
} from './tus-client.js';

/**
 * Bytes per PATCH and per ranged GET: a few MiB as docs/api.md asks (a request is cut off after 5 minutes), small
 * enough that a dropped connection loses little and one piece in memory is cheap, large enough that per-request
 * overhead stays under a few percent.
 */
export const ATTACHMENT_PIECE_BYTES = 4 * 1024 * 1024;

/**
 * Incoming attachments up to this plain size are downloaded as soon as the message arrives: a photo or a voice note
 * (typically well under 2 MiB) is then there when the message is shown; larger files wait until asked for, so a
 * flood of large files cannot fill the device or the data plan on its own.
 */
export const AUTO_DOWNLOAD_MAX_BYTES = 2 * 1024 * 1024;

/** What the caller gives for one outgoing attachment. */
export type OutgoingAttachment = {
  /** The file's bytes, whole or as pieces in order (read once, streamed into the encryptor). */
  source: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  contentType: string;
  fileName?: string;
  caption?: string;
  voiceNote?: boolean;
  durationMs?: number;
  waveform?: Uint8Array;
  width?: number;
  height?: number;
  thumbnail?: Uint8Array;
};

const storeOf = (ctx: MessengerContext): AttachmentBlobStore => {
  binaryHttpOf(ctx);
  const store = ctx.platform.attachments;
  if (!store) throw new ClientError(ClientErrorCode.AttachmentsUnsupported, 'no attachment storage here');
  return store;
};

/** The stored entry's pointer, as the data message carries it. */
export const pointerOf = (a: AttachmentEntry): AttachmentPointer => ({
  storageId: a.storageId,
  key: a.key,
  digest: a.digest,
  paddedSize: a.paddedSize,
  plainSize: a.plainSize,
  contentType: a.contentType,
  ...(a.fileName !== null ? { fileName: a.fileName } : {}),
  ...(a.width !== null ? { width: a.width } : {}),
  ...(a.height !== null ? { height: a.height } : {}),
  ...(a.thumbnail !== null ? { thumbnail: a.thumbnail } : {}),
  ...(a.durationMs !== null ? { durationMs: a.durationMs } : {}),
  ...(a.waveform !== null ? { waveform: a.waveform } : {}),
  ...(a.voiceNote ? { voiceNote: true } : {}),
  ...(a.caption !== null ? { caption: a.caption } : {}),
});

/** An incoming pointer as a stored entry (not downloaded yet). */
export const entryOfPointer = (ctx: MessengerContext, p: AttachmentPointer): AttachmentEntry => ({
  storageId: p.storageId,
  key: p.key,
  digest: p.digest,
  paddedSize: p.paddedSize,
  plainSize: p.plainSize,
  contentType: p.contentType,
  fileName: p.fileName ?? null,
  width: p.width ?? null,
  height: p.height ?? null,
  thumbnail: p.thumbnail ?? null,
  durationMs: p.durationMs ?? null,
  waveform: p.waveform ?? null,
  voiceNote: p.voiceNote ?? false,
  caption: p.caption ?? null,
  blobId: newBlobId(ctx.platform.random),
  state: 'remote',
  error: null,
});

/**
 * Encrypts one outgoing file into the blob store and creates its upload on the server (which checks size and quota
 * now, before anything is queued). Returns the entry (state `local`) and the upload state for the outbox.
 */
export const prepareOutgoing = async (
  ctx: MessengerContext,
  input: OutgoingAttachment,
): Promise<{ entry: AttachmentEntry; upload: PendingUpload }> => {
  const store = storeOf(ctx);
  const blobId = newBlobId(ctx.platform.random);
  try {
    const encryptor = await createAttachmentEncryptor((piece) => store.append(blobId, piece), {
      rng: (n) => ctx.platform.random.bytes(n),
    });
    if (input.source instanceof Uint8Array) await encryptor.update(input.source);
    else for await (const piece of input.source) await encryptor.update(piece);
    const secrets = await encryptor.finish();
    const uploadUrl = await createUpload(ctx, secrets.blobSize);
    const entry: AttachmentEntry = {
      storageId: new URL(uploadUrl).pathname.split('/').pop() ?? '',
      key: secrets.key,
      digest: secrets.digest,
      paddedSize: secrets.paddedSize,
      plainSize: secrets.plainSize,
      contentType: input.contentType,
      fileName: input.fileName ?? null,
      width: input.width ?? null,
      height: input.height ?? null,
      thumbnail: input.thumbnail ?? null,
      durationMs: input.durationMs ?? null,
      waveform: input.waveform ?? null,
      voiceNote: input.voiceNote ?? false,
      caption: input.caption ?? null,
      blobId,
      state: 'local',
      error: null,
    };
    return { entry, upload: { uploadUrl, blobId, blobSize: secrets.blobSize, offset: 0, done: false } };
  } catch (error) {
    await store.delete(blobId);
    if (error instanceof AttachmentError)
      throw new ClientError(ClientErrorCode.AttachmentTooLarge, 'the file is too large to send');
    throw error;
  }
};

/**
 * The upload states of a failed message being retried: each blob's upload at the URL its storage id names (the
 * server's `Location` is `/v1/attachments/tus/<id>`); the first HEAD tells how much of it the server already holds
 * (all of it when the message failed after its uploads). An upload the server dropped meanwhile fails the retry with
 * `attachment_unavailable`.
 */
export const uploadsForRetry = (ctx: MessengerContext, message: MessageEntry): PendingUpload[] =>
  (message.attachments ?? []).map((a) => ({
    uploadUrl: new URL(`/v1/attachments/tus/${encodeURIComponent(a.storageId)}`, ctx.account.serverUrl).toString(),
    blobId: a.blobId,
    blobSize: attachmentBlobSize(a.paddedSize),
    offset: 0,
    done: false,
  }));

/** Commits an outbox entry's upload state (the entry may have changed meanwhile: only `uploads` is replaced). */
const saveUploads = async (ctx: MessengerContext, entry: OutboxEntry, uploads: PendingUpload[]): Promise<void> => {
  await ctx.platform.locks.withLock(peerLock(entry.destination), async () => {
    const current = await ctx.platform.storage.get('outbox', entry.id);
    if (!current) return;
    await ctx.platform.storage.commit([{ op: 'put', table: 'outbox', key: entry.id, value: { ...current, uploads } }]);
  });
};

/**
 * Uploads whatever of an outbox entry's attachments the server does not hold yet, from the offset the server
 * reports (HEAD), one piece at a time, committing the offset after each; throws (ServerUnreachable and the like) for
 * the outbox to retry later, from where it stopped.
 */
export const runUploads = async (ctx: MessengerContext, entry: OutboxEntry): Promise<void> => {
  if (!entry.uploads?.some((u) => !u.done)) return;
  const store = storeOf(ctx);
  const uploads = entry.uploads.map((u) => ({ ...u }));
  for (const [index, upload] of uploads.entries()) {
    if (upload.done) continue;
    let offset = await uploadOffset(ctx, upload.uploadUrl);
    while (offset < upload.blobSize) {
      const length = Math.min(ATTACHMENT_PIECE_BYTES, upload.blobSize - offset);
      const piece = new Uint8Array(length);
      let filled = 0;
      for await (const bytes of store.read(upload.blobId, { offset, length })) {
        piece.set(bytes, filled);
        filled += bytes.length;
      }
      if (filled !== length) throw new ClientError(ClientErrorCode.StorageCorrupt, 'an attachment blob is missing');
      offset = await appendToUpload(ctx, upload.uploadUrl, offset, piece);
      upload.offset = offset;
      await saveUploads(ctx, entry, uploads);
      if (entry.messageKey)
        emit(ctx, {
          type: 'attachment-progress',
          messageId: entry.messageKey,
          index,
          direction: 'upload',
          sent: offset,
          total: upload.blobSize,
        });
    }
    upload.done = true;
    upload.offset = upload.blobSize;
    await saveUploads(ctx, entry, uploads);
  }
};

/** Updates one attachment of a stored message under its peer's lock; returns the updated entry. */
const updateAttachment = async (
  ctx: MessengerContext,
  messageId: string,
  index: number,
  change: Partial<AttachmentEntry>,
): Promise<void> => {
  const conversationId = conversationOfMessageKey(messageId);
  await ctx.platform.locks.withLock(peerLock(directPeerOf(conversationId) ?? conversationId), async () => {
    const message = await ctx.platform.storage.get('messages', messageId);
    const attachments = message?.attachments;
    if (!message || !attachments?.[index]) return;
    const next = attachments.map((a, i) => (i === index ? { ...a, ...change } : a));
    const updated = { ...message, attachments: next };
    await ctx.platform.storage.commit([{ op: 'put', table: 'messages', key: messageId, value: updated }]);
    emit(ctx, { type: 'message-updated', message: updated });
  });
};

const attachmentOf = async (ctx: MessengerContext, messageId: string, index: number): Promise<AttachmentEntry> => {
  const message = await ctx.history.message(messageId);
  const attachment = message?.attachments?.[index];
  if (!attachment) throw new ClientError(ClientErrorCode.InvalidInput, 'no such attachment');
  return attachment;
};

/** Downloads, resumably, and verifies one attachment; afterwards it is `local` or `failed` (and this throws). */
export const downloadAttachment = async (ctx: MessengerContext, messageId: string, index: number): Promise<void> => {
  const store = storeOf(ctx);
  const attachment = await attachmentOf(ctx, messageId, index);
  if (attachment.state === 'local') return;
  const total = attachmentBlobSize(attachment.paddedSize);
  let offset = (await store.size(attachment.blobId)) ?? 0;
  if (offset > total) {
    await store.truncate(attachment.blobId, 0);
    offset = 0;
  }
  while (offset < total) {
    const end = Math.min(total, offset + ATTACHMENT_PIECE_BYTES) - 1;
    const response = await binaryRequest(ctx, {
      method: 'GET',
      url: new URL(`/v1/attachments/${encodeURIComponent(attachment.storageId)}`, ctx.account.serverUrl).toString(),
      headers: { range: `bytes=${offset}-${end}` },
    });
    if (response.status === 404) {
      await updateAttachment(ctx, messageId, index, { state: 'failed', error: ClientErrorCode.AttachmentUnavailable });
      throw attachmentHttpError(response);
    }
    if (response.status !== 206 && response.status !== 200) throw attachmentHttpError(response);
    // A server ignoring the range (200) sends everything: keep only what is past what we hold, and never past `total`.
    const body = response.status === 200 ? response.body.subarray(offset) : response.body;
    const usable = body.subarray(0, Math.min(body.length, total - offset));
    if (usable.length === 0) break;
    await store.append(attachment.blobId, usable);
    offset += usable.length;
    emit(ctx, { type: 'attachment-progress', messageId, index, direction: 'download', sent: offset, total });
    if (response.status === 200) break;
  }
  try {
    await verifyAttachment(() => store.read(attachment.blobId), attachment);
  } catch (error) {
    if (!(error instanceof AttachmentError)) throw error;
    // The blob is not what the sender's digest names (tampered, truncated, or lying about its size): it is dropped,
    // and the message shows that this attachment failed verification. Nothing of it was decrypted.
    await store.delete(attachment.blobId);
    await updateAttachment(ctx, messageId, index, { state: 'failed', error: ClientErrorCode.AttachmentUnverified });
    ctx.platform.logger.warn('attachment failed verification', { kind: error.kind });
    throw new ClientError(ClientErrorCode.AttachmentUnverified, 'the attachment failed verification');
  }
  await updateAttachment(ctx, messageId, index, { state: 'local', error: null });
};

/**
 * The plaintext of a downloaded attachment, verified again as it is read (decryptAttachment's two passes): nothing
 * is yielded unless the whole blob verifies.
 */
export async function* readAttachment(
  ctx: MessengerContext,
  messageId: string,
  index: number,
): AsyncIterable<Uint8Array> {
  const store = storeOf(ctx);
  const attachment = await attachmentOf(ctx, messageId, index);
  if (attachment.state !== 'local')
    throw new ClientError(
      attachment.error === ClientErrorCode.AttachmentUnverified
        ? ClientErrorCode.AttachmentUnverified
        : ClientErrorCode.AttachmentUnavailable,
      attachment.error === ClientErrorCode.AttachmentUnverified
        ? 'the attachment failed verification'
        : 'the attachment is not downloaded',
    );
  try {
    yield* decryptAttachment(() => store.read(attachment.blobId), attachment);
  } catch (error) {
    if (error instanceof AttachmentError)
      throw new ClientError(ClientErrorCode.AttachmentUnverified, 'the attachment failed verification');
    throw error;
  }
}
