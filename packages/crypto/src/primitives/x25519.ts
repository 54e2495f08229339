/**
 * X25519 (RFC 7748) on libsodium: key generation with clamping, public-key derivation and Diffie-Hellman.
 * An all-zero shared secret (a low-order peer key) is refused, as libsignal refuses it.
 */
import type { Rng } from './random.js';
import { defaultRng } from './random.js';
import { sodium } from './sodium.js';

export function clampScalar(k: Uint8Array): Uint8Array {
  const c = Uint8Array.from(k);
  c[0] = (c[0] as number) & 248;
  c[31] = ((c[31] as number) & 127) | 64;
  return c;
}

export function x25519GeneratePrivate(rng: Rng = defaultRng): Uint8Array {
  return clampScalar(rng(32));
}

export function x25519PublicFromPrivate(priv: Uint8Array): Uint8Array {
  return sodium().crypto_scalarmult_base(priv);
}

/** DH(priv, pub); returns null when the result is all zeros (low-order point). */
export function x25519Agree(priv: Uint8Array, pub: Uint8Array): Uint8Array | null {
  try {
    return sodium().crypto_scalarmult(priv, pub);
  } catch {
    return null;
  }
}
