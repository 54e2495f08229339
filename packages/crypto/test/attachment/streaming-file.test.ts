/**
 * The streaming contract end to end on a real file: a 100 MiB plaintext generated piece by piece is encrypted into a
 * file through the sink (never held whole), then verified and decrypted from that file re-read with a Node stream,
 * and the output's SHA-256 must equal the input's. Memory is not asserted (garbage collection makes it noisy); the
 * point is that nothing in the API needs the whole blob or plaintext at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAttachmentEncryptor, decryptAttachment, verifyAttachment } from '../../src/attachment/index.js';

const SIZE = 100 * 1024 * 1024;
const PIECE = 1_000_003; // odd on purpose: no piece lines up with a chunk

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cove-attachment-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('attachment streaming through a file', () => {
  it('should encrypt 100 MiB into a file and decrypt it back from re-reads of that file', async () => {
    const path = join(dir, 'blob');
    const file = await open(path, 'w');
    const encryptor = await createAttachmentEncryptor(async (piece) => {
      await file.write(piece);
    });
    const seed = new Uint8Array(randomBytes(PIECE));
    const inputHash = createHash('sha256');
    for (let done = 0, i = 0; done < SIZE; i++) {
      const piece = seed.slice(0, Math.min(PIECE, SIZE - done));
      piece[0] = i & 0xff; // every piece differs
      inputHash.update(piece);
      await encryptor.update(piece);
      done += piece.length;
    }
    const secrets = await encryptor.finish();
    await file.close();
    expect((await stat(path)).size).toBe(secrets.blobSize);

    const source = (): AsyncIterable<Uint8Array> => createReadStream(path, { highWaterMark: 64 * 1024 });
    await verifyAttachment(source, secrets);
    const outputHash = createHash('sha256');
    let largest = 0;
    for await (const piece of decryptAttachment(source, secrets)) {
      largest = Math.max(largest, piece.length);
      outputHash.update(piece);
    }
    expect(outputHash.digest('hex')).toBe(inputHash.digest('hex'));
    expect(largest).toBeLessThanOrEqual(256 * 1024);
  }, 120_000);
});
