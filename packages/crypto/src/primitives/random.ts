/**
 * Randomness as a parameter: every function that needs random bytes takes an optional `Rng`, defaulting to
 * libsodium's CSPRNG. Tests inject a seeded generator. Does not provide any non-cryptographic randomness.
 */
import { sodium } from './sodium.js';

/** Returns `length` fresh random bytes. */
export type Rng = (length: number) => Uint8Array;

/** libsodium's CSPRNG (backed by `crypto.getRandomValues`). */
export const defaultRng: Rng = (length) => sodium().randombytes_buf(length);

/** Random 14-bit registration id in 1..0x3FFF, as sealed sender v2 requires (see facts §7). */
export function generateRegistrationId(rng: Rng = defaultRng): number {
  for (;;) {
    const b = rng(2);
    const v = (((b[0] ?? 0) << 8) | (b[1] ?? 0)) & 0x3fff;
    if (v !== 0) return v;
  }
}
