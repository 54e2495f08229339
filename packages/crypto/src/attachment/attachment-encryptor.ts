/**
 * Streaming attachment encryption with bounded memory: plaintext goes in by `update(bytes)` in pieces of any size,
 * sealed chunks go out to a caller-supplied sink as soon as they are known not to be the last one, and `finish()`
 * pads with zeros to the size bucket, seals the last chunk and returns the pointer's secrets (fresh key, digest,
 * sizes). Holds one 256 KiB chunk at a time. Does not upload, store or know about pointers' other fields.
 */
import { defaultRng, type Rng } from '../primitives/random.js';

import { DigestAccumulator } from './attachment-digest.js';
import { AttachmentError } from './attachment-error.js';
import {
  ATTACHMENT_CHUNK_SIZE,
  ATTACHMENT_KEY_SIZE,
  ATTACHMENT_MAX_PADDED_SIZE,
  ATTACHMENT_PIPELINE_DEPTH,
  type AttachmentSecrets,
  blobSize,
  chunkNonce,
} from './attachment-format.js';
import { paddedSize } from './attachment-padding.js';
import { importChunkKey, sealChunk, sha256Native, type ChunkKey } from './web-crypto.js';

/** Receives each sealed piece of the blob, in order; awaiting it gives backpressure. */
export type AttachmentSink = (piece: Uint8Array) => void | Promise<void>;

export type AttachmentEncryptorOptions = {
  /** Source of the 32-byte key; tests inject a fixed one. Default: the platform CSPRNG. */
  readonly rng?: Rng;
  /** Refuse (`TooLarge`) more plaintext than this; default and maximum 2 GiB. */
  readonly maxPlainSize?: number;
};

/** What a pointer needs, plus the uploaded length. */
export type AttachmentEncryptionResult = AttachmentSecrets & { readonly blobSize: number };

export interface AttachmentEncryptor {
  /** Adds plaintext. Calls must not overlap: await each before the next. */
  update(plaintext: Uint8Array): Promise<void>;
  /** Pads, seals the rest and returns the secrets; the encryptor is spent afterwards. */
  finish(): Promise<AttachmentEncryptionResult>;
}

class StreamingEncryptor implements AttachmentEncryptor {
  readonly #sink: AttachmentSink;
  readonly #key: Uint8Array;
  readonly #chunkKey: ChunkKey;
  readonly #maxPlainSize: number;
  readonly #digest: DigestAccumulator;
  #pending = new Uint8Array(ATTACHMENT_CHUNK_SIZE);
  readonly #inFlight: Promise<SealedPiece>[] = [];
  #pendingLength = 0;
  #index = 0;
  #plainSize = 0;
  #busy = false;
  #done = false;

  constructor(sink: AttachmentSink, key: Uint8Array, chunkKey: ChunkKey, maxPlainSize: number) {
    this.#sink = sink;
    this.#key = key;
    this.#chunkKey = chunkKey;
    this.#maxPlainSize = maxPlainSize;
    this.#digest = new DigestAccumulator(key);
  }

  async update(plaintext: Uint8Array): Promise<void> {
    if (!(plaintext instanceof Uint8Array))
      throw new AttachmentError('InvalidArgument', 'attachment plaintext must be a Uint8Array');
    this.#enter();
    try {
      if (this.#plainSize + plaintext.length > this.#maxPlainSize)
        throw new AttachmentError('TooLarge', 'attachment larger than the allowed maximum');
      this.#plainSize += plaintext.length;
      await this.#absorb(plaintext);
    } catch (error) {
      if (!AttachmentError.is(error, 'TooLarge')) this.#done = true; // a chunk may be lost: the stream is unusable
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  async finish(): Promise<AttachmentEncryptionResult> {
    this.#enter();
    try {
      this.#done = true;
      const padded = paddedSize(this.#plainSize);
      const zeros = new Uint8Array(Math.min(ATTACHMENT_CHUNK_SIZE, padded - this.#plainSize));
      for (let left = padded - this.#plainSize; left > 0; left -= zeros.length)
        await this.#absorb(left >= zeros.length ? zeros : zeros.subarray(0, left));
      await this.#seal(true);
      while (this.#inFlight.length > 0) await this.#settle();
      return {
        key: this.#key,
        digest: this.#digest.digest(),
        paddedSize: padded,
        plainSize: this.#plainSize,
        blobSize: blobSize(padded),
      };
    } finally {
      this.#busy = false;
    }
  }

  #enter(): void {
    if (this.#done) throw new AttachmentError('InvalidArgument', 'attachment encryptor already finished or failed');
    if (this.#busy) throw new AttachmentError('InvalidArgument', 'attachment encryptor calls overlap');
    this.#busy = true;
  }

  /** Copies bytes into the pending chunk, sealing a full chunk only once more bytes show it is not the last. */
  async #absorb(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#pendingLength === ATTACHMENT_CHUNK_SIZE) await this.#seal(false);
      const take = Math.min(bytes.length - offset, ATTACHMENT_CHUNK_SIZE - this.#pendingLength);
      this.#pending.set(bytes.subarray(offset, offset + take), this.#pendingLength);
      this.#pendingLength += take;
      offset += take;
    }
  }

  /** Starts sealing the pending chunk, then hands the oldest finished one to the sink when the pipe is full. */
  async #seal(last: boolean): Promise<void> {
    const work = sealAndHash(this.#chunkKey, chunkNonce(this.#index, last), this.#pending, this.#pendingLength);
    work.catch(() => undefined); // awaited in order by #settle; this only keeps a failure from going unhandled
    this.#inFlight.push(work);
    this.#pending = new Uint8Array(ATTACHMENT_CHUNK_SIZE);
    this.#pendingLength = 0;
    this.#index++;
    if (this.#inFlight.length >= ATTACHMENT_PIPELINE_DEPTH) await this.#settle();
  }

  async #settle(): Promise<void> {
    const next = this.#inFlight.shift();
    if (!next) return;
    const { sealed, hash } = await next;
    this.#digest.add(hash);
    await this.#sink(sealed);
  }
}

type SealedPiece = { readonly sealed: Uint8Array; readonly hash: Uint8Array };

async function sealAndHash(key: ChunkKey, nonce: Uint8Array, chunk: Uint8Array, length: number): Promise<SealedPiece> {
  const sealed = await sealChunk(key, nonce, chunk.subarray(0, length));
  chunk.fill(0);
  return { sealed, hash: await sha256Native(sealed) };
}

/**
 * Starts encrypting one attachment under a fresh random key. Every sealed piece goes to `sink` in order; the
 * concatenation of the pieces is the blob to upload.
 */
export async function createAttachmentEncryptor(
  sink: AttachmentSink,
  options: AttachmentEncryptorOptions = {},
): Promise<AttachmentEncryptor> {
  const maxPlainSize = options.maxPlainSize ?? ATTACHMENT_MAX_PADDED_SIZE;
  if (!Number.isSafeInteger(maxPlainSize) || maxPlainSize < 0 || maxPlainSize > ATTACHMENT_MAX_PADDED_SIZE)
    throw new AttachmentError('InvalidArgument', 'attachment maxPlainSize out of range');
  const key = (options.rng ?? defaultRng)(ATTACHMENT_KEY_SIZE);
  if (!(key instanceof Uint8Array) || key.length !== ATTACHMENT_KEY_SIZE)
    throw new AttachmentError('InvalidArgument', `rng must return ${ATTACHMENT_KEY_SIZE} bytes`);
  return new StreamingEncryptor(sink, key, await importChunkKey(key), maxPlainSize);
}

/** Encrypts a whole plaintext held in memory (small files, tests); returns the blob with the secrets. */
export async function encryptAttachment(
  plaintext: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: AttachmentEncryptorOptions = {},
): Promise<AttachmentEncryptionResult & { readonly blob: Uint8Array }> {
  const pieces: Uint8Array[] = [];
  const encryptor = await createAttachmentEncryptor((piece) => {
    pieces.push(piece);
  }, options);
  if (plaintext instanceof Uint8Array) await encryptor.update(plaintext);
  else for await (const piece of plaintext) await encryptor.update(piece);
  const result = await encryptor.finish();
  const blob = new Uint8Array(result.blobSize);
  let offset = 0;
  for (const piece of pieces) {
    blob.set(piece, offset);
    offset += piece.length;
  }
  return { ...result, blob };
}
