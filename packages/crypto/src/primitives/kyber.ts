/**
 * Kyber1024 (round 3), the KEM libsignal uses for PQXDH prekeys: ML-KEM-1024 from the package's one ML-KEM core
 * (primitives/ml-kem.ts), with the round-3 differences on top (facts §1): m = SHA3-256(random) on encapsulation
 * and the shared secret K = SHAKE256(K̄ ‖ SHA3-256(ct), 32). Key generation is @noble/post-quantum's
 * `ml_kem1024.keygen` (its keys are valid Kyber1024 keys), and noble serves as the exact oracle in the tests.
 * Raw bytes only; the 0x08 type byte lives in keys/.
 */
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';

import { ML_KEM_1024, ciphertextBytes, dkBytes, ekBytes, mlKemDecapsulate, mlKemEncapsulateWith } from './ml-kem.js';
import type { Rng } from './random.js';
import { defaultRng } from './random.js';
import { sha3_256, shakeInto } from './sodium-direct.js';

/**
 * A key that fails the FIPS 203 §7.2 input checks (a coefficient of t̂ not below q). Its own class so that the key
 * layer can report it as the typed invalid-key error without matching message text.
 */
export class KyberKeyCheckError extends Error {
  override readonly name = 'KyberKeyCheckError';
}

export const KYBER1024_PUBLIC_KEY_LENGTH = ekBytes(ML_KEM_1024);
export const KYBER1024_SECRET_KEY_LENGTH = dkBytes(ML_KEM_1024);
export const KYBER1024_CIPHERTEXT_LENGTH = ciphertextBytes(ML_KEM_1024);

function roundThree(kBar: Uint8Array, ct: Uint8Array): Uint8Array {
  return shakeInto(256, new Uint8Array(32), kBar, sha3_256(ct));
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
  const out = mlKemEncapsulateWith(ML_KEM_1024, publicKey, m);
  if (!out) throw new KyberKeyCheckError('Kyber1024 public key fails the modulus check');
  return out;
}

/** ML-KEM-1024 decapsulation (Algorithm 18) with implicit rejection, returning K̄. */
export function mlkem1024Decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== KYBER1024_SECRET_KEY_LENGTH) throw new Error('bad Kyber1024 secret key length');
  if (cipherText.length !== KYBER1024_CIPHERTEXT_LENGTH) throw new Error('bad Kyber1024 ciphertext length');
  const out = mlKemDecapsulate(ML_KEM_1024, secretKey, cipherText);
  if (!out) throw new KyberKeyCheckError('Kyber1024 secret key embeds a public key that fails the modulus check');
  return out;
}

export function kyber1024Encapsulate(
  publicKey: Uint8Array,
  rng: Rng = defaultRng,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  const m = sha3_256(rng(32));
  const { cipherText, sharedSecret } = mlkem1024EncapsulateWith(publicKey, m);
  return { cipherText, sharedSecret: roundThree(sharedSecret, cipherText) };
}

export function kyber1024Decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return roundThree(mlkem1024Decapsulate(cipherText, secretKey), cipherText);
}
