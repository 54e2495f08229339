/**
 * AES-256-CBC with PKCS#7 padding (the Double Ratchet's message cipher), on @noble/ciphers since libsodium has
 * no AES-CBC. Returns null instead of throwing on bad padding so callers can map it to their own error.
 */
import { cbc } from '@noble/ciphers/aes.js';

export function aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return cbc(key, iv).encrypt(plaintext);
}

export function aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return null;
  try {
    return cbc(key, iv).decrypt(ciphertext);
  } catch {
    return null;
  }
}
