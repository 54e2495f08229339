/**
 * The small set of symmetric helpers SPQR needs: HKDF-SHA256 and HMAC-SHA256 (the package's libsodium-backed
 * primitives, about three times faster than a pure-JS HMAC on the per-message chain step, so `ready()` must have
 * resolved), big-endian integer encodings used in KDF labels, ASCII labels, and byte concatenation.
 * Byte comparisons are primitives/bytes.ts's. Holds no state.
 */
import { concat, hkdf, hmacSha256 as hmac } from '../../primitives/hash.js';

/** HKDF's "no salt" is a hash-length string of zeros (RFC 5869 §2.2); SPQR always passes it explicitly. */
export const ZERO_SALT = new Uint8Array(32);

/** Bytes of an ASCII label (every SPQR label is ASCII). */
export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f;
  return out;
}

export function hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdf(ikm, salt, info, length);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(key, data);
}

/** Concatenation of byte strings (the package's one implementation). */
export const concatBytes = concat;

export function be32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/** Big-endian 64-bit encoding of a non-negative safe integer (epochs never approach 2^53). */
export function be64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 0x1_0000_0000), false);
  view.setUint32(4, value >>> 0, false);
  return out;
}
