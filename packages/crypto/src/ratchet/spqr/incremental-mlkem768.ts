/**
 * ML-KEM-768 (FIPS 203) split for incremental transfer, as the SPQR braid uses it:
 *
 * - header = ρ ‖ SHA3-256(ek) (64 bytes), encapsulation key = the 1152-byte encoding of t, decapsulation key =
 *   the standard 2400-byte FIPS 203 layout (dk_pke ‖ ek ‖ H(ek) ‖ z);
 * - `encaps1` needs only the header: (K, r) = G(m ‖ H(ek)), then u = NTT⁻¹(Âᵀ ∘ NTT(r)) + e1 compressed to
 *   10 bits (ct1, 960 bytes): the part of K-PKE.Encrypt that does not involve t, from the package's one ML-KEM
 *   core (primitives/ml-kem.ts, FIPS 203 Algorithms 6–8, 9–12, 14 and §4.2.1) with the ML-KEM-768 parameters;
 * - `encaps2` runs libsodium's standard deterministic encapsulation on (t ‖ ρ, m), which reproduces u and
 *   yields v (ct2, 128 bytes); ct1 ‖ ct2 is an ordinary ML-KEM-768 ciphertext, so decapsulation is libsodium's.
 *
 * Key generation, `encaps2` and decapsulation run on libsodium's ML-KEM-768 (`crypto_kem_mlkem768_*`,
 * WebAssembly, several times faster than a pure-JS implementation); SHA-3 and SHAKE are libsodium's too.
 * @noble/post-quantum's `ml_kem768` is the byte-exact oracle in the tests. The encapsulation "state" between
 * the two halves is just m (32 bytes), so nothing large is kept or recomputed per message.
 */
import { constantTimeEqual, equalBytes } from '../../primitives/bytes.js';
import { ML_KEM_768, c1Bytes, ciphertextBytes, dkBytes, encryptUOnly, tBytes } from '../../primitives/ml-kem.js';
import { sodium } from '../../primitives/sodium.js';
import { concatBytes } from './kdf.js';

export const HEADER_SIZE = 64;
/** The t-encoding alone: the encapsulation key without ρ, which travels in the header. */
export const EK_SIZE = tBytes(ML_KEM_768);
export const DK_SIZE = dkBytes(ML_KEM_768);
export const CT1_SIZE = c1Bytes(ML_KEM_768);
export const CT2_SIZE = ciphertextBytes(ML_KEM_768) - CT1_SIZE;
export const SHARED_SECRET_SIZE = 32;
/** Key generation randomness d ‖ z (FIPS 203 Algorithm 19). */
export const KEYGEN_SEED_SIZE = 64;
/** Encapsulation randomness m (FIPS 203 Algorithm 20). */
export const ENCAPS_SEED_SIZE = 32;

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
  const g = sodium().crypto_hash_sha3512(concatBytes(m, header.subarray(32, 64)));
  const ct1 = encryptUOnly(ML_KEM_768, header.subarray(0, 32), g.subarray(32, 64));
  return { ct1, sharedSecret: g.slice(0, 32) };
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
