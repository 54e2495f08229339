/**
 * Kyber1024 (round 3), the KEM libsignal uses for PQXDH prekeys, derived from @noble/post-quantum's ML-KEM-1024:
 * key formats are identical, and the round-3 shared secret is recovered as K = SHAKE256(K̄ ‖ SHA3-256(ct), 32)
 * with m = SHA3-256(random) on encapsulation (facts §1). Raw bytes only; the 0x08 type byte lives in keys/.
 */
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';

import { concat, sha3_256Hash, shake256Hash } from './hash.js';
import type { Rng } from './random.js';
import { defaultRng } from './random.js';

export const KYBER1024_PUBLIC_KEY_LENGTH = 1568;
export const KYBER1024_SECRET_KEY_LENGTH = 3168;
export const KYBER1024_CIPHERTEXT_LENGTH = 1568;

export function kyber1024Keygen(rng: Rng = defaultRng): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return ml_kem1024.keygen(rng(64));
}

export function kyber1024Encapsulate(
  publicKey: Uint8Array,
  rng: Rng = defaultRng,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  const m = sha3_256Hash(rng(32));
  const { cipherText, sharedSecret } = ml_kem1024.encapsulate(publicKey, m);
  return { cipherText, sharedSecret: shake256Hash(concat(sharedSecret, sha3_256Hash(cipherText)), 32) };
}

export function kyber1024Decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const kBar = ml_kem1024.decapsulate(cipherText, secretKey);
  return shake256Hash(concat(kBar, sha3_256Hash(cipherText)), 32);
}
