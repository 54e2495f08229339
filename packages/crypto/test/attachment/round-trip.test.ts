/**
 * Encrypt → verify → decrypt round trips: the edge sizes (0, 1, 15, 16, 17, the smallest bucket, chunk boundaries),
 * 5 MiB cut into random odd pieces on both sides (fast-check), the streaming encryptor's contract (sink order,
 * overlapping calls, limits, fresh keys) and agreement with the node:crypto reference for random inputs.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  ATTACHMENT_CHUNK_SIZE,
  ATTACHMENT_TAG_SIZE,
  AttachmentError,
  attachmentBlobSize,
  attachmentPaddedSize,
  createAttachmentEncryptor,
  decryptAttachmentBytes,
  encryptAttachment,
  verifyAttachment,
} from '../../src/attachment/index.js';

import { referenceEncrypt } from './reference.js';
import { collect, encryptWithKey, split } from './support.js';

const randomPlaintext = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('attachment round trip', () => {
  const sizes = [
    0,
    1,
    15,
    16,
    17,
    540,
    541,
    542,
    567,
    568,
    569,
    ATTACHMENT_CHUNK_SIZE - 1,
    ATTACHMENT_CHUNK_SIZE,
    ATTACHMENT_CHUNK_SIZE + 1,
    // plain sizes whose padded size lands one byte around a chunk multiple
    2 * ATTACHMENT_CHUNK_SIZE - 17,
    3 * ATTACHMENT_CHUNK_SIZE + 5,
  ];

  it.each(sizes)('should return exactly the %i plaintext bytes', async (size) => {
    const plaintext = randomPlaintext(size);
    const r = await encryptAttachment(plaintext);
    expect(r.plainSize).toBe(size);
    expect(r.paddedSize).toBe(attachmentPaddedSize(size));
    expect(r.blob.length).toBe(attachmentBlobSize(r.paddedSize));
    expect(r.blob.length).toBe(r.paddedSize + Math.ceil(r.paddedSize / ATTACHMENT_CHUNK_SIZE) * ATTACHMENT_TAG_SIZE);
    await expect(verifyAttachment(() => [r.blob], r)).resolves.toBeUndefined();
    expect(Buffer.from(await decryptAttachmentBytes(r.blob, r)).equals(Buffer.from(plaintext))).toBe(true);
  });

  // Pieces of at least 1,000 bytes here: fast-check favours the smallest values, and 5 MiB in 1-byte pieces is five
  // million calls (over the test's time limit on a busy machine). Tiny pieces are the next test's, on less data.
  it('should round-trip 5 MiB cut into odd pieces on both sides', async () => {
    const plaintext = randomPlaintext(5 * 1024 * 1024 + 3);
    const piece = fc.array(fc.integer({ min: 1_000, max: 700_000 }), { minLength: 1, maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(piece, piece, async (inCuts, outCuts) => {
        const r = await encryptAttachment(split(plaintext, inCuts));
        const { plaintext: back, error } = await collect(() => split(r.blob, outCuts), r);
        expect(error).toBeNull();
        expect(Buffer.from(back).equals(Buffer.from(plaintext))).toBe(true);
      }),
      { numRuns: 6 },
    );
  });

  it('should round-trip just over a chunk cut into pieces as small as one byte on both sides', async () => {
    const plaintext = randomPlaintext(ATTACHMENT_CHUNK_SIZE + 7);
    const piece = fc.array(fc.integer({ min: 1, max: 2 * ATTACHMENT_CHUNK_SIZE }), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(piece, piece, async (inCuts, outCuts) => {
        const r = await encryptAttachment(split(plaintext, inCuts));
        const { plaintext: back, error } = await collect(() => split(r.blob, outCuts), r);
        expect(error).toBeNull();
        expect(Buffer.from(back).equals(Buffer.from(plaintext))).toBe(true);
      }),
      { numRuns: 6 },
    );
  });

  it('should match the node:crypto reference for random keys and sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 3 * ATTACHMENT_CHUNK_SIZE }),
        async (key, size) => {
          const plaintext = randomPlaintext(size);
          const ours = await encryptWithKey(key, plaintext);
          const ref = referenceEncrypt(key, plaintext);
          expect(Buffer.from(ours.blob).equals(ref.blob)).toBe(true);
          expect(Buffer.from(ours.digest).equals(ref.digest)).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('should release plaintext in pieces of at most one chunk and strip the padding', async () => {
    const plaintext = randomPlaintext(ATTACHMENT_CHUNK_SIZE * 2 + 100);
    const r = await encryptAttachment(plaintext);
    const { released } = await collect(() => [r.blob], r);
    expect(released.every((p) => p.length > 0 && p.length <= ATTACHMENT_CHUNK_SIZE)).toBe(true);
    expect(released.reduce((n, p) => n + p.length, 0)).toBe(plaintext.length);
  });
});

describe(createAttachmentEncryptor.name, () => {
  it('should draw a fresh key per attachment from the rng and never reuse it', async () => {
    const a = await encryptAttachment(new Uint8Array(10));
    const b = await encryptAttachment(new Uint8Array(10));
    expect(Buffer.from(a.key).equals(Buffer.from(b.key))).toBe(false);
    expect(Buffer.from(a.blob).equals(Buffer.from(b.blob))).toBe(false);
  });

  it('should hand sealed chunks to the sink in order, awaiting it, with the blob as their concatenation', async () => {
    const seen: Uint8Array[] = [];
    let writing = false;
    const enc = await createAttachmentEncryptor(async (piece) => {
      expect(writing).toBe(false);
      writing = true;
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(piece);
      writing = false;
    });
    const plaintext = randomPlaintext(ATTACHMENT_CHUNK_SIZE * 5 + 7);
    for (const p of split(plaintext, [100_000, 333_333, 1])) await enc.update(p);
    const r = await enc.finish();
    const blob = new Uint8Array(Buffer.concat(seen));
    expect(blob.length).toBe(r.blobSize);
    expect(seen.length).toBe(Math.ceil(r.paddedSize / ATTACHMENT_CHUNK_SIZE));
    expect(Buffer.from(await decryptAttachmentBytes(blob, r)).equals(Buffer.from(plaintext))).toBe(true);
  });

  it('should refuse overlapping calls, use after finish, non-bytes, and more than the limit', async () => {
    const enc = await createAttachmentEncryptor(() => undefined, { maxPlainSize: 1000 });
    const first = enc.update(new Uint8Array(10));
    await expect(enc.update(new Uint8Array(10))).rejects.toMatchObject({ kind: 'InvalidArgument' });
    await first;
    await expect(enc.update('text' as unknown as Uint8Array)).rejects.toMatchObject({ kind: 'InvalidArgument' });
    await expect(enc.update(new Uint8Array(991))).rejects.toMatchObject({ kind: 'TooLarge' });
    await enc.update(new Uint8Array(990));
    const r = await enc.finish();
    expect(r.plainSize).toBe(1000);
    await expect(enc.update(new Uint8Array(1))).rejects.toBeInstanceOf(AttachmentError);
    await expect(enc.finish()).rejects.toMatchObject({ kind: 'InvalidArgument' });
  });

  it('should refuse a bad limit or an rng returning the wrong length', async () => {
    await expect(createAttachmentEncryptor(() => undefined, { maxPlainSize: -1 })).rejects.toMatchObject({
      kind: 'InvalidArgument',
    });
    await expect(createAttachmentEncryptor(() => undefined, { maxPlainSize: 2 ** 40 })).rejects.toMatchObject({
      kind: 'InvalidArgument',
    });
    await expect(createAttachmentEncryptor(() => undefined, { rng: () => new Uint8Array(16) })).rejects.toMatchObject({
      kind: 'InvalidArgument',
    });
  });

  it('should pass a failing sink’s error through', async () => {
    const enc = await createAttachmentEncryptor(() => {
      throw new Error('disk full');
    });
    await expect(
      (async () => {
        await enc.update(randomPlaintext(ATTACHMENT_CHUNK_SIZE * 6));
        await enc.finish();
      })(),
    ).rejects.toThrow('disk full');
    await expect(enc.update(new Uint8Array(1))).rejects.toMatchObject({ kind: 'InvalidArgument' });
  });
});
