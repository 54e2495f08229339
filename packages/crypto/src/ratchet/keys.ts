/**
 * Double Ratchet key derivations (facts §3): the root step HKDF(salt = RK, DH, "WhisperRatchet"), the symmetric
 * chain (seed = HMAC(CK, 0x01), next = HMAC(CK, 0x02)) and the message keys HKDF(salt = SPQR key, seed,
 * "WhisperMessageKeys", 80) → cipher key, MAC key, IV. Pure functions over bytes; no state.
 * Each derivation gives its output its role (key-roles.ts), so a chain key is refused where a root key belongs.
 */
import { hkdf, hmacSha256, utf8 } from '../primitives/hash.js';
import type { ChainKey, CipherKey, MacKey, MessageSeed, RootKey, SpqrMessageKey } from './key-roles.js';

const MESSAGE_KEY_SEED = Uint8Array.of(0x01);
const CHAIN_KEY_SEED = Uint8Array.of(0x02);
const ROOT_INFO = utf8('WhisperRatchet');
const MESSAGE_KEYS_INFO = utf8('WhisperMessageKeys');

export interface MessageKeys {
  cipherKey: CipherKey;
  macKey: MacKey;
  iv: Uint8Array;
}

export function messageSeed(chainKey: ChainKey): MessageSeed {
  return hmacSha256(chainKey, MESSAGE_KEY_SEED) as MessageSeed;
}

export function nextChainKey(chainKey: ChainKey): ChainKey {
  return hmacSha256(chainKey, CHAIN_KEY_SEED) as ChainKey;
}

/** Message keys from a seed; `salt` is the SPQR key of that message (null only for legacy states). */
export function deriveMessageKeys(seed: MessageSeed, salt: SpqrMessageKey | null): MessageKeys {
  const okm = hkdf(seed, salt, MESSAGE_KEYS_INFO, 80);
  return {
    cipherKey: okm.subarray(0, 32) as CipherKey,
    macKey: okm.subarray(32, 64) as MacKey,
    iv: okm.subarray(64, 80),
  };
}

/** Root step: returns the next root key and a fresh chain key. */
export function rootStep(rootKey: RootKey, sharedSecret: Uint8Array): { rootKey: RootKey; chainKey: ChainKey } {
  const okm = hkdf(sharedSecret, rootKey, ROOT_INFO, 64);
  return { rootKey: okm.slice(0, 32) as RootKey, chainKey: okm.slice(32, 64) as ChainKey };
}
