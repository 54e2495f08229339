/**
 * Helpers of the attachment tests: whole-blob encryption with a fixed key, collecting a decryption, and sources that
 * cut a blob into arbitrary pieces or change it between reads.
 */
import {
  decryptAttachment,
  encryptAttachment,
  type AttachmentEncryptionResult,
  type AttachmentSecrets,
  type AttachmentSource,
} from '../../src/attachment/index.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

export async function encryptWithKey(
  key: Uint8Array,
  plaintext: Uint8Array | Uint8Array[],
): Promise<AttachmentEncryptionResult & { blob: Uint8Array }> {
  return encryptAttachment(plaintext, { rng: () => key.slice() });
}

/** Cuts `bytes` at the given lengths (cycled); every byte appears once, in order. */
export function split(bytes: Uint8Array, lengths: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const n = Math.max(1, lengths[i % lengths.length] ?? 1);
    out.push(bytes.subarray(offset, offset + n));
    offset += n;
  }
  return out;
}

/** Runs a decryption to the end, recording every released piece even when it then fails. */
export async function collect(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
): Promise<{ released: Uint8Array[]; error: unknown; plaintext: Uint8Array }> {
  const released: Uint8Array[] = [];
  let error: unknown = null;
  try {
    for await (const piece of decryptAttachment(source, secrets)) released.push(piece.slice());
  } catch (e) {
    error = e;
  }
  return { released, error, plaintext: new Uint8Array(Buffer.concat(released)) };
}
