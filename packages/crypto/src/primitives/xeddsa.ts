/**
 * XEdDSA over Curve25519 as libsignal signs and verifies it (the libsignal-java-compatible variant): the Edwards
 * public key's sign bit is carried in bit 7 of the signature's last byte and the nonce hash is prefixed with
 * 0xFE‖0xFF×31. Verification is libsodium's Ed25519 check and so stricter than libsignal's: it requires a
 * canonical s < L (libsignal only requires s's top three bits to be clear, s < 2^253) and refuses small-order keys
 * and R values. Every honest signature passes both; a malleated one (s + L) passes only libsignal's. Built on
 * libsodium's Ed25519 scalar and point operations; the Montgomery→Edwards conversion uses BigInt field arithmetic
 * because libsodium has no such function. Not a general Ed25519 API.
 */
import type { Rng } from './random.js';
import { defaultRng } from './random.js';
import { sodium } from './sodium.js';

/** Field prime 2^255 − 19. */
const P = (1n << 255n) - 19n;
/** Prefix of the nonce hash, domain-separating it from Ed25519 (XEdDSA spec §2.4: hash_1). */
const NONCE_PREFIX = (() => {
  const p = new Uint8Array(32).fill(0xff);
  p[0] = 0xfe;
  return p;
})();

function bytesToBigLE(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i] as number);
  return x;
}

function bigToBytesLE(x: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Bits of the leading parts Lehmer's steps below work on: cofactors and quotients stay exact in doubles (< 2^53). */
const LEHMER_BITS = 48;

/**
 * z⁻¹ mod P for 0 < z < P by the extended Euclidean algorithm, with Lehmer's acceleration (Knuth, TAOCP vol. 2,
 * §4.5.2, Algorithm L): runs of quotient steps are computed on the leading 48 bits in double arithmetic, each
 * accepted only when both bounds of the leading parts give the same quotient (so it is the exact step), and
 * applied to the full values as one 2×2 cofactor matrix: about a dozen BigInt products per run instead of
 * several BigInt operations per step, about 4× faster than the plain algorithm (which was itself about 4× faster
 * than Fermat's z^(P−2)). A run that cannot take one step does one exact BigInt division step instead.
 * Variable-time, which is acceptable because it only ever inverts values derived from public keys (the
 * Montgomery→Edwards map below); never use it on secrets.
 */
export function invertPublic(z: bigint): bigint {
  let u = P;
  let v = z;
  let tu = 0n;
  let tv = 1n;
  while (v !== 0n) {
    const shift = BigInt(Math.max(0, bitLength(u) - LEHMER_BITS));
    let uh = Number(u >> shift);
    let vh = Number(v >> shift);
    let a = 1;
    let b = 0;
    let c = 0;
    let d = 1;
    for (;;) {
      if (vh + c === 0 || vh + d === 0) break;
      const q = Math.floor((uh + a) / (vh + c));
      if (q !== Math.floor((uh + b) / (vh + d))) break;
      let t = a - q * c;
      a = c;
      c = t;
      t = b - q * d;
      b = d;
      d = t;
      t = uh - q * vh;
      uh = vh;
      vh = t;
    }
    if (b === 0) {
      const q = u / v;
      const r = u - q * v;
      u = v;
      v = r;
      const t = tu - q * tv;
      tu = tv;
      tv = t;
    } else {
      const A = BigInt(a);
      const B = BigInt(b);
      const C = BigInt(c);
      const D = BigInt(d);
      const u2 = A * u + B * v;
      v = C * u + D * v;
      u = u2;
      const t2 = A * tu + B * tv;
      tv = C * tu + D * tv;
      tu = t2;
    }
  }
  const r = tu % P;
  return r < 0n ? r + P : r;
}

/**
 * An upper bound on the bit length of 0 < x < 2^1024, from its double approximation: exact or one too large
 * (rounding may carry into the next power of two), which only makes Lehmer's leading part a bit shorter.
 */
function bitLength(x: bigint): number {
  return Math.floor(Math.log2(Number(x))) + 1;
}

/**
 * Edwards y-coordinate encoding (sign bit clear) for a Montgomery u-coordinate: y = (u − 1) / (u + 1).
 * The top bit of u is ignored, as curve25519-dalek ignores it. Returns null for u = −1 (no Edwards point).
 */
export function montgomeryToEdwardsY(u: Uint8Array): Uint8Array | null {
  const uu = Uint8Array.from(u);
  uu[31] = (uu[31] as number) & 0x7f;
  const x = bytesToBigLE(uu) % P;
  const den = (x + 1n) % P;
  if (den === 0n) return null;
  const y = (((x - 1n + P) % P) * invertPublic(den)) % P;
  return bigToBytesLE(y, 32);
}

function reduce32(k: Uint8Array): Uint8Array {
  const wide = new Uint8Array(64);
  wide.set(k);
  return sodium().crypto_core_ed25519_scalar_reduce(wide);
}

/** The per-key part of signing: the scalar a (reduced mod L) and its Edwards point A = aB. Cacheable. */
export interface XeddsaSigningKey {
  readonly priv: Uint8Array;
  readonly a: Uint8Array;
  readonly A: Uint8Array;
}

export function xeddsaSigningKey(priv: Uint8Array): XeddsaSigningKey {
  const a = reduce32(priv);
  return { priv, a, A: sodium().crypto_scalarmult_ed25519_base_noclamp(a) };
}

/** Signs `message` with the X25519 private key `priv` (32 bytes, clamped). */
export function xeddsaSign(key: Uint8Array | XeddsaSigningKey, message: Uint8Array, rng: Rng = defaultRng): Uint8Array {
  const s = sodium();
  const { priv, a, A } = key instanceof Uint8Array ? xeddsaSigningKey(key) : key;
  const signBit = (A[31] as number) & 0x80;
  const z = rng(64);
  const nonceInput = new Uint8Array(32 + 32 + message.length + 64);
  nonceInput.set(NONCE_PREFIX, 0);
  nonceInput.set(priv, 32);
  nonceInput.set(message, 64);
  nonceInput.set(z, 64 + message.length);
  const r = s.crypto_core_ed25519_scalar_reduce(s.crypto_hash_sha512(nonceInput));
  const R = s.crypto_scalarmult_ed25519_base_noclamp(r);
  const hInput = new Uint8Array(64 + message.length);
  hInput.set(R, 0);
  hInput.set(A, 32);
  hInput.set(message, 64);
  const h = s.crypto_core_ed25519_scalar_reduce(s.crypto_hash_sha512(hInput));
  const S = s.crypto_core_ed25519_scalar_add(s.crypto_core_ed25519_scalar_mul(h, a), r);
  const sig = new Uint8Array(64);
  sig.set(R, 0);
  sig.set(S, 32);
  sig[63] = ((sig[63] as number) & 0x7f) | signBit;
  return sig;
}

/**
 * Verifies an XEdDSA signature given the Edwards y encoding of the signer's key (see `montgomeryToEdwardsY`).
 * The top-bits check below is libsignal's (s < 2^253); libsodium then also requires s < L and refuses small-order
 * keys and R, so non-canonical signatures libsignal would accept are refused here; honest ones pass both.
 */
export function xeddsaVerifyWithEdwardsY(edY: Uint8Array | null, message: Uint8Array, signature: Uint8Array): boolean {
  if (edY === null || signature.length !== 64) return false;
  const sigSign = (signature[63] as number) & 0x80;
  if (((signature[63] as number) & 0x60) !== 0) return false;
  const edPub = Uint8Array.from(edY);
  edPub[31] = ((edPub[31] as number) & 0x7f) | sigSign;
  const sig = Uint8Array.from(signature);
  sig[63] = (sig[63] as number) & 0x7f;
  try {
    return sodium().crypto_sign_verify_detached(sig, message, edPub);
  } catch {
    return false;
  }
}

export function xeddsaVerify(u: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return xeddsaVerifyWithEdwardsY(montgomeryToEdwardsY(u), message, signature);
}
