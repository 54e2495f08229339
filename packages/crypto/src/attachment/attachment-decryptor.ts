/**
 * Verify-then-decrypt for attachment blobs, streaming with bounded memory. The source is re-readable (a function
 * returning a fresh iteration of the blob: a downloaded file, a cache entry). Pass 1 reads the whole blob, checks
 * its length against the pointer's padded size, its digest (constant time) and every chunk's AES-GCM tag, and
 * releases nothing; pass 2 reads it again and releases plaintext chunk by chunk, each only after its bytes hash to
 * what pass 1 verified, so a source that changes between the passes is refused (`SourceChanged`). Padding is
 * stripped using the pointer's plain size. Does not download, cache or write files.
 */
import { constantTimeEqual, DigestAccumulator } from './attachment-digest.js';
import { AttachmentError } from './attachment-error.js';
import {
  ATTACHMENT_CHUNK_SIZE,
  ATTACHMENT_DIGEST_SIZE,
  ATTACHMENT_PIPELINE_DEPTH,
  ATTACHMENT_TAG_SIZE,
  type AttachmentSecrets,
  blobSize,
  checkSecrets,
  chunkCount,
  chunkNonce,
  chunkPlainSize,
} from './attachment-format.js';
import { importChunkKey, openChunk, sha256Native, type ChunkKey } from './web-crypto.js';

/** A re-readable blob: each call starts a new iteration from the first byte. */
export type AttachmentSource = () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

type SealedChunk = { readonly index: number; readonly sealed: Uint8Array; readonly last: boolean };

/**
 * Cuts the source into the sealed chunks the padded size implies. More bytes than expected fail as soon as they
 * arrive; fewer fail at the end. Full chunks that arrive whole are passed through without copying.
 */
async function* sealedChunks(source: AttachmentSource, paddedSize: number): AsyncGenerator<SealedChunk> {
  const count = chunkCount(paddedSize);
  const expected = blobSize(paddedSize);
  const sizeOf = (index: number): number => chunkPlainSize(paddedSize, index) + ATTACHMENT_TAG_SIZE;
  let index = 0;
  let buffer = new Uint8Array(sizeOf(0));
  let filled = 0;
  let total = 0;
  for await (const piece of source()) {
    if (!(piece instanceof Uint8Array))
      throw new AttachmentError('InvalidArgument', 'attachment source must yield Uint8Array pieces');
    total += piece.length;
    if (total > expected) throw new AttachmentError('SizeMismatch', 'attachment blob longer than its pointer says');
    let offset = 0;
    while (offset < piece.length) {
      const want = buffer.length - filled;
      if (filled === 0 && piece.length - offset >= want) {
        yield { index, sealed: piece.subarray(offset, offset + want), last: index === count - 1 };
        offset += want;
      } else {
        const take = Math.min(want, piece.length - offset);
        buffer.set(piece.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled < buffer.length) continue;
        yield { index, sealed: buffer, last: index === count - 1 };
      }
      index++;
      filled = 0;
      if (index < count) buffer = new Uint8Array(sizeOf(index));
    }
  }
  if (total !== expected) throw new AttachmentError('SizeMismatch', 'attachment blob shorter than its pointer says');
}

/** Pass 1's tag check: decrypts, wipes the plaintext at once, and reports only whether the tag held. */
async function tagIsValid(key: ChunkKey, index: number, last: boolean, sealed: Uint8Array): Promise<boolean> {
  try {
    (await openChunk(key, chunkNonce(index, last), sealed, index)).fill(0);
    return true;
  } catch {
    return false;
  }
}

async function openOrNull(key: ChunkKey, index: number, last: boolean, sealed: Uint8Array): Promise<Uint8Array | null> {
  try {
    return await openChunk(key, chunkNonce(index, last), sealed, index);
  } catch {
    return null;
  }
}

/** Proof that pass 1 succeeded: the hash of every verified sealed chunk, for pass 2 to compare against. */
type Verified = { readonly chunkHashes: Uint8Array; readonly chunkKey: ChunkKey };

async function verify(source: AttachmentSource, secrets: AttachmentSecrets): Promise<Verified> {
  checkSecrets(secrets);
  const chunkKey = await importChunkKey(secrets.key);
  const chunkHashes = new Uint8Array(chunkCount(secrets.paddedSize) * ATTACHMENT_DIGEST_SIZE);
  const digest = new DigestAccumulator(secrets.key);
  const inFlight: Promise<[Uint8Array, boolean]>[] = [];
  let settled = 0;
  let firstBadChunk = -1;
  const settle = async (): Promise<void> => {
    const next = inFlight.shift();
    if (!next) return;
    const [hash, tagValid] = await next;
    if (!tagValid && firstBadChunk < 0) firstBadChunk = settled;
    chunkHashes.set(hash, settled * ATTACHMENT_DIGEST_SIZE);
    digest.add(hash);
    settled++;
  };
  try {
    for await (const { index, sealed, last } of sealedChunks(source, secrets.paddedSize)) {
      inFlight.push(quiet(Promise.all([sha256Native(sealed), tagIsValid(chunkKey, index, last, sealed)])));
      if (inFlight.length >= ATTACHMENT_PIPELINE_DEPTH) await settle();
    }
    while (inFlight.length > 0) await settle();
  } finally {
    inFlight.length = 0;
  }
  if (!constantTimeEqual(digest.digest(), secrets.digest))
    throw new AttachmentError('DigestMismatch', 'attachment digest does not match its pointer');
  if (firstBadChunk >= 0)
    throw new AttachmentError('MacMismatch', `attachment chunk ${firstBadChunk} failed authentication`);
  return { chunkHashes, chunkKey };
}

/** Marks a promise as handled (it is awaited later, in order) so an early exit leaves no unhandled rejection. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Checks a blob against its pointer without releasing any plaintext: length, digest, then every chunk's tag.
 * Throws `AttachmentError` (`InvalidArgument`, `SizeMismatch`, `DigestMismatch`, `MacMismatch`).
 */
export async function verifyAttachment(source: AttachmentSource, secrets: AttachmentSecrets): Promise<void> {
  await verify(source, secrets);
}

/**
 * `verifyAttachment`, returning the SHA-256 of every sealed chunk it verified (32 bytes per chunk, in order). A
 * reader keeps them with the blob and later decrypts it in one pass with `decryptVerifiedAttachment`, instead of
 * verifying the whole blob again. The list is not secret and needs no protection: it is checked against the digest.
 */
export async function verifyAttachmentChunks(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
): Promise<Uint8Array> {
  return (await verify(source, secrets)).chunkHashes;
}

/**
 * Checks a list of chunk hashes (as `verifyAttachmentChunks` returned) against the pointer: the right length for
 * the padded size, and the digest they and the key make equals the pointer's (constant time). Then they name the
 * sender's exact chunks, so a chunk whose bytes hash to its entry is the sender's. Throws `InvalidArgument` (wrong
 * length) or `DigestMismatch`.
 */
function checkChunkHashes(secrets: AttachmentSecrets, chunkHashes: Uint8Array): void {
  if (
    !(chunkHashes instanceof Uint8Array) ||
    chunkHashes.length !== chunkCount(secrets.paddedSize) * ATTACHMENT_DIGEST_SIZE
  )
    throw new AttachmentError('InvalidArgument', 'attachment chunk hash list has the wrong length');
  const digest = new DigestAccumulator(secrets.key);
  for (let at = 0; at < chunkHashes.length; at += ATTACHMENT_DIGEST_SIZE)
    digest.add(chunkHashes.subarray(at, at + ATTACHMENT_DIGEST_SIZE));
  if (!constantTimeEqual(digest.digest(), secrets.digest))
    throw new AttachmentError('DigestMismatch', 'attachment chunk hashes do not match its digest');
}

/**
 * Verifies the whole blob first (see `verifyAttachment`), then yields the plaintext in pieces of at most 256 KiB,
 * padding stripped. Nothing is yielded unless the whole blob verified; a source that changes between the passes
 * fails with `SourceChanged` before the changed chunk is released.
 */
export async function* decryptAttachment(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
): AsyncGenerator<Uint8Array, void, undefined> {
  yield* release(source, secrets, await verify(source, secrets));
}

/**
 * Decrypts a blob verified before (by `verifyAttachmentChunks`, when it was downloaded) in ONE pass: the chunk
 * hashes are checked against the pointer's digest first (`DigestMismatch`, nothing read), then each chunk is
 * released only once its bytes hash to its entry in the list and its tag holds; a chunk that does not
 * (the stored blob changed since it was verified) fails with `SourceChanged` before any of its plaintext is out.
 * The same guarantees as `decryptAttachment`'s second pass, without reading and checking the blob a first time.
 */
export async function* decryptVerifiedAttachment(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
  chunkHashes: Uint8Array,
): AsyncGenerator<Uint8Array, void, undefined> {
  checkSecrets(secrets);
  checkChunkHashes(secrets, chunkHashes);
  yield* release(source, secrets, { chunkHashes, chunkKey: await importChunkKey(secrets.key) });
}

/** Pass 2: releases plaintext chunk by chunk, each after its hash matches the verified list and its tag holds. */
async function* release(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
  { chunkHashes, chunkKey }: Verified,
): AsyncGenerator<Uint8Array, void, undefined> {
  const inFlight: Promise<[Uint8Array, Uint8Array | null]>[] = [];
  let settled = 0;
  const settle = async (): Promise<Uint8Array | null> => {
    const next = inFlight.shift();
    if (!next) return null;
    const [hash, plaintext] = await next;
    const index = settled++;
    const verified = chunkHashes.subarray(index * ATTACHMENT_DIGEST_SIZE, (index + 1) * ATTACHMENT_DIGEST_SIZE);
    if (!constantTimeEqual(hash, verified) || plaintext === null)
      throw new AttachmentError('SourceChanged', `attachment chunk ${index} changed after verification`);
    const keep = Math.min(plaintext.length, Math.max(0, secrets.plainSize - index * ATTACHMENT_CHUNK_SIZE));
    return plaintext.subarray(0, keep);
  };
  for await (const { index, sealed, last } of sealedChunks(source, secrets.paddedSize)) {
    inFlight.push(quiet(Promise.all([sha256Native(sealed), openOrNull(chunkKey, index, last, sealed)])));
    if (inFlight.length >= ATTACHMENT_PIPELINE_DEPTH) {
      const plaintext = await settle();
      if (plaintext && plaintext.length > 0) yield plaintext;
    }
  }
  while (inFlight.length > 0) {
    const plaintext = await settle();
    if (plaintext && plaintext.length > 0) yield plaintext;
  }
}

/**
 * One pass over a blob as it arrives (a download): yields each chunk's plaintext, padding stripped, as soon as its
 * AES-GCM tag holds under the pointer's key, and returns the chunk hashes (for `decryptVerifiedAttachment` later).
 * A chunk changed by anyone without the key fails its tag (`MacMismatch`) before any of its plaintext is out, and the
 * nonces bind each chunk to its place. What only the end can tell is checked there: the length (`SizeMismatch`), the
 * last-chunk flag (a blob cut at a chunk boundary) and the digest (`DigestMismatch`), which commits to the key and
 * binds every chunk. So until this generator RETURNS, what it released is an authentic prefix, not yet the whole,
 * committed attachment: a caller must keep it where the user does not see it (a temporary file, memory) and drop it
 * when this throws. Use `decryptAttachment` where nothing may be released before the whole blob verified.
 */
export async function* decryptAttachmentAsItArrives(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
): AsyncGenerator<Uint8Array, Uint8Array, undefined> {
  checkSecrets(secrets);
  const chunkKey = await importChunkKey(secrets.key);
  const chunkHashes = new Uint8Array(chunkCount(secrets.paddedSize) * ATTACHMENT_DIGEST_SIZE);
  const digest = new DigestAccumulator(secrets.key);
  const inFlight: Promise<[Uint8Array, Uint8Array | null]>[] = [];
  let settled = 0;
  const settle = async (): Promise<Uint8Array | null> => {
    const next = inFlight.shift();
    if (!next) return null;
    const [hash, plaintext] = await next;
    const index = settled++;
    if (plaintext === null) throw new AttachmentError('MacMismatch', `attachment chunk ${index} failed authentication`);
    chunkHashes.set(hash, index * ATTACHMENT_DIGEST_SIZE);
    digest.add(hash);
    const keep = Math.min(plaintext.length, Math.max(0, secrets.plainSize - index * ATTACHMENT_CHUNK_SIZE));
    return plaintext.subarray(0, keep);
  };
  try {
    for await (const { index, sealed, last } of sealedChunks(source, secrets.paddedSize)) {
      inFlight.push(quiet(Promise.all([sha256Native(sealed), openOrNull(chunkKey, index, last, sealed)])));
      if (inFlight.length >= ATTACHMENT_PIPELINE_DEPTH) {
        const plaintext = await settle();
        if (plaintext && plaintext.length > 0) yield plaintext;
      }
    }
    while (inFlight.length > 0) {
      const plaintext = await settle();
      if (plaintext && plaintext.length > 0) yield plaintext;
    }
  } finally {
    inFlight.length = 0;
  }
  if (!constantTimeEqual(digest.digest(), secrets.digest))
    throw new AttachmentError('DigestMismatch', 'attachment digest does not match its pointer');
  return chunkHashes;
}

/** Verifies and decrypts a blob held in memory (small files, tests). */
export async function decryptAttachmentBytes(blob: Uint8Array, secrets: AttachmentSecrets): Promise<Uint8Array> {
  const out = new Uint8Array(secrets.plainSize);
  let offset = 0;
  for await (const piece of decryptAttachment(() => [blob], secrets)) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}
