/**
 * Randomness as a parameter: every function that needs random bytes takes an optional `Rng`, defaulting to the
 * platform CSPRNG (`crypto.getRandomValues`, present in browsers and Node ≥ 19, and required by libsodium's own
 * ESM build). Bytes are drawn in 4 KiB batches because libsodium's `randombytes_buf` fetches 4 bytes per call
 * to the platform, which dominated message encryption. Tests inject a seeded generator. No non-cryptographic
 * randomness here.
 */

/** Returns `length` fresh random bytes. */
export type Rng = (length: number) => Uint8Array;

interface PlatformCrypto {
  getRandomValues<T extends Uint8Array>(array: T): T;
}

/** getRandomValues refuses more than 65,536 bytes per call (Web Crypto limit). */
const MAX_PER_CALL = 65_536;
/** Batch size: large enough to amortize the platform call, small enough to keep little unused key material. */
const POOL_SIZE = 4096;

function platform(): PlatformCrypto {
  const c = (globalThis as { crypto?: PlatformCrypto }).crypto;
  if (!c || typeof c.getRandomValues !== 'function')
    throw new Error('@cove/crypto: no crypto.getRandomValues on this platform');
  return c;
}

let pool = new Uint8Array(0);
let poolPos = 0;

/** The platform CSPRNG. Each returned array is fresh and never shared; used pool bytes are zeroed. */
export const defaultRng: Rng = (length) => {
  const out = new Uint8Array(length);
  if (length > POOL_SIZE) {
    for (let o = 0; o < length; o += MAX_PER_CALL)
      platform().getRandomValues(out.subarray(o, Math.min(length, o + MAX_PER_CALL)));
    return out;
  }
  if (pool.length - poolPos < length) {
    pool = platform().getRandomValues(new Uint8Array(POOL_SIZE));
    poolPos = 0;
  }
  out.set(pool.subarray(poolPos, poolPos + length));
  pool.fill(0, poolPos, poolPos + length);
  poolPos += length;
  return out;
};

/** Random 14-bit registration id in 1..0x3FFF, as sealed sender v2 requires (see facts §7). */
export function generateRegistrationId(rng: Rng = defaultRng): number {
  for (;;) {
    const b = rng(2);
    const v = (((b[0] ?? 0) << 8) | (b[1] ?? 0)) & 0x3fff;
    if (v !== 0) return v;
  }
}
