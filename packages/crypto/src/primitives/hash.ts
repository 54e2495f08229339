/**
 * Hashes and MACs used by the protocol: SHA-256/512 and HMAC-SHA256 on libsodium, HKDF-SHA256 (RFC 5869)
 * built on that HMAC, SHA3/SHAKE from @noble/hashes (libsodium's wrappers lack SHAKE256 output control we need
 * for Kyber). Does not do any protocol-level key derivation.
 */
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

import { HKDF_MAX_OUTPUT } from '../constants.js';
import { hkdfSha256Salt32, hmacSha256Key32, sha256 as sha256Direct, sha512 as sha512Direct } from './sodium-direct.js';
import { sodium } from './sodium.js';

const ZERO32 = new Uint8Array(32);

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function sha256(data: Uint8Array): Uint8Array {
  return sha256Direct(data);
}

export function sha512(data: Uint8Array): Uint8Array {
  return sha512Direct(data);
}

/** HMAC-SHA256 of the concatenation of `parts` under `key` (any key length). */
export function hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  if (key.length === 32) return hmacSha256Key32(key, parts);
  const s = sodium();
  const st = s.crypto_auth_hmacsha256_init(key);
  for (const p of parts) s.crypto_auth_hmacsha256_update(st, p);
  return s.crypto_auth_hmacsha256_final(st);
}

/** HKDF-SHA256 (RFC 5869). A null or empty salt means 32 zero bytes, as the RFC specifies. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array | null, info: Uint8Array, length: number): Uint8Array {
  if (length < 0 || length > HKDF_MAX_OUTPUT) throw new RangeError('hkdf: bad output length');
  const saltOrZero = salt && salt.length > 0 ? salt : ZERO32;
  if (saltOrZero.length === 32) {
    const fast = hkdfSha256Salt32(saltOrZero, ikm, info, length);
    if (fast) return fast;
  }
  const prk = hmacSha256(saltOrZero, ikm);
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  const counter = new Uint8Array(1);
  for (let i = 0, o = 0; o < length; i++) {
    counter[0] = i + 1;
    prev = hmacSha256(prk, prev, info, counter);
    out.set(prev.subarray(0, Math.min(32, length - o)), o);
    o += 32;
  }
  return out;
}

export function sha3_256Hash(data: Uint8Array): Uint8Array {
  return sha3_256(data);
}

export function shake256Hash(data: Uint8Array, length: number): Uint8Array {
  return shake256(data, { dkLen: length });
}

export function utf8(s: string): Uint8Array {
  return utf8ToBytes(s);
}
