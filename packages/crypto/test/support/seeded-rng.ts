/**
 * Deterministic randomness for tests: a SHA-256 counter-mode byte stream (`seededRng`) usable as the library's
 * injectable `Rng`, and a small integer PRNG (`prng`) for scenario schedules. Never for production use.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export function seededRng(seed: number | string): (length: number) => Uint8Array {
  const seedBytes = new TextEncoder().encode(String(seed));
  let counter = 0;
  let pool = new Uint8Array(0);
  let pos = 0;
  return (length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      if (pos >= pool.length) {
        const block = new Uint8Array(seedBytes.length + 4);
        block.set(seedBytes);
        new DataView(block.buffer).setUint32(seedBytes.length, counter++);
        pool = sha256(block);
        pos = 0;
      }
      out[i] = pool[pos++] ?? 0;
    }
    return out;
  };
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}
