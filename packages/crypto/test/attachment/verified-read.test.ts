/**
 * The one-pass read of a blob verified before: `verifyAttachmentChunks` returns the chunk hashes it checked, and
 * `decryptVerifiedAttachment` decrypts with them. Round trips (with pieces of any size), and the attacks on it: a
 * forged or cut hash list, another attachment's list, a wrong key, a blob changed after it was verified (refused at
 * the changed chunk, none of whose plaintext is released), a longer or shorter blob, and a sender's chunk that
 * fails its tag while its hash is in the list.
 */
import { createHash, randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import {
  ATTACHMENT_CHUNK_SIZE,
  ATTACHMENT_DIGEST_SIZE,
  ATTACHMENT_TAG_SIZE,
  AttachmentError,
  type AttachmentSecrets,
  type AttachmentSource,
  decryptVerifiedAttachment,
  encryptAttachment,
  verifyAttachmentChunks,
} from '../../src/attachment/index.js';

import { split } from './support.js';

const SEALED = ATTACHMENT_CHUNK_SIZE + ATTACHMENT_TAG_SIZE;

/** Runs a one-pass decryption to its end, recording every released piece even when it then fails. */
async function collectVerified(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
  chunkHashes: Uint8Array,
): Promise<{ released: Uint8Array[]; error: unknown; plaintext: Uint8Array }> {
  const released: Uint8Array[] = [];
  let error: unknown = null;
  try {
    for await (const piece of decryptVerifiedAttachment(source, secrets, chunkHashes)) released.push(piece.slice());
  } catch (e) {
    error = e;
  }
  return { released, error, plaintext: new Uint8Array(Buffer.concat(released)) };
}

const kindOf = (error: unknown): string | null => (error instanceof AttachmentError ? error.kind : null);

let plaintext: Uint8Array;
let r: Awaited<ReturnType<typeof encryptAttachment>>;
let hashes: Uint8Array;

beforeAll(async () => {
  plaintext = new Uint8Array(randomBytes(3 * ATTACHMENT_CHUNK_SIZE + 777)); // four sealed chunks (plus padding)
  r = await encryptAttachment(plaintext);
  hashes = await verifyAttachmentChunks(() => [r.blob], r);
});

describe('verified one-pass attachment read', () => {
  it('should return the SHA-256 of every sealed chunk and decrypt to the same plaintext in any pieces', async () => {
    const count = Math.ceil(r.paddedSize / ATTACHMENT_CHUNK_SIZE);
    expect(hashes.length).toBe(count * ATTACHMENT_DIGEST_SIZE);
    for (let i = 0; i < count; i++) {
      const sealed = r.blob.subarray(i * SEALED, Math.min(r.blob.length, (i + 1) * SEALED));
      expect(Buffer.from(hashes.subarray(i * 32, (i + 1) * 32))).toEqual(createHash('sha256').update(sealed).digest());
    }
    // One-byte pieces alternate with longer ones: a blob of only one-byte pieces is a million awaits (over 30 s on a
    // loaded 2-core machine) and tests nothing more than a byte straddling each boundary does.
    for (const lengths of [[r.blob.length], [1, 4093], [7, 100_000, 3], [SEALED], [SEALED + 1, 5]]) {
      const { error, plaintext: out } = await collectVerified(() => split(r.blob, lengths), r, hashes);
      expect(error).toBeNull();
      expect(Buffer.compare(out, plaintext)).toBe(0);
    }
  });

  it('should refuse a forged, cut or foreign hash list before reading the blob', async () => {
    let reads = 0;
    const counted: AttachmentSource = () => {
      reads++;
      return [r.blob];
    };
    const forged = hashes.slice();
    forged[40] = (forged[40] as number) ^ 1;
    const other = await encryptAttachment(new Uint8Array(randomBytes(r.plainSize)));
    const foreign = await verifyAttachmentChunks(() => [other.blob], other);
    for (const [list, kind] of [
      [forged, 'DigestMismatch'],
      [foreign, 'DigestMismatch'],
      [hashes.subarray(0, hashes.length - 32), 'InvalidArgument'],
      [new Uint8Array([...hashes, ...hashes.subarray(0, 32)]), 'InvalidArgument'],
    ] as const) {
      const { released, error } = await collectVerified(counted, r, list);
      expect(kindOf(error)).toBe(kind);
      expect(released).toEqual([]);
    }
    // The wrong key makes another key commitment: the list no longer matches the digest.
    const wrongKey = { ...r, key: new Uint8Array(randomBytes(32)) };
    expect(kindOf((await collectVerified(counted, wrongKey, hashes)).error)).toBe('DigestMismatch');
    expect(reads).toBe(0);
  });

  it('should refuse a blob changed after verification at the changed chunk, releasing none of it', async () => {
    for (const chunk of [0, 2, 3]) {
      const changed = r.blob.slice();
      const at = chunk * SEALED + 10;
      changed[at] = (changed[at] as number) ^ 0x80;
      const { released, error } = await collectVerified(() => [changed], r, hashes);
      expect(kindOf(error)).toBe('SourceChanged');
      // Only the chunks before the changed one came out, each exactly the sender's plaintext.
      const out = Buffer.concat(released);
      expect(out.length).toBe(chunk * ATTACHMENT_CHUNK_SIZE);
      expect(Buffer.compare(out, plaintext.subarray(0, out.length))).toBe(0);
    }
  });

  it('should refuse a blob longer or shorter than the pointer says', async () => {
    const longer = new Uint8Array([...r.blob, 0]);
    expect(kindOf((await collectVerified(() => [longer], r, hashes)).error)).toBe('SizeMismatch');
    // Cut short: the last (incomplete) chunk is never opened, so none of its plaintext comes out.
    const shorter = r.blob.subarray(0, r.blob.length - 1);
    const cut = await collectVerified(() => [shorter], r, hashes);
    expect(kindOf(cut.error)).toBe('SizeMismatch');
    expect(Buffer.concat(cut.released).length).toBeLessThanOrEqual(3 * ATTACHMENT_CHUNK_SIZE);
  });

  it("should refuse a sender's chunk that fails its tag even though its hash is listed", async () => {
    // A sender who controls the blob lists the hash of a broken chunk and signs the digest over it: verification
    // refuses it (MacMismatch), so no reader gets a list for it; and given one, the read refuses it at that chunk.
    const broken = r.blob.slice();
    broken[SEALED + 3] = (broken[SEALED + 3] as number) ^ 1;
    const count = Math.ceil(r.paddedSize / ATTACHMENT_CHUNK_SIZE);
    const list = new Uint8Array(count * 32);
    const commitment = createHash('sha256').update('Cove attachment key commitment v1').update(r.key).digest();
    const outer = createHash('sha256').update('Cove attachment digest v1').update(commitment);
    for (let i = 0; i < count; i++) {
      const hash = createHash('sha256')
        .update(broken.subarray(i * SEALED, Math.min(broken.length, (i + 1) * SEALED)))
        .digest();
      list.set(hash, i * 32);
      outer.update(hash);
    }
    const secrets = { ...r, digest: new Uint8Array(outer.digest()) };
    await expect(verifyAttachmentChunks(() => [broken], secrets)).rejects.toMatchObject({ kind: 'MacMismatch' });
    const { released, error } = await collectVerified(() => [broken], secrets, list);
    expect(kindOf(error)).toBe('SourceChanged');
    expect(Buffer.concat(released).length).toBe(ATTACHMENT_CHUNK_SIZE);
  });
});
