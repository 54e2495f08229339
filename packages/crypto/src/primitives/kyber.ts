/**
 * Kyber1024 (round 3), the KEM libsignal uses for PQXDH prekeys. Encapsulation and decapsulation are ML-KEM-1024
 * (FIPS 203, Algorithms 6–18) written here over libsodium's SHA-3/SHAKE (WebAssembly, several times faster than
 * a pure-JS Keccak, which dominated session setup); the round-3 shared secret is then recovered as
 * K = SHAKE256(K̄ ‖ SHA3-256(ct), 32) with m = SHA3-256(random) on encapsulation (facts §1). Key generation is
 * @noble/post-quantum's `ml_kem1024.keygen` (its keys are valid Kyber1024 keys), and noble serves as the exact
 * oracle in the tests. Raw bytes only; the 0x08 type byte lives in keys/.
 */
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';

import { constantTimeEqual } from './bytes.js';
import type { Rng } from './random.js';
import { defaultRng } from './random.js';
import { sodium } from './sodium.js';

/**
 * A key that fails the FIPS 203 §7.2 input checks (a coefficient of t̂ not below q). Its own class so that the key
 * layer can report it as the typed invalid-key error without matching message text.
 */
export class KyberKeyCheckError extends Error {
  override readonly name = 'KyberKeyCheckError';
}

export const KYBER1024_PUBLIC_KEY_LENGTH = 1568;
export const KYBER1024_SECRET_KEY_LENGTH = 3168;
export const KYBER1024_CIPHERTEXT_LENGTH = 1568;

/** FIPS 203 parameters of ML-KEM-1024 (Table 2). */
const N = 256;
const Q = 3329;
const K = 4;
const DU = 11;
const DV = 5;
/** PRF output for η = 2: 64·η bytes. */
const ETA_BYTES = 128;
/** 128⁻¹ mod q, the final scaling of the inverse NTT. */
const INV_128 = 3303;
const POLY_BYTES = 384;
const T_BYTES = POLY_BYTES * K;
const C1_BYTES = (N * DU * K) / 8;
/** SHAKE128 bytes squeezed for one SampleNTT: three rate blocks, enough in ~99% of cases; more on demand. */
const SAMPLE_BYTES = 504;

/** ζ^BitRev7(i) and ζ^(2·BitRev7(i)+1) mod q, ζ = 17 (FIPS 203 §4.3, Appendix A). */
const ZETAS = new Int32Array(128);
const GAMMAS = new Int32Array(128);
{
  const bitrev7 = (x: number): number => {
    let r = 0;
    for (let b = 0; b < 7; b++) r |= ((x >> b) & 1) << (6 - b);
    return r;
  };
  const pow = (e: number): number => {
    let r = 1;
    for (let i = 0; i < e; i++) r = (r * 17) % Q;
    return r;
  };
  for (let i = 0; i < 128; i++) {
    ZETAS[i] = pow(bitrev7(i));
    GAMMAS[i] = pow(2 * bitrev7(i) + 1);
  }
}

type Poly = Int32Array;

/**
 * Polynomial scratch space: one encapsulation or decapsulation needs at most 54 polynomials. Handing out fixed
 * views of one preallocated buffer instead of a fresh 1 KiB Int32Array each (an off-heap allocation) removed
 * most of the garbage-collection time Kyber caused. Every function here is synchronous and non-reentrant, so
 * the pool is reset at the start of each top-level operation and wiped at its end (it held secret values).
 */
const POOL_POLYS = 64;
const POOL = new Int32Array(POOL_POLYS * N);
const POOL_VIEWS: Poly[] = Array.from({ length: POOL_POLYS }, (_, i) => POOL.subarray(i * N, (i + 1) * N));
let poolUsed = 0;

/** A scratch polynomial; its previous contents are arbitrary, so callers overwrite every coefficient. */
function poly(): Poly {
  const p = POOL_VIEWS[poolUsed++];
  if (!p) throw new Error('Kyber1024: polynomial pool exhausted');
  return p;
}

function withPool<T>(fn: () => T): T {
  poolUsed = 0;
  try {
    return fn();
  } finally {
    POOL.fill(0, 0, poolUsed * N);
    poolUsed = 0;
  }
}

function ntt(f: Poly): void {
  let k = 1;
  for (let len = 128; len >= 2; len >>= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const zeta = ZETAS[k++] as number;
      for (let j = start; j < start + len; j++) {
        const t = (zeta * (f[j + len] as number)) % Q;
        const a = f[j] as number;
        f[j + len] = a - t < 0 ? a - t + Q : a - t;
        f[j] = a + t >= Q ? a + t - Q : a + t;
      }
    }
  }
}

function nttInverse(f: Poly): void {
  let k = 127;
  for (let len = 2; len <= 128; len <<= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const zeta = ZETAS[k--] as number;
      for (let j = start; j < start + len; j++) {
        const t = f[j] as number;
        const b = f[j + len] as number;
        f[j] = t + b >= Q ? t + b - Q : t + b;
        f[j + len] = (zeta * (b - t + Q)) % Q;
      }
    }
  }
  for (let j = 0; j < N; j++) f[j] = ((f[j] as number) * INV_128) % Q;
}

/**
 * Σₖ aₖ ∘ bₖ in the NTT domain (Algorithms 11 and 12). Reduction is deferred to one `%` per coefficient: each
 * term is below 2·3329², so a sum of K = 4 terms stays below 2^27.
 */
function dot(as: readonly Poly[], bs: readonly Poly[]): Poly {
  const out = poly();
  for (let i = 0; i < 128; i++) {
    const gamma = GAMMAS[i] as number;
    let c0 = 0;
    let c1 = 0;
    for (let k = 0; k < as.length; k++) {
      const a = as[k] as Poly;
      const b = bs[k] as Poly;
      const a0 = a[2 * i] as number;
      const a1 = a[2 * i + 1] as number;
      const b0 = b[2 * i] as number;
      const b1 = b[2 * i + 1] as number;
      c0 += a0 * b0 + ((a1 * b1) % Q) * gamma;
      c1 += a0 * b1 + a1 * b0;
    }
    out[2 * i] = c0 % Q;
    out[2 * i + 1] = c1 % Q;
  }
  return out;
}

/** Algorithm 7: Â[i][j] from SHAKE128(ρ ‖ j ‖ i) by rejection sampling. */
function sampleNtt(rho: Uint8Array, j: number, i: number): Poly {
  return sampleNttInto(poly(), rho, j, i);
}

/**
 * FIPS 203 Algorithm 7 (SampleNTT) into `out` (256 coefficients): rejection sampling of 12-bit values below q from
 * SHAKE128(ρ ‖ j ‖ i). Shared by Kyber1024 and SPQR's ML-KEM-768, whose matrices are sampled the same way.
 */
export function sampleNttInto(out: Int32Array, rho: Uint8Array, j: number, i: number): Int32Array {
  const seed = new Uint8Array(34);
  seed.set(rho);
  seed[32] = j;
  seed[33] = i;
  let n = 0;
  for (let len = SAMPLE_BYTES; n < N; len *= 2) {
    // XOF output is prefix-consistent: a longer squeeze extends the same stream, so restart the scan from 0.
    const b = sodium().crypto_xof_shake128(len, seed);
    n = 0;
    for (let p = 0; p + 3 <= b.length && n < N; p += 3) {
      const c0 = b[p] as number;
      const c1 = b[p + 1] as number;
      const c2 = b[p + 2] as number;
      const d1 = c0 | ((c1 & 0x0f) << 8);
      const d2 = (c1 >> 4) | (c2 << 4);
      if (d1 < Q) out[n++] = d1;
      if (d2 < Q && n < N) out[n++] = d2;
    }
  }
  return out;
}

/** Algorithm 8 for η = 2 on PRF(s, b) = SHAKE256(s ‖ b, 128). */
function sampleCbd2(s: Uint8Array, b: number): Poly {
  const input = new Uint8Array(33);
  input.set(s);
  input[32] = b;
  const bytes = sodium().crypto_xof_shake256(ETA_BYTES, input);
  const f = poly();
  for (let i = 0; i < ETA_BYTES; i++) {
    const v = bytes[i] as number;
    const x0 = (v & 1) + ((v >> 1) & 1);
    const y0 = ((v >> 2) & 1) + ((v >> 3) & 1);
    const x1 = ((v >> 4) & 1) + ((v >> 5) & 1);
    const y1 = ((v >> 6) & 1) + ((v >> 7) & 1);
    const d0 = x0 - y0;
    const d1 = x1 - y1;
    f[2 * i] = d0 + ((d0 >> 31) & Q);
    f[2 * i + 1] = d1 + ((d1 >> 31) & Q);
  }
  return f;
}

/** Algorithm 5 (ByteEncode_d) of one polynomial, little-endian bit order. */
function byteEncode(f: Poly, d: number, out: Uint8Array, offset: number): void {
  let acc = 0;
  let bits = 0;
  let o = offset;
  for (let i = 0; i < N; i++) {
    acc |= (f[i] as number) << bits;
    bits += d;
    while (bits >= 8) {
      out[o++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
}

/** Algorithm 6 (ByteDecode_d); for d = 12 the values are not reduced (callers check them). */
function byteDecode(b: Uint8Array, offset: number, d: number): Poly {
  const f = poly();
  const mask = (1 << d) - 1;
  let acc = 0;
  let bits = 0;
  let p = offset;
  for (let i = 0; i < N; i++) {
    while (bits < d) {
      acc |= (b[p++] as number) << bits;
      bits += 8;
    }
    f[i] = acc & mask;
    acc >>>= d;
    bits -= d;
  }
  return f;
}

function compress(f: Poly, d: number): Poly {
  const out = poly();
  const mask = (1 << d) - 1;
  for (let i = 0; i < N; i++) out[i] = Math.floor(((f[i] as number) * (1 << d) + 1664) / Q) & mask;
  return out;
}

function decompress(f: Poly, d: number): Poly {
  const out = poly();
  for (let i = 0; i < N; i++) out[i] = ((f[i] as number) * Q + (1 << (d - 1))) >> d;
  return out;
}

function expandA(rho: Uint8Array): Poly[][] {
  const a: Poly[][] = [];
  for (let i = 0; i < K; i++) {
    const row: Poly[] = [];
    for (let j = 0; j < K; j++) row.push(sampleNtt(rho, j, i));
    a.push(row);
  }
  return a;
}

/** Decodes t̂ from ek and checks every coefficient is below q (FIPS 203 §7.2 modulus check). */
function decodeT(ek: Uint8Array): Poly[] | null {
  const t: Poly[] = [];
  for (let i = 0; i < K; i++) {
    const p = byteDecode(ek, i * POLY_BYTES, 12);
    for (let j = 0; j < N; j++) if ((p[j] as number) >= Q) return null;
    t.push(p);
  }
  return t;
}

/** Algorithm 14: K-PKE.Encrypt(ek, m, r). */
function pkeEncrypt(tHat: Poly[], rho: Uint8Array, m: Uint8Array, r: Uint8Array): Uint8Array {
  const a = expandA(rho);
  const y: Poly[] = [];
  let nonce = 0;
  for (let i = 0; i < K; i++) {
    const p = sampleCbd2(r, nonce++);
    ntt(p);
    y.push(p);
  }
  const e1: Poly[] = [];
  for (let i = 0; i < K; i++) e1.push(sampleCbd2(r, nonce++));
  const e2 = sampleCbd2(r, nonce);
  const ct = new Uint8Array(KYBER1024_CIPHERTEXT_LENGTH);
  for (let i = 0; i < K; i++) {
    const u = dot(
      a.map((row) => row[i] as Poly),
      y,
    ); // (Âᵀ ∘ ŷ)[i]
    nttInverse(u);
    const e = e1[i] as Poly;
    for (let n = 0; n < N; n++) u[n] = ((u[n] as number) + (e[n] as number)) % Q;
    byteEncode(compress(u, DU), DU, ct, (i * N * DU) / 8);
  }
  const v = dot(tHat, y);
  nttInverse(v);
  for (let n = 0; n < N; n++) {
    const bit = ((m[n >> 3] as number) >> (n & 7)) & 1;
    v[n] = ((v[n] as number) + (e2[n] as number) + bit * 1665) % Q;
  }
  byteEncode(compress(v, DV), DV, ct, C1_BYTES);
  return ct;
}

/** Algorithm 15: K-PKE.Decrypt(dk_pke, c). */
function pkeDecrypt(dkPke: Uint8Array, c: Uint8Array): Uint8Array {
  const s: Poly[] = [];
  const u: Poly[] = [];
  for (let i = 0; i < K; i++) {
    const ui = decompress(byteDecode(c, (i * N * DU) / 8, DU), DU);
    ntt(ui);
    u.push(ui);
    s.push(byteDecode(dkPke, i * POLY_BYTES, 12));
  }
  const w = dot(s, u);
  nttInverse(w);
  const v = decompress(byteDecode(c, C1_BYTES, DV), DV);
  const m = new Uint8Array(32);
  for (let n = 0; n < N; n++) {
    const x = ((v[n] as number) - (w[n] as number) + Q) % Q;
    const bit = Math.floor((x * 2 + 1664) / Q) & 1;
    m[n >> 3] = (m[n >> 3] as number) | (bit << (n & 7));
  }
  return m;
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function roundThree(kBar: Uint8Array, ct: Uint8Array): Uint8Array {
  const s = sodium();
  return s.crypto_xof_shake256(32, concat2(kBar, s.crypto_hash_sha3256(ct)));
}

export function kyber1024Keygen(rng: Rng = defaultRng): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return ml_kem1024.keygen(rng(64));
}

/** ML-KEM-1024 encapsulation with explicit m (Algorithm 17), returning the FIPS 203 K̄. */
export function mlkem1024EncapsulateWith(
  publicKey: Uint8Array,
  m: Uint8Array,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  if (publicKey.length !== KYBER1024_PUBLIC_KEY_LENGTH) throw new Error('bad Kyber1024 public key length');
  return withPool(() => {
    const tHat = decodeT(publicKey);
    if (!tHat) throw new KyberKeyCheckError('Kyber1024 public key fails the modulus check');
    const s = sodium();
    const kr = s.crypto_hash_sha3512(concat2(m, s.crypto_hash_sha3256(publicKey)));
    const cipherText = pkeEncrypt(tHat, publicKey.subarray(T_BYTES), m, kr.subarray(32));
    return { cipherText, sharedSecret: kr.slice(0, 32) };
  });
}

/** ML-KEM-1024 decapsulation (Algorithm 18) with implicit rejection, returning K̄. */
export function mlkem1024Decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== KYBER1024_SECRET_KEY_LENGTH) throw new Error('bad Kyber1024 secret key length');
  if (cipherText.length !== KYBER1024_CIPHERTEXT_LENGTH) throw new Error('bad Kyber1024 ciphertext length');
  return withPool(() => {
    const s = sodium();
    const dkPke = secretKey.subarray(0, T_BYTES);
    const ek = secretKey.subarray(T_BYTES, T_BYTES + KYBER1024_PUBLIC_KEY_LENGTH);
    const h = secretKey.subarray(T_BYTES + KYBER1024_PUBLIC_KEY_LENGTH, T_BYTES + KYBER1024_PUBLIC_KEY_LENGTH + 32);
    const z = secretKey.subarray(T_BYTES + KYBER1024_PUBLIC_KEY_LENGTH + 32);
    const tHat = decodeT(ek);
    if (!tHat) throw new KyberKeyCheckError('Kyber1024 secret key embeds a public key that fails the modulus check');
    const m = pkeDecrypt(dkPke, cipherText);
    const kr = s.crypto_hash_sha3512(concat2(m, h));
    const again = pkeEncrypt(tHat, ek.subarray(T_BYTES), m, kr.subarray(32));
    const rejected = s.crypto_xof_shake256(32, concat2(z, cipherText));
    const out = new Uint8Array(32);
    const mask = constantTimeEqual(again, cipherText) ? 0 : 0xff;
    for (let i = 0; i < 32; i++) out[i] = ((kr[i] as number) & ~mask) | ((rejected[i] as number) & mask);
    return out;
  });
}

export function kyber1024Encapsulate(
  publicKey: Uint8Array,
  rng: Rng = defaultRng,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  const m = sodium().crypto_hash_sha3256(rng(32));
  const { cipherText, sharedSecret } = mlkem1024EncapsulateWith(publicKey, m);
  return { cipherText, sharedSecret: roundThree(sharedSecret, cipherText) };
}

export function kyber1024Decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return roundThree(mlkem1024Decapsulate(cipherText, secretKey), cipherText);
}
