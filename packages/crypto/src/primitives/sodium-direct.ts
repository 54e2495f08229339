/**
 * Hot-path calls straight into libsodium's WebAssembly exports (the `libsodium` module the wrappers expose),
 * through one scratch region allocated once in the WebAssembly heap: X25519, SHA-256/512, HMAC-SHA256, HKDF,
 * SHA3-256/512 and SHAKE128/256. The wrappers allocate, copy and free every argument and result on each call,
 * which cost more than the primitive itself for the short inputs the protocol hashes; HKDF here also keys its
 * HMAC once for all expand blocks instead of once per block. Inputs that do not fit the scratch region go through
 * the wrappers, and so does everything when the libsodium build in use does not expose its exports, so results
 * never depend on either. The region is wiped after each call (it held keys and secrets).
 *
 * Does not load libsodium (sodium.ts does) and adds no primitive of its own; the results are libsodium's, byte for
 * byte. Synchronous and non-reentrant, like the WebAssembly it calls.
 */
import type { Sodium } from './sodium.js';
import { sodium } from './sodium.js';

/** The raw exports used here (Emscripten's names; 64-bit lengths arrive as two 32-bit halves, low first). */
interface RawSodium {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _crypto_scalarmult(q: number, n: number, p: number): number;
  _crypto_scalarmult_base(q: number, n: number): number;
  _crypto_hash_sha256(out: number, input: number, lenLo: number, lenHi: number): number;
  _crypto_hash_sha512(out: number, input: number, lenLo: number, lenHi: number): number;
  _crypto_auth_hmacsha256(out: number, input: number, lenLo: number, lenHi: number, key: number): number;
  _crypto_auth_hmacsha256_init(state: number, key: number, keyLen: number): number;
  _crypto_auth_hmacsha256_update(state: number, input: number, len: number): number;
  _crypto_auth_hmacsha256_final(state: number, out: number): number;
  _crypto_hash_sha3256(out: number, input: number, len: number): number;
  _crypto_hash_sha3512(out: number, input: number, len: number): number;
  _crypto_xof_shake128(out: number, outLen: number, input: number, lenLo: number, lenHi: number): number;
  _crypto_xof_shake256(out: number, outLen: number, input: number, lenLo: number, lenHi: number): number;
}

/**
 * Scratch bytes: the largest hot input is SHA3-256 over a Kyber1024 ciphertext (1568 bytes) or SHAKE256 over
 * z ‖ ciphertext (1600); SampleNTT squeezes 504 bytes. 8 KiB covers them all with room to spare.
 */
const SCRATCH_BYTES = 8192;

let raw: RawSodium | null = null;
let base = 0;
/** Set once when the loaded libsodium build does not expose its exports (or the region cannot be allocated). */
let unavailable = false;

/**
 * The raw module, with the scratch region's address in `base`, set up on first use (after `ready()`). Null when
 * the libsodium build in use does not expose what is needed; every caller then goes through the wrappers.
 */
function region(): RawSodium | null {
  if (raw || unavailable) return raw;
  const lib = (sodium() as Sodium & { libsodium?: Partial<RawSodium> }).libsodium;
  const needed: (keyof RawSodium)[] = [
    '_malloc',
    '_crypto_scalarmult',
    '_crypto_scalarmult_base',
    '_crypto_hash_sha256',
    '_crypto_hash_sha512',
    '_crypto_auth_hmacsha256',
    '_crypto_auth_hmacsha256_init',
    '_crypto_auth_hmacsha256_update',
    '_crypto_auth_hmacsha256_final',
    '_crypto_hash_sha3256',
    '_crypto_hash_sha3512',
    '_crypto_xof_shake128',
    '_crypto_xof_shake256',
  ];
  const complete =
    lib !== undefined && lib.HEAPU8 !== undefined && needed.every((name) => typeof lib[name] === 'function');
  const full = complete ? (lib as RawSodium) : null;
  const at = full ? full._malloc(SCRATCH_BYTES) : 0;
  if (!full || !at) {
    unavailable = true;
    return null;
  }
  base = at;
  raw = full;
  return raw;
}

/** Copies `parts` into the region at `at` and returns the end offset. */
function put(heap: Uint8Array, at: number, parts: readonly Uint8Array[]): number {
  let o = at;
  for (const p of parts) {
    heap.set(p, o);
    o += p.length;
  }
  return o;
}

function total(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** X25519(scalar, u); null when libsodium refuses (an all-zero result: low-order u). */
export function x25519(scalar: Uint8Array, u: Uint8Array): Uint8Array | null {
  if (scalar.length !== 32 || u.length !== 32) throw new RangeError('X25519: keys are 32 bytes');
  const r = region();
  if (!r) {
    try {
      return sodium().crypto_scalarmult(scalar, u);
    } catch {
      return null;
    }
  }
  const heap = r.HEAPU8;
  heap.set(scalar, base);
  heap.set(u, base + 32);
  const rc = r._crypto_scalarmult(base + 64, base, base + 32);
  const out = rc === 0 ? heap.slice(base + 64, base + 96) : null;
  heap.fill(0, base, base + 96);
  return out;
}

/** X25519(scalar, 9): the public key of a clamped scalar. */
export function x25519Base(scalar: Uint8Array): Uint8Array {
  if (scalar.length !== 32) throw new RangeError('X25519: keys are 32 bytes');
  const r = region();
  if (!r) return sodium().crypto_scalarmult_base(scalar);
  const heap = r.HEAPU8;
  heap.set(scalar, base);
  const rc = r._crypto_scalarmult_base(base + 32, base);
  const out = heap.slice(base + 32, base + 64);
  heap.fill(0, base, base + 64);
  if (rc !== 0) throw new Error('X25519: public key derivation refused');
  return out;
}

/** A digest of the concatenation of `parts`; `n` is the digest length. */
function digest(
  n: number,
  parts: readonly Uint8Array[],
  call: (r: RawSodium, out: number, input: number, len: number) => number,
): Uint8Array | null {
  const len = total(parts);
  const r = region();
  if (!r || len + n > SCRATCH_BYTES) return null;
  const heap = r.HEAPU8;
  put(heap, base + n, parts);
  call(r, base, base + n, len);
  const out = heap.slice(base, base + n);
  heap.fill(0, base, base + n + len);
  return out;
}

export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  return (
    digest(32, parts, (r, o, i, l) => r._crypto_hash_sha256(o, i, l, 0)) ??
    sodium().crypto_hash_sha256(concatParts(parts))
  );
}

export function sha512(...parts: readonly Uint8Array[]): Uint8Array {
  return (
    digest(64, parts, (r, o, i, l) => r._crypto_hash_sha512(o, i, l, 0)) ??
    sodium().crypto_hash_sha512(concatParts(parts))
  );
}

export function sha3_256(...parts: readonly Uint8Array[]): Uint8Array {
  return (
    digest(32, parts, (r, o, i, l) => r._crypto_hash_sha3256(o, i, l)) ??
    sodium().crypto_hash_sha3256(concatParts(parts))
  );
}

export function sha3_512(...parts: readonly Uint8Array[]): Uint8Array {
  return (
    digest(64, parts, (r, o, i, l) => r._crypto_hash_sha3512(o, i, l)) ??
    sodium().crypto_hash_sha3512(concatParts(parts))
  );
}

/** HMAC-SHA256 under a 32-byte key of the concatenation of `parts`. */
export function hmacSha256Key32(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  if (key.length !== 32) throw new RangeError('hmacSha256Key32: the key must be 32 bytes');
  const len = total(parts);
  const r = region();
  if (!r || len + 64 > SCRATCH_BYTES) return sodium().crypto_auth_hmacsha256(concatParts(parts), key);
  const heap = r.HEAPU8;
  heap.set(key, base + 32);
  put(heap, base + 64, parts);
  r._crypto_auth_hmacsha256(base, base + 64, len, 0, base + 32);
  const out = heap.slice(base, base + 32);
  heap.fill(0, base, base + 64 + len);
  return out;
}

/** Bytes of libsodium's HMAC-SHA256 state (`crypto_auth_hmacsha256_statebytes()`). */
const HMAC_STATE_BYTES = 208;

/**
 * HKDF-SHA256 (RFC 5869) with a 32-byte salt: PRK = HMAC(salt, ikm), then T(i) = HMAC(PRK, T(i−1) ‖ info ‖ i)
 * from one keyed HMAC state copied per block. Null when the inputs do not fit the scratch region (the caller
 * then takes the general path).
 */
export function hkdfSha256Salt32(
  salt: Uint8Array,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array | null {
  if (salt.length !== 32) throw new RangeError('hkdfSha256Salt32: the salt must be 32 bytes');
  const out0 = 0;
  const key = 32;
  const state0 = 64;
  const state1 = state0 + HMAC_STATE_BYTES;
  const block = state1 + HMAC_STATE_BYTES; // T(i−1) ‖ info ‖ counter
  const ikmAt = block + 32 + info.length + 1;
  const end = ikmAt + ikm.length;
  const r = region();
  if (!r || end > SCRATCH_BYTES) return null;
  const heap = r.HEAPU8;
  heap.set(salt, base + key);
  heap.set(ikm, base + ikmAt);
  r._crypto_auth_hmacsha256(base + out0, base + ikmAt, ikm.length, 0, base + key);
  r._crypto_auth_hmacsha256_init(base + state0, base + out0, 32);
  heap.set(info, base + block + 32);
  const counterAt = base + block + 32 + info.length;
  const out = new Uint8Array(length);
  for (let i = 0, o = 0; o < length; i++, o += 32) {
    heap.copyWithin(base + state1, base + state0, base + state0 + HMAC_STATE_BYTES);
    heap[counterAt] = i + 1;
    if (i === 0) r._crypto_auth_hmacsha256_update(base + state1, base + block + 32, info.length + 1);
    else {
      heap.copyWithin(base + block, base + out0, base + out0 + 32);
      r._crypto_auth_hmacsha256_update(base + state1, base + block, 32 + info.length + 1);
    }
    r._crypto_auth_hmacsha256_final(base + state1, base + out0);
    out.set(heap.subarray(base + out0, base + out0 + Math.min(32, length - o)), o);
  }
  heap.fill(0, base, base + end);
  return out;
}

/** SHAKE128 or SHAKE256 of the concatenation of `parts`, filling all of `out`. Returns `out`. */
export function shakeInto(bits: 128 | 256, out: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const len = total(parts);
  const r = region();
  if (!r || len + out.length > SCRATCH_BYTES) {
    const s = sodium();
    const input = concatParts(parts);
    out.set(bits === 128 ? s.crypto_xof_shake128(out.length, input) : s.crypto_xof_shake256(out.length, input));
    return out;
  }
  const heap = r.HEAPU8;
  const input = base + out.length;
  put(heap, input, parts);
  if (bits === 128) r._crypto_xof_shake128(base, out.length, input, len, 0);
  else r._crypto_xof_shake256(base, out.length, input, len, 0);
  out.set(heap.subarray(base, base + out.length));
  heap.fill(0, base, input + len);
  return out;
}

function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total(parts));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
