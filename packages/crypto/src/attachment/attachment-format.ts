/**
 * Cove's attachment format, version 1 (see docs/attachments.md for the decision and its reasons): the padded
 * plaintext is cut into chunks of 256 KiB, each sealed with AES-256-GCM under the attachment's fresh random key
 * with a nonce made of the chunk index and a last-chunk flag (the STREAM construction), and the digest is SHA-256
 * over a label, a commitment to the key and the SHA-256 of every sealed chunk. This module holds the constants and the size arithmetic;
 * it does no cryptography and no I/O.
 */
import { AttachmentError } from './attachment-error.js';

/** Plaintext bytes per chunk: large enough that a WebCrypto call per chunk costs little, small enough to buffer. */
export const ATTACHMENT_CHUNK_SIZE = 256 * 1024;
/** AES-GCM tag length: the full 128 bits (NIST SP 800-38D's strongest option; no reason to truncate). */
export const ATTACHMENT_TAG_SIZE = 16;
/** Sealed chunk size of every chunk but the last. */
export const ATTACHMENT_SEALED_CHUNK_SIZE = ATTACHMENT_CHUNK_SIZE + ATTACHMENT_TAG_SIZE;
/** AES-256 key: fresh and random for every attachment, never reused, so deterministic nonces are safe. */
export const ATTACHMENT_KEY_SIZE = 32;
/** SHA-256 output. */
export const ATTACHMENT_DIGEST_SIZE = 32;
/** GCM's 96-bit nonce: 11 bytes of big-endian chunk index, then 0x01 for the last chunk and 0x00 otherwise. */
export const ATTACHMENT_NONCE_SIZE = 12;
/**
 * Largest padded size the format accepts: 2 GiB keeps every size a safe small integer and far above any server
 * cap (100 MiB by default); the wire bound of the pointer is the same number.
 */
export const ATTACHMENT_MAX_PADDED_SIZE = 2 * 1024 * 1024 * 1024;
/**
 * Chunks in flight at once (sealing, opening, hashing): WebCrypto runs them concurrently (Node's default thread
 * pool has 4 threads; browsers use their own workers), while memory stays bounded at a few chunks.
 */
export const ATTACHMENT_PIPELINE_DEPTH = 4;
/** Domain label of the digest, so it can never equal a plain SHA-256 of some other Cove value. */
export const ATTACHMENT_DIGEST_LABEL = 'Cove attachment digest v1';
/** Domain label of the key commitment folded into the digest. */
export const ATTACHMENT_KEY_COMMITMENT_LABEL = 'Cove attachment key commitment v1';

/** Number of chunks of a padded plaintext (never 0: padded sizes are at least 541). */
export function chunkCount(paddedSize: number): number {
  return Math.ceil(paddedSize / ATTACHMENT_CHUNK_SIZE);
}

/** Length of the blob (what is uploaded) for a padded plaintext of `paddedSize` bytes. */
export function blobSize(paddedSize: number): number {
  return paddedSize + chunkCount(paddedSize) * ATTACHMENT_TAG_SIZE;
}

/** Plaintext length of chunk `index` of a padded plaintext. */
export function chunkPlainSize(paddedSize: number, index: number): number {
  return Math.min(ATTACHMENT_CHUNK_SIZE, paddedSize - index * ATTACHMENT_CHUNK_SIZE);
}

/** The nonce of chunk `index`; `last` marks the final chunk so truncation at a chunk boundary fails. */
export function chunkNonce(index: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(ATTACHMENT_NONCE_SIZE);
  let v = index;
  for (let i = ATTACHMENT_NONCE_SIZE - 2; i >= 0 && v > 0; i--) {
    nonce[i] = v % 256;
    v = Math.floor(v / 256);
  }
  nonce[ATTACHMENT_NONCE_SIZE - 1] = last ? 1 : 0;
  return nonce;
}

/** The decryption secrets and sizes a pointer carries; everything the receiver needs besides the blob. */
export type AttachmentSecrets = {
  readonly key: Uint8Array;
  readonly digest: Uint8Array;
  readonly paddedSize: number;
  readonly plainSize: number;
};

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Checks a pointer's secrets before any byte is read: lengths, ranges, plain ≤ padded. */
export function checkSecrets(secrets: AttachmentSecrets): void {
  if (!(secrets.key instanceof Uint8Array) || secrets.key.length !== ATTACHMENT_KEY_SIZE)
    throw new AttachmentError('InvalidArgument', `attachment key must be ${ATTACHMENT_KEY_SIZE} bytes`);
  if (!(secrets.digest instanceof Uint8Array) || secrets.digest.length !== ATTACHMENT_DIGEST_SIZE)
    throw new AttachmentError('InvalidArgument', `attachment digest must be ${ATTACHMENT_DIGEST_SIZE} bytes`);
  if (!isSize(secrets.paddedSize) || secrets.paddedSize < 1 || secrets.paddedSize > ATTACHMENT_MAX_PADDED_SIZE)
    throw new AttachmentError('InvalidArgument', 'attachment padded size out of range');
  if (!isSize(secrets.plainSize) || secrets.plainSize > secrets.paddedSize)
    throw new AttachmentError('InvalidArgument', 'attachment plain size exceeds its padded size');
}
