/**
 * Device names, encrypted so the server stores only ciphertext: the key is derived with HKDF-SHA256 from the account's
 * identity private key (which every device of the account holds, and the server never sees), the cipher is
 * AES-256-GCM with a random nonce. Format: nonce (12) ‖ ciphertext ‖ tag (16). The associated data names the purpose,
 * so the ciphertext cannot be passed off as anything else sealed with a key of this identity. It does not choose or
 * check or decode names (length, characters, UTF-8): callers do.
 */
import { gcm } from '@noble/ciphers/aes.js';

import { ErrorCode, fail } from '../errors.js';
import type { PrivateKey } from '../keys/curve.js';
import { concat, hkdf, utf8 } from '../primitives/hash.js';
import { defaultRng, type Rng } from '../primitives/random.js';

const INFO = 'Cove device name v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const nameKey = (identity: PrivateKey): Uint8Array => hkdf(identity.serialize(), null, utf8(INFO), 32);

/** Encrypts a name given as UTF-8 bytes. */
export function encryptDeviceName(identity: PrivateKey, name: Uint8Array, rng: Rng = defaultRng): Uint8Array {
  const key = nameKey(identity);
  const nonce = rng(NONCE_BYTES);
  const sealed = gcm(key, nonce, utf8(INFO)).encrypt(name);
  key.fill(0);
  return concat(nonce, sealed);
}

/** The name's UTF-8 bytes, or an `InvalidMessage` error when the ciphertext was not made with this identity or was changed. */
export function decryptDeviceName(identity: PrivateKey, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < NONCE_BYTES + TAG_BYTES)
    fail(ErrorCode.InvalidMessage, 'DeviceName_Decrypt', 'device name ciphertext too short');
  const key = nameKey(identity);
  try {
    return gcm(key, ciphertext.subarray(0, NONCE_BYTES), utf8(INFO)).decrypt(ciphertext.subarray(NONCE_BYTES));
  } catch {
    fail(ErrorCode.InvalidMessage, 'DeviceName_Decrypt', 'device name does not decrypt');
  } finally {
    key.fill(0);
  }
}
