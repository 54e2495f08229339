/**
 * One ML-KEM core (FIPS 203) for both parameter sets the package uses: ML-KEM-1024 under Kyber1024's prekeys
 * (primitives/kyber.ts) and ML-KEM-768 inside SPQR's braid (ratchet/spqr/incremental-mlkem768.ts). Written from
 * FIPS 203: the NTT and its tables (§4.3, Algorithms 9–12), SampleNTT and SamplePolyCBD (Algorithms 7–8),
 * ByteEncode/ByteDecode and Compress (§4.2.1, Algorithms 5–6), K-PKE.Encrypt/Decrypt (Algorithms 14–15) and
 * ML-KEM.Encaps/Decaps_internal (Algorithms 17–18), all over libsodium's SHA-3 and SHAKE (WebAssembly, several
 * times faster than a pure-JS Keccak). Also the part of K-PKE.Encrypt that does not involve t (u alone), which
 * SPQR's incremental encapsulation needs.
 *
 * Does not generate keys (noble's or libsodium's key generation are used by the callers), does not know the
 * Kyber round-3 differences (kyber.ts), and keeps no state beyond a scratch pool that is wiped after each call.
 * Every function is synchronous and non-reentrant.
 */
import { constantTimeEqual } from './bytes.js';
import { sha3_256, sha3_512, shakeInto } from './sodium-direct.js';

/** The FIPS 203 parameters that differ between parameter sets (Table 2). */
export interface MlKemParams {
  /** Module rank: polynomials per vector. */
  readonly k: number;
  /** CBD width of the secret and the encryption randomness. */
  readonly eta1: number;
  /** CBD width of the encryption errors. */
  readonly eta2: number;
  /** Bits per coefficient of u. */
  readonly du: number;
  /** Bits per coefficient of v. */
  readonly dv: number;
}

/** ML-KEM-768: SPQR's braid. */
export const ML_KEM_768: MlKemParams = { k: 3, eta1: 2, eta2: 2, du: 10, dv: 4 };
/** ML-KEM-1024: under Kyber1024's round-3 shared-secret derivation, PQXDH's KEM. */
export const ML_KEM_1024: MlKemParams = { k: 4, eta1: 2, eta2: 2, du: 11, dv: 5 };

const N = 256;
const Q = 3329;
/** 128⁻¹ mod q, the final scaling of the inverse NTT. */
const INV_128 = 3303;
/** ByteEncode_12 of one polynomial. */
const POLY_BYTES = 384;
/** SHAKE128 bytes squeezed for one SampleNTT: three rate blocks, enough in ~99% of cases; more on demand. */
const SAMPLE_BYTES = 504;

/** Bytes of t̂ (ByteEncode_12 of k polynomials): the start of ek, and dk_pke. */
export function tBytes(p: MlKemParams): number {
  return POLY_BYTES * p.k;
}

/** Encapsulation key length: t̂ ‖ ρ. */
export function ekBytes(p: MlKemParams): number {
  return tBytes(p) + 32;
}

/** Decapsulation key length: dk_pke ‖ ek ‖ H(ek) ‖ z. */
export function dkBytes(p: MlKemParams): number {
  return tBytes(p) + ekBytes(p) + 64;
}

/** Bytes of the compressed u (the first part of a ciphertext). */
export function c1Bytes(p: MlKemParams): number {
  return (N * p.du * p.k) / 8;
}

/** Ciphertext length: compressed u ‖ compressed v. */
export function ciphertextBytes(p: MlKemParams): number {
  return c1Bytes(p) + (N * p.dv) / 8;
}

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
 * Polynomial scratch space: one ML-KEM-1024 decapsulation (the largest operation) needs at most 56 polynomials.
 * Handing out fixed views of one preallocated buffer instead of a fresh 1 KiB Int32Array each (an off-heap
 * allocation) removed most of the garbage-collection time the KEM caused. The pool is reset at the start of each
 * top-level operation and wiped at its end (it held secret values).
 */
const POOL_POLYS = 64;
const POOL = new Int32Array(POOL_POLYS * N);
const POOL_VIEWS: Poly[] = Array.from({ length: POOL_POLYS }, (_, i) => POOL.subarray(i * N, (i + 1) * N));
let poolUsed = 0;

/** A scratch polynomial; its previous contents are arbitrary, so callers overwrite every coefficient. */
function poly(): Poly {
  const p = POOL_VIEWS[poolUsed++];
  if (!p) throw new Error('ML-KEM: polynomial pool exhausted');
  return p;
}

function withPool<T>(fn: () => T): T {
  poolUsed = 0;
  try {
    return fn();
  } finally {
    POOL.fill(0, 0, poolUsed * N);
    CBD_BUF.fill(0);
    poolUsed = 0;
  }
}

/*
 * Conditional additions and subtractions of q below are branch-free (`x + ((x >> 31) & Q)` adds q exactly when x is
 * negative): the branches they replace depend on secret coefficients, were mispredicted half the time and cost
 * more than the arithmetic (about a quarter of an encapsulation on random inputs).
 */

/**
 * Montgomery arithmetic for the NTTs (R = 2^16): `montgomeryReduce(a)` is a·R⁻¹ mod q in (−q, q) for
 * |a| < q·2^15, with two 32-bit multiplications and shifts instead of a division. The twiddle factors are kept
 * multiplied by R (`ZETAS_MONT`), so that montgomeryReduce(x·ζR) = x·ζ. Branch-free, like the rest of the core.
 */
const QINV = 62209; // q⁻¹ mod 2^16: 3329 · 62209 = 3160 · 2^16 + 1
const R_MOD_Q = 2285; // 2^16 mod q
const ZETAS_MONT = Int32Array.from(ZETAS, (z) => (z * R_MOD_Q) % Q);
/** 128⁻¹·R mod q: montgomeryReduce(x · INV_128_MONT) = x · 128⁻¹ mod q. */
const INV_128_MONT = (INV_128 * R_MOD_Q) % Q;

function montgomeryReduce(a: number): number {
  const t = (Math.imul(a, QINV) << 16) >> 16;
  return (a - Math.imul(t, Q)) >> 16;
}

/**
 * Algorithm 9: NTT in place, coefficients in [0, q) on entry and on return. Reduction is lazy inside: each level
 * adds at most q to a coefficient's magnitude (the Montgomery product is in (−q, q)), so after the seven levels
 * every value is below 8q in magnitude (within montgomeryReduce's bound) and one final reduction brings it back
 * to [0, q).
 */
function ntt(f: Poly): void {
  let k = 1;
  for (let len = 128; len >= 2; len >>= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const zeta = ZETAS_MONT[k++] as number;
      for (let j = start; j < start + len; j++) {
        const t = montgomeryReduce(Math.imul(zeta, f[j + len] as number));
        const a = f[j] as number;
        f[j + len] = a - t;
        f[j] = a + t;
      }
    }
  }
  for (let j = 0; j < N; j++) {
    const r = (f[j] as number) % Q;
    f[j] = r + ((r >> 31) & Q);
  }
}

/** Algorithm 10: inverse NTT in place, coefficients in [0, q) on entry, after each level and on return. */
function nttInverse(f: Poly): void {
  let k = 127;
  for (let len = 2; len <= 128; len <<= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const zeta = ZETAS_MONT[k--] as number;
      for (let j = start; j < start + len; j++) {
        const t = f[j] as number;
        const b = f[j + len] as number;
        const s = t + b - Q;
        f[j] = s + ((s >> 31) & Q);
        const m = montgomeryReduce(Math.imul(zeta, b - t + Q));
        f[j + len] = m + ((m >> 31) & Q);
      }
    }
  }
  for (let j = 0; j < N; j++) {
    const m = montgomeryReduce(Math.imul(f[j] as number, INV_128_MONT));
    f[j] = m + ((m >> 31) & Q);
  }
}

/**
 * Σₖ aₖ ∘ bₖ in the NTT domain (Algorithms 11 and 12). Reduction is deferred to one `%` per coefficient: each
 * term is below 2·3329², so a sum of up to 4 terms stays below 2^27. Products go through `Math.imul` (exact here:
 * every one is below 2^31) so that V8 keeps them and the `%` in 32-bit integers; with `*` it falls back to
 * floating-point modulo, which made the NTT and this product several times slower.
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
      c0 = (c0 + Math.imul(a0, b0) + Math.imul(Math.imul(a1, b1) % Q, gamma)) | 0;
      c1 = (c1 + Math.imul(a0, b1) + Math.imul(a1, b0)) | 0;
    }
    out[2 * i] = c0 % Q;
    out[2 * i + 1] = c1 % Q;
  }
  return out;
}

/** SampleNTT's reusable buffers: the two index bytes after ρ, and the usual squeeze (public values only). */
const SEED_JI = new Uint8Array(2);
const SAMPLE_BUF = new Uint8Array(SAMPLE_BYTES);

/**
 * Algorithm 7 (SampleNTT): rejection sampling of 12-bit values below q from SHAKE128(ρ ‖ j ‖ i). Branch-free
 * too: every candidate is written at position n and n advances only when it is below q; a write at n = 256 falls
 * outside the 256-entry view and is dropped, as typed arrays drop out-of-range writes.
 */
function sampleNtt(rho: Uint8Array, j: number, i: number): Poly {
  const out = poly();
  SEED_JI[0] = j;
  SEED_JI[1] = i;
  let n = 0;
  for (let len = SAMPLE_BYTES; n < N; len *= 2) {
    // XOF output is prefix-consistent: a longer squeeze extends the same stream, so restart the scan from 0.
    const b = shakeInto(128, len === SAMPLE_BYTES ? SAMPLE_BUF : new Uint8Array(len), rho, SEED_JI);
    n = 0;
    for (let p = 0; p + 3 <= b.length && n < N; p += 3) {
      const c0 = b[p] as number;
      const c1 = b[p + 1] as number;
      const c2 = b[p + 2] as number;
      const d1 = c0 | ((c1 & 0x0f) << 8);
      const d2 = (c1 >> 4) | (c2 << 4);
      out[n] = d1;
      n += (d1 - Q) >>> 31;
      out[n] = d2;
      n += (d2 - Q) >>> 31;
    }
  }
  return out;
}

/**
 * Algorithm 8 (SamplePolyCBD_η) on PRF_η(s, b) = SHAKE256(s ‖ b, 64·η), for η = 2, the only width of both
 * parameter sets here: four bits per coefficient, two coefficients per byte.
 */
/** SamplePolyCBD's reusable buffers (secret: CBD_BUF is wiped after each top-level operation with the pool). */
const CBD_NONCE = new Uint8Array(1);
const CBD_BUF = new Uint8Array(64 * 2);

function sampleCbd(eta: number, s: Uint8Array, b: number): Poly {
  if (eta !== 2) throw new Error('ML-KEM: only η = 2 is implemented');
  CBD_NONCE[0] = b;
  const bytes = shakeInto(256, CBD_BUF, s, CBD_NONCE);
  const f = poly();
  for (let i = 0; i < 128; i++) {
    const v = bytes[i] as number;
    const d0 = (v & 1) + ((v >> 1) & 1) - ((v >> 2) & 1) - ((v >> 3) & 1);
    const d1 = ((v >> 4) & 1) + ((v >> 5) & 1) - ((v >> 6) & 1) - ((v >> 7) & 1);
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

/** ⌈2^36 / q⌉: 20642679 · 3329 = 2^36 + 1655. */
const DIV_Q_MUL = 20642679;
const TWO_POW_MINUS_36 = 2 ** -36;

/**
 * ⌊n / q⌋ for 0 ≤ n < 2^36 / 1655 (≈ 4.15·10^7) without a division: n·⌈2^36/q⌉ is exact in a double (below 2^53),
 * scaling by 2^−36 is exact, and the error n·1655 / 2^36 stays below 1/q, so the floor is never off. Compress's
 * largest n is 3328·2^11 + 1664. Two multiplications and a rounding instead of a floating-point division (whose
 * latency may depend on its operands); no branch, no table.
 */
export function divideByQ(n: number): number {
  return Math.floor(n * DIV_Q_MUL * TWO_POW_MINUS_36);
}

/** Compress_d (§4.2.1) of one coefficient in [0, q): ⌊(2^d·x + ⌊q/2⌋) / q⌋ mod 2^d, i.e. round(2^d·x / q) mod 2^d. */
export function compressCoefficient(x: number, d: number): number {
  return divideByQ((x << d) + 1664) & ((1 << d) - 1);
}

function compress(f: Poly, d: number): Poly {
  const out = poly();
  for (let i = 0; i < N; i++) out[i] = compressCoefficient(f[i] as number, d);
  return out;
}

function decompress(f: Poly, d: number): Poly {
  const out = poly();
  for (let i = 0; i < N; i++) out[i] = ((f[i] as number) * Q + (1 << (d - 1))) >> d;
  return out;
}

/** ByteDecode_12 (Algorithm 6 for d = 12): three bytes hold two coefficients; values are not reduced. */
function byteDecode12(b: Uint8Array, offset: number): Poly {
  const f = poly();
  for (let i = 0, p = offset; i < N; i += 2, p += 3) {
    const b1 = b[p + 1] as number;
    f[i] = (b[p] as number) | ((b1 & 0x0f) << 8);
    f[i + 1] = (b1 >> 4) | ((b[p + 2] as number) << 4);
  }
  return f;
}

/** Decodes t̂ from ek and checks every coefficient is below q (FIPS 203 §7.2 modulus check); null if one is not. */
function decodeT(p: MlKemParams, ek: Uint8Array): Poly[] | null {
  const t: Poly[] = [];
  let tooLarge = 0;
  for (let i = 0; i < p.k; i++) {
    const f = byteDecode12(ek, i * POLY_BYTES);
    for (let j = 0; j < N; j++) tooLarge |= (Q - 1 - (f[j] as number)) >> 31;
    t.push(f);
  }
  return tooLarge === 0 ? t : null;
}

/** ŷ = NTT(CBD_η1(r, 0..k−1)) and e1 = CBD_η2(r, k..2k−1), the randomness of K-PKE.Encrypt (Algorithm 14). */
function encryptionRandomness(p: MlKemParams, r: Uint8Array): { y: Poly[]; e1: Poly[] } {
  const y: Poly[] = [];
  for (let i = 0; i < p.k; i++) {
    const f = sampleCbd(p.eta1, r, i);
    ntt(f);
    y.push(f);
  }
  const e1: Poly[] = [];
  for (let i = 0; i < p.k; i++) e1.push(sampleCbd(p.eta2, r, p.k + i));
  return { y, e1 };
}

/** u = NTT⁻¹(Âᵀ ∘ ŷ) + e1, compressed and encoded into `out` (Algorithm 14, lines 9–19 and 22). */
function encryptU(p: MlKemParams, rho: Uint8Array, y: readonly Poly[], e1: readonly Poly[], out: Uint8Array): void {
  for (let i = 0; i < p.k; i++) {
    // Row i of Âᵀ: Â[j][i] = SampleNTT(ρ ‖ i ‖ j) for each j.
    const column: Poly[] = [];
    for (let j = 0; j < p.k; j++) column.push(sampleNtt(rho, i, j));
    const u = dot(column, y);
    nttInverse(u);
    const e = e1[i] as Poly;
    for (let n = 0; n < N; n++) {
      const sum = (u[n] as number) + (e[n] as number) - Q;
      u[n] = sum + ((sum >> 31) & Q);
    }
    byteEncode(compress(u, p.du), p.du, out, (i * N * p.du) / 8);
  }
}

/** Algorithm 14: K-PKE.Encrypt(ek, m, r) with t̂ already decoded and checked. */
function pkeEncrypt(p: MlKemParams, tHat: Poly[], rho: Uint8Array, m: Uint8Array, r: Uint8Array): Uint8Array {
  const { y, e1 } = encryptionRandomness(p, r);
  const e2 = sampleCbd(p.eta2, r, 2 * p.k);
  const ct = new Uint8Array(ciphertextBytes(p));
  encryptU(p, rho, y, e1, ct);
  const v = dot(tHat, y);
  nttInverse(v);
  for (let n = 0; n < N; n++) {
    const bit = ((m[n >> 3] as number) >> (n & 7)) & 1;
    v[n] = ((v[n] as number) + (e2[n] as number) + bit * 1665) % Q;
  }
  byteEncode(compress(v, p.dv), p.dv, ct, c1Bytes(p));
  return ct;
}

/** Algorithm 15: K-PKE.Decrypt(dk_pke, c). */
function pkeDecrypt(p: MlKemParams, dkPke: Uint8Array, c: Uint8Array): Uint8Array {
  const s: Poly[] = [];
  const u: Poly[] = [];
  for (let i = 0; i < p.k; i++) {
    const ui = decompress(byteDecode(c, (i * N * p.du) / 8, p.du), p.du);
    ntt(ui);
    u.push(ui);
    s.push(byteDecode12(dkPke, i * POLY_BYTES));
  }
  const w = dot(s, u);
  nttInverse(w);
  const v = decompress(byteDecode(c, c1Bytes(p), p.dv), p.dv);
  const m = new Uint8Array(32);
  for (let n = 0; n < N; n++) {
    const x = ((v[n] as number) - (w[n] as number) + Q) % Q;
    const bit = compressCoefficient(x, 1);
    m[n >> 3] = (m[n >> 3] as number) | (bit << (n & 7));
  }
  return m;
}

/**
 * ML-KEM.Encaps_internal(ek, m) (Algorithm 17): the ciphertext and K̄. Returns null when ek fails the modulus
 * check (FIPS 203 §7.2); the caller reports it in its own terms. The length is the caller's to check.
 */
export function mlKemEncapsulateWith(
  p: MlKemParams,
  ek: Uint8Array,
  m: Uint8Array,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } | null {
  return withPool(() => {
    const tHat = decodeT(p, ek);
    if (!tHat) return null;
    const kr = sha3_512(m, sha3_256(ek));
    const cipherText = pkeEncrypt(p, tHat, ek.subarray(tBytes(p)), m, kr.subarray(32));
    return { cipherText, sharedSecret: kr.slice(0, 32) };
  });
}

/**
 * ML-KEM.Decaps_internal(dk, c) (Algorithm 18) with implicit rejection, returning K̄. Returns null when the ek
 * embedded in dk fails the modulus check. Lengths are the caller's to check.
 */
export function mlKemDecapsulate(p: MlKemParams, dk: Uint8Array, cipherText: Uint8Array): Uint8Array | null {
  return withPool(() => {
    const t = tBytes(p);
    const e = ekBytes(p);
    const dkPke = dk.subarray(0, t);
    const ek = dk.subarray(t, t + e);
    const h = dk.subarray(t + e, t + e + 32);
    const z = dk.subarray(t + e + 32);
    const tHat = decodeT(p, ek);
    if (!tHat) return null;
    const m = pkeDecrypt(p, dkPke, cipherText);
    const kr = sha3_512(m, h);
    const again = pkeEncrypt(p, tHat, ek.subarray(t), m, kr.subarray(32));
    const rejected = shakeInto(256, new Uint8Array(32), z, cipherText);
    const out = new Uint8Array(32);
    const mask = constantTimeEqual(again, cipherText) ? 0 : 0xff;
    for (let i = 0; i < 32; i++) out[i] = ((kr[i] as number) & ~mask) | ((rejected[i] as number) & mask);
    return out;
  });
}

/**
 * The part of K-PKE.Encrypt that needs only ρ (not t): the compressed u (the first c1Bytes of the ciphertext)
 * for randomness r. With r from G(m ‖ H(ek)) it equals the start of the standard ciphertext for m.
 */
export function encryptUOnly(p: MlKemParams, rho: Uint8Array, r: Uint8Array): Uint8Array {
  return withPool(() => {
    const { y, e1 } = encryptionRandomness(p, r);
    const out = new Uint8Array(c1Bytes(p));
    encryptU(p, rho, y, e1, out);
    return out;
  });
}
