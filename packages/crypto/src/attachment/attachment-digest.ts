/**
 * The attachment digest: SHA-256(label ‖ K ‖ SHA-256(sealed chunk 0) ‖ … ‖ SHA-256(sealed chunk n−1)), where
 * K = SHA-256(commitment label ‖ key) commits to the key. Each chunk hash is one native WebCrypto call; the outer
 * hash sees 32 bytes per chunk and runs incrementally, so memory stays flat for any size. Collision resistance of
 * SHA-256 makes the digest bind the exact blob (every byte, the chunk boundaries and the count) and the key, so one
 * (blob, digest) pair decrypts to one plaintext only: AES-GCM alone does not commit to its key. Does no I/O and no
 * comparison policy.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

import { ATTACHMENT_DIGEST_LABEL, ATTACHMENT_KEY_COMMITMENT_LABEL } from './attachment-format.js';

type Hasher = ReturnType<typeof sha256.create>;

export class DigestAccumulator {
  readonly #outer: Hasher;

  constructor(key: Uint8Array) {
    const commitment = sha256.create().update(utf8ToBytes(ATTACHMENT_KEY_COMMITMENT_LABEL)).update(key).digest();
    this.#outer = sha256.create().update(utf8ToBytes(ATTACHMENT_DIGEST_LABEL)).update(commitment);
  }

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
