/**
 * Hostile blobs and pointers: every flipped byte (ciphertext, tag, any chunk), truncation, extension, a wrong
 * digest, a wrong key, chunks reordered or cut by a sender who recomputed the digest, sizes that contradict the
 * blob, and a source that changes between the verify and decrypt passes. Each is refused with its typed
 * `AttachmentError` and no plaintext is released (except, for a changed source, the chunks before the change,
 * which were verified).
 */
import { createHash, randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  ATTACHMENT_CHUNK_SIZE,
  ATTACHMENT_TAG_SIZE,
  AttachmentError,
  type AttachmentErrorKind,
  type AttachmentSecrets,
  type AttachmentSource,
  encryptAttachment,
  verifyAttachment,
} from '../../src/attachment/index.js';

import { collect, split } from './support.js';

const SEALED = ATTACHMENT_CHUNK_SIZE + ATTACHMENT_TAG_SIZE;

/** The digest a sender who controls the blob would compute for it (the format's digest rule, via node:crypto). */
function senderDigest(blob: Uint8Array, paddedSize: number, key: Uint8Array): Uint8Array {
  const count = Math.ceil(paddedSize / ATTACHMENT_CHUNK_SIZE);
  const outer = createHash('sha256')
    .update('Cove attachment digest v1')
    .update(createHash('sha256').update('Cove attachment key commitment v1').update(key).digest());
  for (let i = 0; i < count; i++) {
    const end = i === count - 1 ? blob.length : (i + 1) * SEALED;
    outer.update(
      createHash('sha256')
        .update(blob.subarray(i * SEALED, end))
        .digest(),
    );
  }
  return new Uint8Array(outer.digest());
}

async function expectRefused(
  source: AttachmentSource,
  secrets: AttachmentSecrets,
  kind: AttachmentErrorKind,
): Promise<void> {
  const { released, error } = await collect(source, secrets);
  expect(error).toBeInstanceOf(AttachmentError);
  expect((error as AttachmentError).kind).toBe(kind);
  expect(released).toEqual([]);
  await expect(verifyAttachment(source, secrets)).rejects.toMatchObject({ kind });
}

let plaintext: Uint8Array;
let r: Awaited<ReturnType<typeof encryptAttachment>>;

beforeAll(async () => {
  plaintext = new Uint8Array(randomBytes(2 * ATTACHMENT_CHUNK_SIZE + 1000)); // three sealed chunks
  r = await encryptAttachment(plaintext);
});

const flipped = (blob: Uint8Array, at: number, mask = 0x01): Uint8Array => {
  const copy = blob.slice();
  copy[at] = (copy[at] as number) ^ mask;
  return copy;
};

describe('attachment tampering', () => {
  it('should refuse a flipped byte in every region of every chunk with DigestMismatch', async () => {
    const positions = [0, 1, 15, 16, 1000, SEALED - 17, SEALED - 16, SEALED - 1, SEALED, 2 * SEALED + 5];
    positions.push(r.blob.length - 17, r.blob.length - 16, r.blob.length - 1);
    for (const at of positions) await expectRefused(() => [flipped(r.blob, at)], r, 'DigestMismatch');
  });

  it('should refuse any single flipped bit anywhere (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: r.blob.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        async (at, bit) => {
          await expectRefused(() => [flipped(r.blob, at, 1 << bit)], r, 'DigestMismatch');
        },
      ),
      { numRuns: 25 },
    );
  });

  it('should refuse truncation by a byte, a tag and a whole chunk with SizeMismatch', async () => {
    for (const cut of [1, ATTACHMENT_TAG_SIZE, r.blob.length - 2 * SEALED, r.blob.length])
      await expectRefused(() => [r.blob.subarray(0, r.blob.length - cut)], r, 'SizeMismatch');
  });

  it('should refuse extension by a byte or a chunk with SizeMismatch, without reading past the excess', async () => {
    await expectRefused(() => [r.blob, new Uint8Array(1)], r, 'SizeMismatch');
    await expectRefused(() => [r.blob, r.blob.subarray(0, SEALED)], r, 'SizeMismatch');
    let endless = 0;
    function* forever(): Generator<Uint8Array> {
      for (;;) {
        endless++;
        yield r.blob;
      }
    }
    await expectRefused(forever, r, 'SizeMismatch');
    expect(endless).toBeLessThan(10);
  });

  it('should refuse a wrong digest with DigestMismatch', async () => {
    await expectRefused(() => [r.blob], { ...r, digest: flipped(r.digest, 31) }, 'DigestMismatch');
    await expectRefused(() => [r.blob], { ...r, digest: new Uint8Array(32) }, 'DigestMismatch');
  });

  it('should refuse a wrong key with DigestMismatch: the digest commits to the key', async () => {
    await expectRefused(() => [r.blob], { ...r, key: flipped(r.key, 0) }, 'DigestMismatch');
  });

  it('should refuse a wrong key whose digest was recomputed for it with MacMismatch (tags checked too)', async () => {
    const key = flipped(r.key, 0);
    await expectRefused(() => [r.blob], { ...r, key, digest: senderDigest(r.blob, r.paddedSize, key) }, 'MacMismatch');
  });

  it('should refuse a blob altered by its sender with a matching digest with MacMismatch', async () => {
    const bad = flipped(r.blob, SEALED + 7);
    await expectRefused(() => [bad], { ...r, digest: senderDigest(bad, r.paddedSize, r.key) }, 'MacMismatch');
  });

  it('should refuse reordered chunks even with a recomputed digest (nonces bind the index)', async () => {
    const swapped = new Uint8Array(r.blob.length);
    swapped.set(r.blob.subarray(SEALED, 2 * SEALED), 0);
    swapped.set(r.blob.subarray(0, SEALED), SEALED);
    swapped.set(r.blob.subarray(2 * SEALED), 2 * SEALED);
    await expectRefused(() => [swapped], { ...r, digest: senderDigest(swapped, r.paddedSize, r.key) }, 'MacMismatch');
  });

  it('should refuse a blob cut at a chunk boundary even with matching sizes and digest (last-chunk flag)', async () => {
    const cut = r.blob.subarray(0, 2 * SEALED);
    const paddedSize = 2 * ATTACHMENT_CHUNK_SIZE;
    const secrets = { ...r, paddedSize, plainSize: paddedSize, digest: senderDigest(cut, paddedSize, r.key) };
    await expectRefused(() => [cut], secrets, 'MacMismatch');
  });

  it('should refuse hostile sizes: plain above padded, padded not matching the blob', async () => {
    await expectRefused(() => [r.blob], { ...r, plainSize: r.paddedSize + 1 }, 'InvalidArgument');
    await expectRefused(() => [r.blob], { ...r, paddedSize: r.paddedSize - 1 }, 'SizeMismatch');
    await expectRefused(() => [r.blob], { ...r, paddedSize: r.paddedSize + 1 }, 'SizeMismatch');
    await expectRefused(() => [r.blob], { ...r, paddedSize: r.paddedSize + ATTACHMENT_CHUNK_SIZE }, 'SizeMismatch');
  });

  it('should refuse malformed pointer secrets before reading the source', async () => {
    let reads = 0;
    const source = (): Uint8Array[] => {
      reads++;
      return [r.blob];
    };
    const bad: Partial<Record<keyof AttachmentSecrets, unknown>>[] = [
      { key: r.key.subarray(0, 31) },
      { key: new Uint8Array(64) },
      { key: 'k'.repeat(32) },
      { digest: r.digest.subarray(1) },
      { digest: null },
      { paddedSize: 0 },
      { paddedSize: -5 },
      { paddedSize: 1.5 },
      { paddedSize: 2 ** 31 + 1 },
      { paddedSize: Number.NaN },
      { plainSize: -1 },
      { plainSize: 0.5 },
      { plainSize: '12' },
    ];
    for (const change of bad)
      await expectRefused(source, { ...r, ...change } as unknown as AttachmentSecrets, 'InvalidArgument');
    expect(reads).toBe(0);
  });

  it('should refuse a source yielding something other than bytes', async () => {
    await expectRefused(() => ['text' as unknown as Uint8Array], r, 'InvalidArgument');
  });

  it('should refuse a source that changes between the passes before releasing the changed chunk', async () => {
    const big = new Uint8Array(randomBytes(7 * ATTACHMENT_CHUNK_SIZE));
    const e = await encryptAttachment(big);
    let reads = 0;
    const changing = (): Uint8Array[] => {
      reads++;
      return split(reads === 1 ? e.blob : flipped(e.blob, 5 * SEALED + 3), [SEALED]);
    };
    const { released, error } = await collect(changing, e);
    expect(AttachmentError.is(error, 'SourceChanged')).toBe(true);
    const out = Buffer.concat(released);
    expect(out.length).toBe(5 * ATTACHMENT_CHUNK_SIZE);
    expect(out.equals(Buffer.from(big.subarray(0, 5 * ATTACHMENT_CHUNK_SIZE)))).toBe(true);
  });

  it('should name no key or digest bytes in its errors', async () => {
    const { error } = await collect(() => [flipped(r.blob, 3)], r);
    const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;
    for (const secret of [r.key, r.digest])
      for (const encoding of ['hex', 'base64'] as const)
        expect(text).not.toContain(Buffer.from(secret).toString(encoding).slice(0, 12));
  });
});
