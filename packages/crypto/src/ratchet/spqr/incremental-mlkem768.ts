/**
 * ML-KEM-768 (FIPS 203) split for incremental transfer, as the SPQR braid uses it:
 *
 * - header = ρ ‖ SHA3-256(ek) (64 bytes), encapsulation key = the 1152-byte encoding of t, decapsulation key =
 *   the standard 2400-byte FIPS 203 layout (dk_pke ‖ ek ‖ H(ek) ‖ z);
 * - `encaps1` needs only the header: (K, r) = G(m ‖ H(ek)), then u = NTT⁻¹(Âᵀ ∘ NTT(r)) + e1 compressed to
 *   10 bits (ct1, 960 bytes). This is the part of K-PKE.Encrypt that does not involve t, written here from
 *   FIPS 203 (Algorithms 6–8, 9–12, 14 and §4.2.1);
 * - `encaps2` runs libsodium's standard deterministic encapsulation on (t ‖ ρ, m), which reproduces u and
 *   yields v (ct2, 128 bytes); ct1 ‖ ct2 is an ordinary ML-KEM-768 ciphertext, so decapsulation is libsodium's.
 *
 * Key generation, `encaps2` and decapsulation run on libsodium's ML-KEM-768 (`crypto_kem_mlkem768_*`,
 * WebAssembly, several times faster than a pure-JS implementation); SHA-3 and SHAKE are libsodium's too.
 * @noble/post-quantum's `ml_kem768` is the byte-exact oracle in the tests. The encapsulation "state" between
 * the two halves is just m (32 bytes), so nothing large is kept or recomputed per message.
 */
import { sampleNttInto } from '../../primitives/kyber.js';
import { sodium } from '../../primitives/sodium.js';
import { constantTimeEqual, equalBytes } from '../../primitives/bytes.js';
import { concatBytes } from './kdf.js';

export const HEADER_SIZE = 64;
export const EK_SIZE = 1152;
export const DK_SIZE = 2400;
export const CT1_SIZE = 960;
export const CT2_SIZE = 128;
export const SHARED_SECRET_SIZE = 32;
/** Key generation randomness d ‖ z (FIPS 203 Algorithm 19). */
export const KEYGEN_SEED_SIZE = 64;
/** Encapsulation randomness m (FIPS 203 Algorithm 20). */
export const ENCAPS_SEED_SIZE = 32;

const Q = 3329;
const N = 256;
const K = 3;
/** η1 = η2 = 2 for ML-KEM-768: PRF output is 64·η bytes. */
const ETA_BYTES = 128;
/** 128⁻¹ mod q, the final scaling of the inverse NTT. */
const INV_128 = 3303;

/** ζ^BitRev7(i) mod q, ζ = 17 (FIPS 203 §4.3). */
const ZETAS = new Int32Array(128);
/** ζ^(2·BitRev7(i)+1) mod q, the moduli of the base-case multiplications. */
const GAMMAS = new Int32Array(128);
{
  const bitrev7 = (x: number): number => {
    let r = 0;
    for (let b = 0; b < 7; b++) r |= ((x >> b) & 1) << (6 - b);
    return r;
  };
  const pow = (base: number, e: number): number => {
    let r = 1;
    for (let i = 0; i < e; i++) r = (r * base) % Q;
    return r;
  };
  for (let i = 0; i < 128; i++) {
    ZETAS[i] = pow(17, bitrev7(i));
    GAMMAS[i] = pow(17, 2 * bitrev7(i) + 1);
  }
}

function ntt(f: Int32Array): void {
  let i = 1;
  for (let len = 128; len >= 2; len >>= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const zeta = ZETAS[i++] as number;
      for (let j = start; j < start + len; j++) {
        const t = (zeta * (f[j + len] as number)) % Q;
        f[j + len] = ((f[j] as number) - t + Q) % Q;
        f[j] = ((f[j] as number) + t) % Q;
      }
    }
  }
}

function nttInverse(f: Int32Array): void {
  let i = 127;
  for (let len = 2; len <= 128; len <<= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const zeta = ZETAS[i--] as number;
      for (let j = start; j < start + len; j++) {
        const t = f[j] as number;
        f[j] = (t + (f[j + len] as number)) % Q;
        f[j + len] = (zeta * ((f[j + len] as number) - t + Q)) % Q;
      }
    }
  }
  for (let j = 0; j < N; j++) f[j] = ((f[j] as number) * INV_128) % Q;
}

/** acc += a ∘ b in the NTT domain (FIPS 203 Algorithms 11–12). */
function multiplyNttsAccumulate(acc: Int32Array, a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < 128; i++) {
    const a0 = a[2 * i] as number;
    const a1 = a[2 * i + 1] as number;
    const b0 = b[2 * i] as number;
    const b1 = b[2 * i + 1] as number;
    const c0 = (a0 * b0 + ((a1 * b1) % Q) * (GAMMAS[i] as number)) % Q;
    const c1 = (a0 * b1 + a1 * b0) % Q;
    acc[2 * i] = ((acc[2 * i] as number) + c0) % Q;
    acc[2 * i + 1] = ((acc[2 * i + 1] as number) + c1) % Q;
  }
}

/** SampleNTT (FIPS 203 Algorithm 7), the same sampler as Kyber1024's. */
function sampleNtt(rho: Uint8Array, j: number, i: number): Int32Array {
  return sampleNttInto(new Int32Array(N), rho, j, i);
}

/** SamplePolyCBD_2 (FIPS 203 Algorithm 8) over PRF_2(s, b) = SHAKE256(s ‖ b, 128). */
function sampleCbd2(seed: Uint8Array, nonce: number): Int32Array {
  const bytes = sodium().crypto_xof_shake256(ETA_BYTES, concatBytes(seed, Uint8Array.of(nonce)));
  const out = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const byte = bytes[i >> 1] as number;
    const bits = i & 1 ? byte >> 4 : byte & 0x0f;
    const x = (bits & 1) + ((bits >> 1) & 1);
    const y = ((bits >> 2) & 1) + ((bits >> 3) & 1);
    out[i] = (x - y + Q) % Q;
  }
  return out;
}

/** ByteEncode_10(Compress_10(u)) for one polynomial (FIPS 203 §4.2.1, Algorithm 5). */
function compressEncode10(f: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < N; i += 4) {
    const c = [0, 0, 0, 0];
    for (let k = 0; k < 4; k++) c[k] = Math.floor(((f[i + k] as number) * 1024 + 1664) / Q) & 0x3ff;
    const [c0, c1, c2, c3] = c as [number, number, number, number];
    const o = offset + (i / 4) * 5;
    out[o] = c0 & 0xff;
    out[o + 1] = (c0 >> 8) | ((c1 & 0x3f) << 2);
    out[o + 2] = (c1 >> 6) | ((c2 & 0x0f) << 4);
    out[o + 3] = (c2 >> 4) | ((c3 & 0x03) << 6);
    out[o + 4] = c3 >> 2;
  }
}

export interface KeyPair {
  readonly header: Uint8Array;
  readonly ek: Uint8Array;
  readonly dk: Uint8Array;
}

/** The header and encapsulation key embedded in a 2400-byte decapsulation key. */
export function keysFromDk(dk: Uint8Array): KeyPair {
  const ek = dk.slice(1152, 1152 + EK_SIZE);
  const rho = dk.subarray(1152 + EK_SIZE, 1152 + EK_SIZE + 32);
  const hash = dk.subarray(2336, 2368);
  return { header: concatBytes(rho, hash), ek, dk };
}

/** FIPS 203 ML-KEM.KeyGen_internal(d, z) from the 64-byte seed d ‖ z. */
export function generate(seed: Uint8Array): KeyPair {
  if (seed.length !== KEYGEN_SEED_SIZE) throw new RangeError('ML-KEM-768 key generation seed must be 64 bytes');
  return keysFromDk(sodium().crypto_kem_mlkem768_seed_keypair(seed).privateKey);
}

/** The first half of encapsulation, from the header alone. Returns ct1 and the shared secret K. */
export function encaps1(header: Uint8Array, m: Uint8Array): { ct1: Uint8Array; sharedSecret: Uint8Array } {
  const rho = header.subarray(0, 32);
  const g = sodium().crypto_hash_sha3512(concatBytes(m, header.subarray(32, 64)));
  const sharedSecret = g.slice(0, 32);
  const r = g.subarray(32, 64);
  const rHat: Int32Array[] = [];
  for (let i = 0; i < K; i++) {
    const p = sampleCbd2(r, i);
    ntt(p);
    rHat.push(p);
  }
  const ct1 = new Uint8Array(CT1_SIZE);
  for (let i = 0; i < K; i++) {
    const acc = new Int32Array(N);
    // (Âᵀ)[i][j] = Â[j][i] = SampleNTT(ρ ‖ i ‖ j).
    for (let j = 0; j < K; j++) multiplyNttsAccumulate(acc, sampleNtt(rho, i, j), rHat[j] as Int32Array);
    nttInverse(acc);
    const e1 = sampleCbd2(r, K + i);
    for (let c = 0; c < N; c++) acc[c] = ((acc[c] as number) + (e1[c] as number)) % Q;
    compressEncode10(acc, ct1, i * 320);
  }
  return { ct1, sharedSecret };
}

/** Whether a received encapsulation key belongs to a header (SHA3-256(t ‖ ρ) matches). */
export function ekMatchesHeader(ek: Uint8Array, header: Uint8Array): boolean {
  if (ek.length !== EK_SIZE || header.length !== HEADER_SIZE) return false;
  return equalBytes(sodium().crypto_hash_sha3256(concatBytes(ek, header.subarray(0, 32))), header.subarray(32, 64));
}

/**
 * The second half of encapsulation: ct2 (the compressed v) for the same m. Throws if the key fails FIPS 203's
 * encapsulation-key check (a coefficient ≥ q), which an honest peer never sends.
 */
export function encaps2(header: Uint8Array, ek: Uint8Array, m: Uint8Array): Uint8Array {
  if (ek.length !== EK_SIZE || header.length !== HEADER_SIZE || m.length !== ENCAPS_SEED_SIZE)
    throw new RangeError('ML-KEM-768 encapsulation: bad input length');
  // libsodium refuses (throws on) a key whose coefficients fail the FIPS 203 §7.2 modulus check.
  const { ciphertext } = sodium().crypto_kem_mlkem768_enc_deterministic(concatBytes(ek, header.subarray(0, 32)), m);
  return ciphertext.slice(CT1_SIZE);
}

/**
 * FIPS 203 ML-KEM.Decaps with implicit rejection. The decapsulation-key check of FIPS 203 §7.3 (the embedded
 * H(ek) matches ek) is done here, since libsodium does not do it; a key that fails it throws.
 */
export function decaps(dk: Uint8Array, ct1: Uint8Array, ct2: Uint8Array): Uint8Array {
  if (dk.length !== DK_SIZE || ct1.length !== CT1_SIZE || ct2.length !== CT2_SIZE)
    throw new RangeError('ML-KEM-768 decapsulation: bad input length');
  const s = sodium();
  const ekFull = dk.subarray(1152, 1152 + EK_SIZE + 32);
  if (!constantTimeEqual(s.crypto_hash_sha3256(ekFull), dk.subarray(2336, 2368)))
    throw new Error('ML-KEM-768 decapsulation key fails its hash check');
  return s.crypto_kem_mlkem768_dec(concatBytes(ct1, ct2), dk);
}
