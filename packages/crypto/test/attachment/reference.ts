/**
 * An independent reference of attachment format v1 on Node's own crypto (OpenSSL), written from the format's
 * definition in docs/attachments.md and used only by the tests to cross-check vectors and the implementation. It
 * pads with Signal's floating-point bucket formula, so agreeing with it also checks the exact bucket table.
 */
import { createCipheriv, createHash } from 'node:crypto';

export const REF_CHUNK = 256 * 1024;

/** Signal's rule as a formula: max(541, floor(1.05^ceil(log_1.05(n)))). */
export function referenceBucket(size: number): number {
  return Math.max(541, Math.floor(1.05 ** Math.ceil(Math.log(size) / Math.log(1.05))));
}

export function referenceNonce(index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(index, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** The pattern plaintext of the large vectors: byte i is (i × 7 + 3) mod 256. */
export function patternPlaintext(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

export function referenceEncrypt(
  key: Uint8Array,
  plaintext: Uint8Array,
): { blob: Buffer; digest: Buffer; paddedSize: number } {
  const paddedSize = referenceBucket(plaintext.length);
  const padded = Buffer.alloc(paddedSize);
  padded.set(plaintext);
  const count = Math.ceil(paddedSize / REF_CHUNK);
  const sealed: Buffer[] = [];
  const outer = createHash('sha256')
    .update('Cove attachment digest v1')
    .update(createHash('sha256').update('Cove attachment key commitment v1').update(key).digest());
  for (let i = 0; i < count; i++) {
    const cipher = createCipheriv('aes-256-gcm', key, referenceNonce(i, i === count - 1));
    const chunk = Buffer.concat([
      cipher.update(padded.subarray(i * REF_CHUNK, (i + 1) * REF_CHUNK)),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    outer.update(createHash('sha256').update(chunk).digest());
    sealed.push(chunk);
  }
  return { blob: Buffer.concat(sealed), digest: outer.digest(), paddedSize };
}
