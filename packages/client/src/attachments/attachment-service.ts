/**
 * Attachments in the client core: encrypting an outgoing file (streamed, into the local blob store as ciphertext),
 * creating its tus upload (now, or later when the server cannot be reached), uploading what the outbox entry says
 * is missing (resuming from the server's offset after a restart or a dropped connection, the offset committed after
 * every piece; upload-queue.ts decides when), downloading an incoming blob with ranged requests (resuming from what
 * is on disk), verifying its digest and tags as it arrives, before it is marked usable, and
 * releasing plaintext only from a verified blob. Progress is reported as `attachment-progress` events. It does not
 * build or send the message (messenger.ts, outbox.ts) and never writes plaintext anywhere.
 */
import {
  AttachmentError,
  attachmentBlobSize,
  attachmentPaddedSize,
  createAttachmentEncryptor,
  decryptAttachment,
  decryptAttachmentAsItArrives,
  decryptVerifiedAttachment,
  verifyAttachmentChunks,
} from '@cove/crypto';
import type { AttachmentPointer } from '@cove/protocol';

import type { MessengerContext } from '../context.js';
import { emit, peerLock } from '../context.js';
import { encodeDataMessage } from '../content-builder.js';
import { ClientError, ClientErrorCode, ServerResponseError } from '../errors.js';
import { readMeta } from '../meta.js';
import type { AttachmentBlobStore, BinaryHttpResponse } from '../platform.js';
import type { AttachmentEntry, MessageEntry, OutboxEntry, PendingUpload, SavedCopy } from '../tables.js';
import { conversationOfMessageKey, directPeerOf, groupOf } from '../tables.js';
import { fromHex } from '../groups.js';
import { newBlobId } from './blob-id.js';
import {
  appendToUpload,
  attachmentHttpError,
  binaryHttpOf,
  binaryRequest,
  createUpload,
  deleteUpload,
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
  /**
   * The file's length in bytes, when known before it is read (a file on disk, a browser `File`). Then the upload is
   * created first and each encrypted piece is PATCHed while the rest is still being encrypted; a source yielding
   * another number of bytes is refused (`invalid_input`). Without it, the file is encrypted first, then uploaded.
   */
  size?: number;
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
 * Encrypted output gathered into ATTACHMENT_PIECE_BYTES runs before it goes to the blob store: one append (an fsync
 * on Node) per run instead of one per 256 KiB chunk, which halved the time to encrypt a 50 MiB file into the store
 * (bench/attachments-e2e.bench.js). Each piece is copied in as it comes, so the encryptor may reuse its buffers.
 * Nothing needs to be durable before the message is committed, which happens after `flush`. With an early upload,
 * each run is also handed to it as it is stored (a fresh buffer per run: nothing writes to a run once handed on).
 */
const blobWriter = (
  store: AttachmentBlobStore,
  blobId: string,
  early: EarlyUpload | null,
): { write(piece: Uint8Array): Promise<void>; flush(): Promise<void> } => {
  let run = new Uint8Array(ATTACHMENT_PIECE_BYTES);
  let filled = 0;
  const flush = async (): Promise<void> => {
    if (filled === 0) return;
    const full = run.subarray(0, filled);
    run = new Uint8Array(ATTACHMENT_PIECE_BYTES);
    filled = 0;
    await Promise.all([store.append(blobId, full), early?.push(full)]);
  };
  return {
    async write(piece) {
      let at = 0;
      while (at < piece.length) {
        const take = Math.min(piece.length - at, run.length - filled);
        run.set(piece.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === run.length) await flush();
      }
    },
    flush,
  };
};

/**
 * The upload of a file of known size while it is still being encrypted: each stored run is PATCHed in order, one
 * request in flight, and `push` waits for the one before (so at most two runs are held and encryption is paced by
 * the upload). It only ever saves time: the first failure (server unreachable, an unexpected offset) stops it
 * quietly, and the uploader carries on from the offset the server reports (HEAD), as after any interruption; the
 * message is committed with the offset reached. Progress events start with the uploader (there is no message yet).
 */
type EarlyUpload = { push(run: Uint8Array<ArrayBuffer>): Promise<void>; finish(): Promise<number> };

const earlyUpload = (ctx: MessengerContext, url: string): EarlyUpload => {
  let offset = 0;
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  const send = async (run: Uint8Array<ArrayBuffer>): Promise<void> => {
    if (stopped) return;
    try {
      const confirmed = await appendToUpload(ctx, url, offset, run);
      if (confirmed === offset + run.length) offset = confirmed;
      else stopped = true;
    } catch (error) {
      stopped = true;
      ctx.platform.logger.info('attachment upload left to the uploader', {
        error: error instanceof ClientError ? error.code : 'server_error',
      });
    }
  };
  return {
    async push(run) {
      const previous = chain;
      chain = previous.then(() => send(run));
      await previous;
    },
    async finish() {
      await chain;
      return offset;
    },
  };
};

/** Marks a promise as handled (it is awaited later, or dropped on an early exit) so it cannot go unhandled. */
const quiet = <T>(promise: Promise<T>): Promise<T> => {
  promise.catch(() => undefined);
  return promise;
};

/** The storage id an upload URL names (the server's `Location` is `/v1/attachments/tus/<id>`). */
const storageIdOf = (uploadUrl: string): string =>
  decodeURIComponent(new URL(uploadUrl).pathname.split('/').pop() ?? '');

/** Failures that leave a send queued, to be retried with backoff like a text: the server unreachable or failing. */
const isDeferrable = (error: unknown): boolean =>
  (error instanceof ClientError && error.code === ClientErrorCode.ServerUnreachable) ||
  (error instanceof ServerResponseError && error.status >= 500);

/**
 * Creates the upload now when the server answers (so a file too large, a full quota or a rate limit is refused at
 * once), or returns null when it cannot be reached: the uploader creates it later.
 */
const createUploadOrDefer = async (ctx: MessengerContext, blobSize: number): Promise<string | null> => {
  try {
    return await createUpload(ctx, blobSize);
  } catch (error) {
    if (!isDeferrable(error)) throw error;
    ctx.platform.logger.info('attachment upload deferred', {
      error: error instanceof ClientError ? error.code : 'server_error',
    });
    return null;
  }
};

/**
 * Encrypts one outgoing file into the blob store and creates its upload on the server (which checks size and quota
 * now, before anything is queued; an unreachable server leaves the upload to be created by the uploader). Returns
 * the entry (state `local`) and the upload state for the outbox.
 */
export const prepareOutgoing = async (
  ctx: MessengerContext,
  input: OutgoingAttachment,
): Promise<{ entry: AttachmentEntry; upload: PendingUpload }> => {
  const store = storeOf(ctx);
  const blobId = newBlobId(ctx.platform.random);
  if (input.size !== undefined && (!Number.isSafeInteger(input.size) || input.size < 0))
    throw new ClientError(ClientErrorCode.InvalidInput, 'the file size must be a whole number of bytes');
  let uploadUrl: string | null = null;
  let early: EarlyUpload | null = null;
  try {
    const expectedBlobSize = input.size === undefined ? null : attachmentBlobSize(attachmentPaddedSize(input.size));
    if (expectedBlobSize !== null) {
      uploadUrl = await createUploadOrDefer(ctx, expectedBlobSize);
      if (uploadUrl !== null) early = earlyUpload(ctx, uploadUrl);
    }
    const writer = blobWriter(store, blobId, early);
    const encryptor = await createAttachmentEncryptor((piece) => writer.write(piece), {
      rng: (n) => ctx.platform.random.bytes(n),
    });
    if (input.source instanceof Uint8Array) await encryptor.update(input.source);
    else for await (const piece of input.source) await encryptor.update(piece);
    const secrets = await encryptor.finish();
    await writer.flush();
    const uploaded = early ? await early.finish() : 0;
    if (input.size !== undefined && secrets.plainSize !== input.size)
      throw new ClientError(ClientErrorCode.InvalidInput, 'the file changed size while it was read');
    if (expectedBlobSize === null) uploadUrl = await createUploadOrDefer(ctx, secrets.blobSize);
    const entry: AttachmentEntry = {
      storageId: uploadUrl === null ? '' : storageIdOf(uploadUrl),
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
    const done = uploaded === secrets.blobSize;
    return { entry, upload: { uploadUrl, blobId, blobSize: secrets.blobSize, offset: uploaded, done } };
  } catch (error) {
    await store.delete(blobId);
    if (uploadUrl !== null) {
      await early?.finish();
      await deleteUpload(ctx, uploadUrl);
    }
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
    // An upload never created (the message failed before the server could be reached) is created by the uploader.
    uploadUrl:
      a.storageId === ''
        ? null
        : new URL(`/v1/attachments/tus/${encodeURIComponent(a.storageId)}`, ctx.account.serverUrl).toString(),
    blobId: a.blobId,
    blobSize: attachmentBlobSize(a.paddedSize),
    offset: 0,
    done: false,
  }));

/**
 * Commits an outbox entry's upload state (the entry may have changed meanwhile: only `uploads` is replaced); false
 * when the entry is gone (its message was deleted, or it failed meanwhile): the upload should stop.
 */
const saveUploads = async (ctx: MessengerContext, entry: OutboxEntry, uploads: PendingUpload[]): Promise<boolean> =>
  ctx.platform.locks.withLock(peerLock(entry.destination), async () => {
    const current = await ctx.platform.storage.get('outbox', entry.id);
    if (!current) return false;
    await ctx.platform.storage.commit([{ op: 'put', table: 'outbox', key: entry.id, value: { ...current, uploads } }]);
    return true;
  });

/**
 * An upload the uploader just created: its storage id goes into the message's attachment, and once every upload
 * of the entry exists, the content (with the pointers) is encoded into the entry, all in one commit. False when the
 * entry or its message is gone.
 */
const recordCreatedUpload = async (
  ctx: MessengerContext,
  entry: OutboxEntry,
  index: number,
  uploads: PendingUpload[],
): Promise<boolean> =>
  ctx.platform.locks.withLock(peerLock(entry.destination), async () => {
    const { storage } = ctx.platform;
    const current = await storage.get('outbox', entry.id);
    const message = entry.messageKey ? await storage.get('messages', entry.messageKey) : undefined;
    const uploadUrl = uploads[index]?.uploadUrl;
    if (!current || !message?.attachments?.[index] || !uploadUrl) return false;
    const attachments = message.attachments.map((a, i) =>
      i === index ? { ...a, storageId: storageIdOf(uploadUrl) } : a,
    );
    const updated: MessageEntry = { ...message, attachments };
    const profile = await readMeta(storage, 'profile');
    // A group message names its group (the revision we hold now); one we are no longer in is never sent anyway.
    const groupId = entry.kind === 'group' ? groupOf(entry.destination) : null;
    const group = groupId === null ? undefined : await storage.get('groups', groupId);
    const content = uploads.every((u) => u.uploadUrl !== null)
      ? encodeDataMessage({
          text: message.text,
          timestamp: current.timestamp,
          senderUsername: profile?.username,
          quote: message.quote,
          expireTimerSeconds: message.expireTimerSeconds,
          attachments: attachments.map(pointerOf),
          ...(group ? { group: { id: fromHex(group.id), revision: group.revision } } : {}),
        })
      : current.content;
    await storage.commit([
      { op: 'put', table: 'messages', key: message.id, value: updated },
      { op: 'put', table: 'outbox', key: entry.id, value: { ...current, uploads, content } },
    ]);
    emit(ctx, { type: 'message-updated', message: updated });
    return true;
  });

/** Whether an outbox entry still has attachment bytes to put on the server before it can be sent. */
export const hasPendingUploads = (entry: OutboxEntry): boolean => entry.uploads?.some((u) => !u.done) ?? false;

/** How an upload run ended: everything is on the server, the entry went away, or the uploader was stopped. */
export type UploadOutcome = 'uploaded' | 'cancelled' | 'stopped';

/**
 * Uploads whatever of an outbox entry's attachments the server does not hold yet — creating an upload the server
 * could not be asked for when the file was sent — from the offset the server reports (HEAD), one piece at a time,
 * committing the offset after each; throws (ServerUnreachable and the like) for the uploader to retry later, from
 * where it stopped. `stopped` is asked between pieces.
 */
export const runUploads = async (
  ctx: MessengerContext,
  entry: OutboxEntry,
  stopped: () => boolean = () => false,
): Promise<UploadOutcome> => {
  if (!entry.uploads || !hasPendingUploads(entry)) return 'uploaded';
  const store = storeOf(ctx);
  const uploads = entry.uploads.map((u) => ({ ...u }));
  /** An upload that nothing will send any more is deleted on the server, freeing the sender's quota. */
  const cancel = async (url: string | null): Promise<UploadOutcome> => {
    if (url !== null) await deleteUpload(ctx, url);
    return 'cancelled';
  };
  for (const [index, upload] of uploads.entries()) {
    if (upload.done) continue;
    if (upload.uploadUrl === null) {
      upload.uploadUrl = await createUpload(ctx, upload.blobSize);
      if (!(await recordCreatedUpload(ctx, entry, index, uploads))) return cancel(upload.uploadUrl);
    }
    const url = upload.uploadUrl;
    /** The piece at `at`, or null when the store holds less (the blob went with its message, or the device lost it). */
    const readPiece = async (at: number): Promise<{ at: number; bytes: Uint8Array<ArrayBuffer> } | null> => {
      const length = Math.min(ATTACHMENT_PIECE_BYTES, upload.blobSize - at);
      const bytes = new Uint8Array(length);
      let filled = 0;
      for await (const read of store.read(upload.blobId, { offset: at, length })) {
        bytes.set(read, filled);
        filled += read.length;
      }
      return filled === length ? { at, bytes } : null;
    };
    let offset = await uploadOffset(ctx, url);
    // The next piece is read from the store while the current one is PATCHed (two pieces in memory at most).
    let next = offset < upload.blobSize ? quiet(readPiece(offset)) : null;
    while (offset < upload.blobSize) {
      if (stopped()) return 'stopped';
      let piece = await (next ?? readPiece(offset));
      // The server confirmed another offset than asked for (a 409 answered with the offset it holds): read from there.
      if (piece !== null && piece.at !== offset) piece = await readPiece(offset);
      if (piece === null) {
        if (!(await ctx.platform.storage.get('outbox', entry.id))) return cancel(url);
        throw new ClientError(ClientErrorCode.StorageCorrupt, 'an attachment blob is missing');
      }
      const following = offset + piece.bytes.length;
      next = following < upload.blobSize ? quiet(readPiece(following)) : null;
      offset = await appendToUpload(ctx, url, offset, piece.bytes);
      upload.offset = offset;
      if (!(await saveUploads(ctx, entry, uploads))) return cancel(url);
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
    if (!(await saveUploads(ctx, entry, uploads))) return cancel(url);
  }
  return 'uploaded';
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

/** Records where a shell saved a decrypted copy of an attachment (see AttachmentEntry.savedCopy). */
export const recordSavedCopy = (
  ctx: MessengerContext,
  messageId: string,
  index: number,
  savedCopy: SavedCopy,
): Promise<void> => updateAttachment(ctx, messageId, index, { savedCopy });

const attachmentOf = async (ctx: MessengerContext, messageId: string, index: number): Promise<AttachmentEntry> => {
  const message = await ctx.history.message(messageId);
  const attachment = message?.attachments?.[index];
  if (!attachment) throw new ClientError(ClientErrorCode.InvalidInput, 'no such attachment');
  return attachment;
};

/**
 * The blob of an incoming attachment as it is downloaded, resumably: what this device already holds, then ranged
 * GETs from there, each piece stored (appended) before it is passed on, the next GET already on its way while a
 * piece is stored and checked (two pieces in memory at most). A 404 marks the attachment `unavailable`.
 */
const downloadSource = async (
  ctx: MessengerContext,
  store: AttachmentBlobStore,
  attachment: AttachmentEntry,
  messageId: string,
  index: number,
): Promise<() => AsyncIterable<Uint8Array>> => {
  const total = attachmentBlobSize(attachment.paddedSize);
  let held = (await store.size(attachment.blobId)) ?? 0;
  if (held > total) {
    await store.truncate(attachment.blobId, 0);
    held = 0;
  }
  const url = new URL(`/v1/attachments/${encodeURIComponent(attachment.storageId)}`, ctx.account.serverUrl).toString();
  const get = (offset: number): Promise<BinaryHttpResponse> => {
    const end = Math.min(total, offset + ATTACHMENT_PIECE_BYTES) - 1;
    return quiet(binaryRequest(ctx, { method: 'GET', url, headers: { range: `bytes=${offset}-${end}` } }));
  };
  return async function* blob(): AsyncIterable<Uint8Array> {
    if (held > 0) yield* store.read(attachment.blobId, { offset: 0, length: held });
    let offset = held;
    let next = offset < total ? get(offset) : null;
    while (next !== null) {
      const response = await next;
      next = null;
      if (response.status === 404) {
        await updateAttachment(ctx, messageId, index, {
          state: 'failed',
          error: ClientErrorCode.AttachmentUnavailable,
        });
        throw attachmentHttpError(response);
      }
      if (response.status !== 206 && response.status !== 200) throw attachmentHttpError(response);
      // A server ignoring the range (200) sends everything: keep only what is past what we hold, never past `total`.
      const body = response.status === 200 ? response.body.subarray(offset) : response.body;
      const usable = body.subarray(0, Math.min(body.length, total - offset));
      if (usable.length === 0) return;
      if (response.status === 206 && offset + usable.length < total) next = get(offset + usable.length);
      await store.append(attachment.blobId, usable);
      offset += usable.length;
      emit(ctx, { type: 'attachment-progress', messageId, index, direction: 'download', sent: offset, total });
      yield usable;
    }
  };
};

/**
 * A downloaded blob that is not what the sender's digest names (tampered, truncated, or lying about its size): it
 * is dropped, and the message shows that this attachment failed verification. Other errors are rethrown as they are.
 */
const refuseBlob = async (
  ctx: MessengerContext,
  store: AttachmentBlobStore,
  attachment: AttachmentEntry,
  messageId: string,
  index: number,
  error: unknown,
): Promise<never> => {
  if (!(error instanceof AttachmentError)) throw error;
  await store.delete(attachment.blobId);
  await updateAttachment(ctx, messageId, index, { state: 'failed', error: ClientErrorCode.AttachmentUnverified });
  ctx.platform.logger.warn('attachment failed verification', { kind: error.kind });
  throw new ClientError(ClientErrorCode.AttachmentUnverified, 'the attachment failed verification');
};

/**
 * Downloads, resumably, and verifies one attachment; afterwards it is `local` or `failed` (and this throws). The
 * verification reads the blob as it arrives (downloadSource), so a download costs no extra pass over the file
 * (bench/attachments-e2e.bench.js). The chunk hashes it verified are kept with the entry, so reading the attachment
 * later decrypts in one pass. Nothing is marked `local` or decrypted before the whole blob verified.
 */
export const downloadAttachment = async (ctx: MessengerContext, messageId: string, index: number): Promise<void> => {
  const store = storeOf(ctx);
  const attachment = await attachmentOf(ctx, messageId, index);
  if (attachment.state === 'local') return;
  const blob = await downloadSource(ctx, store, attachment, messageId, index);
  let chunkHashes: Uint8Array;
  try {
    chunkHashes = await verifyAttachmentChunks(blob, attachment);
  } catch (error) {
    return refuseBlob(ctx, store, attachment, messageId, index, error);
  }
  await updateAttachment(ctx, messageId, index, { state: 'local', error: null, chunkHashes });
};

/**
 * Downloads (resumably), verifies and decrypts one attachment in ONE pass, for a caller that saves it where the
 * user does not see it until this ends (the CLI's hidden partial file, renamed once complete): each chunk's
 * plaintext is yielded once its tag holds (a chunk altered in transit is refused before any of it is out), and the
 * digest, the length and the end of the blob are checked after the last one. When this completes, the attachment is
 * `local` (with its chunk hashes) exactly as after `downloadAttachment`; when it throws, what it yielded must be
 * dropped, and a blob failing verification is dropped and marked `failed` (`attachment_unverified`). An attachment
 * already on the device is read with `readAttachment`.
 */
export async function* downloadAndDecryptAttachment(
  ctx: MessengerContext,
  messageId: string,
  index: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const store = storeOf(ctx);
  const attachment = await attachmentOf(ctx, messageId, index);
  if (attachment.state === 'local') {
    yield* readAttachment(ctx, messageId, index);
    return;
  }
  const blob = await downloadSource(ctx, store, attachment, messageId, index);
  const pass = decryptAttachmentAsItArrives(blob, attachment);
  let chunkHashes: Uint8Array;
  try {
    for (;;) {
      const step = await pass.next();
      if (step.done) {
        chunkHashes = step.value;
        break;
      }
      yield step.value;
    }
  } catch (error) {
    return refuseBlob(ctx, store, attachment, messageId, index, error);
  }
  await updateAttachment(ctx, messageId, index, { state: 'local', error: null, chunkHashes });
}

/**
 * The plaintext of a downloaded attachment. With the chunk hashes its download verified, in one pass: the hashes
 * are checked against the digest, then every chunk is released only once it hashes to its entry and its tag holds
 * (a blob changed on the device since is refused at the first changed chunk, none of whose plaintext is yielded).
 * Without them (the sender's own blobs, rows from before), decryptAttachment's two passes: nothing is yielded unless
 * the whole blob verifies.
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
  const source = (): AsyncIterable<Uint8Array> => store.read(attachment.blobId);
  try {
    yield* attachment.chunkHashes
      ? decryptVerifiedAttachment(source, attachment, attachment.chunkHashes)
      : decryptAttachment(source, attachment);
  } catch (error) {
    if (error instanceof AttachmentError)
      throw new ClientError(ClientErrorCode.AttachmentUnverified, 'the attachment failed verification');
    throw error;
  }
}
