/**
 * Double Ratchet key derivations (facts §3): the root step HKDF(salt = RK, DH, "WhisperRatchet"), the symmetric
 * chain (seed = HMAC(CK, 0x01), next = HMAC(CK, 0x02)) and the message keys HKDF(salt = SPQR key, seed,
 * "WhisperMessageKeys", 80) → cipher key, MAC key, IV. Pure functions over bytes; no state.
 */
import { hkdf, hmacSha256, utf8 } from '../primitives/hash.js';

const MESSAGE_KEY_SEED = Uint8Array.of(0x01);
const CHAIN_KEY_SEED = Uint8Array.of(0x02);
const ROOT_INFO = utf8('WhisperRatchet');
const MESSAGE_KEYS_INFO = utf8('WhisperMessageKeys');

export interface MessageKeys {
  cipherKey: Uint8Array;
  macKey: Uint8Array;
  iv: Uint8Array;
}

export function messageSeed(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, MESSAGE_KEY_SEED);
}

export function nextChainKey(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, CHAIN_KEY_SEED);
}

/** Message keys from a seed; `salt` is the SPQR key of that message (null only for legacy states). */
export function deriveMessageKeys(seed: Uint8Array, salt: Uint8Array | null): MessageKeys {
  const okm = hkdf(seed, salt, MESSAGE_KEYS_INFO, 80);
  return { cipherKey: okm.subarray(0, 32), macKey: okm.subarray(32, 64), iv: okm.subarray(64, 80) };
}

/** Root step: returns the next root key and a fresh chain key. */
export function rootStep(rootKey: Uint8Array, sharedSecret: Uint8Array): { rootKey: Uint8Array; chainKey: Uint8Array } {
  const okm = hkdf(sharedSecret, rootKey, ROOT_INFO, 64);
  return { rootKey: okm.slice(0, 32), chainKey: okm.slice(32, 64) };
}
