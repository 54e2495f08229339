/**
 * The attachment layer's only contact with WebCrypto (`globalThis.crypto.subtle`, present in browsers, workers and
 * Node ≥ 19): AES-256-GCM per chunk and one-shot SHA-256. WebCrypto runs these natively (AES-NI, SHA extensions)
 * and, in Node, off the main thread, which is what makes the format fast enough; see docs/attachments.md. Declares
 * the few WebCrypto types it uses because the package compiles without DOM types. Does no chunking or framing.
 */
import { AttachmentError } from './attachment-error.js';

type CryptoKeyHandle = { readonly type: string };

interface Subtle {
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: 'AES-GCM' },
    extractable: false,
    usages: readonly ('encrypt' | 'decrypt')[],
  ): Promise<CryptoKeyHandle>;
  encrypt(
    algorithm: { name: 'AES-GCM'; iv: Uint8Array; tagLength: number },
    key: CryptoKeyHandle,
    data: Uint8Array,
  ): Promise<ArrayBuffer>;
  decrypt(
    algorithm: { name: 'AES-GCM'; iv: Uint8Array; tagLength: number },
    key: CryptoKeyHandle,
    data: Uint8Array,
  ): Promise<ArrayBuffer>;
  digest(algorithm: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
}

function subtle(): Subtle {
  const s = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!s) throw new Error('@cove/crypto: attachments need WebCrypto (crypto.subtle), which this platform lacks');
  return s;
}

const TAG_BITS = 128;

/** A non-extractable AES-256-GCM key for one attachment. */
export type ChunkKey = { readonly handle: CryptoKeyHandle };

export async function importChunkKey(key: Uint8Array): Promise<ChunkKey> {
  return { handle: await subtle().importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']) };
}

/** Seals one chunk: ciphertext ‖ 16-byte tag. */
export async function sealChunk(key: ChunkKey, nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await subtle().encrypt({ name: 'AES-GCM', iv: nonce, tagLength: TAG_BITS }, key.handle, plaintext),
  );
}

/** Opens one sealed chunk; a bad tag is `MacMismatch` naming the chunk index only. */
export async function openChunk(
  key: ChunkKey,
  nonce: Uint8Array,
  sealed: Uint8Array,
  index: number,
): Promise<Uint8Array> {
  try {
    return new Uint8Array(
      await subtle().decrypt({ name: 'AES-GCM', iv: nonce, tagLength: TAG_BITS }, key.handle, sealed),
    );
  } catch {
    throw new AttachmentError('MacMismatch', `attachment chunk ${index} failed authentication`);
  }
}

export async function sha256Native(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', data));
}
