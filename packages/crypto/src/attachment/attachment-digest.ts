/**
 * The attachment digest: SHA-256(label ‖ SHA-256(sealed chunk 0) ‖ … ‖ SHA-256(sealed chunk n−1)). Each chunk hash
 * is one native WebCrypto call; the outer hash sees 32 bytes per chunk and runs incrementally, so memory stays flat
 * for any size. Collision resistance of SHA-256 makes it bind the exact blob (every byte, the chunk boundaries and
 * the chunk count) just as a SHA-256 over the whole blob would. Does no I/O and no comparison policy.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

import { ATTACHMENT_DIGEST_LABEL } from './attachment-format.js';

type Hasher = ReturnType<typeof sha256.create>;

export class DigestAccumulator {
  readonly #outer: Hasher = sha256.create().update(utf8ToBytes(ATTACHMENT_DIGEST_LABEL));

  /** Adds the SHA-256 of the next sealed chunk. */
  add(chunkHash: Uint8Array): void {
    this.#outer.update(chunkHash);
  }

  digest(): Uint8Array {
    return this.#outer.digest();
  }
}

/** Equality whose time depends only on the length (public), not on where the bytes differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
