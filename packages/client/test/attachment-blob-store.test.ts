/**
 * The AttachmentBlobStore contract (platform.ts), run against both implementations — the in-memory one and the
 * file-backed Node one — plus the CLI's safe naming and no-overwrite saving of received attachments.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { createMemoryBlobStore } from '../src/attachments/memory-blob-store.js';
import { BLOB_DIRECTORY, createFileBlobStore } from '../src/node/file-blob-store.js';
import { safeFileName, saveAttachmentFile } from '../src/node/cli/attachment-files.js';
import type { AttachmentBlobStore } from '../src/platform.js';

const collect = async (pieces: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const piece of pieces) parts.push(piece);
  return Buffer.concat(parts);
};

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

const stores: [string, () => Promise<AttachmentBlobStore>][] = [
  ['memory', () => Promise.resolve(createMemoryBlobStore())],
  [
    'file',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'cove-blobs-'));
      roots.push(root);
      return createFileBlobStore(root);
    },
  ],
];

describe.each(stores)('AttachmentBlobStore (%s)', (_name, make) => {
  it('should append, report sizes, read ranges, truncate and delete', async () => {
    const store = await make();
    expect(await store.size('a1')).toBeNull();
    const first = randomBytes(300_000);
    const second = randomBytes(70_000);
    await store.append('a1', first);
    await store.append('a1', second);
    const all = Buffer.concat([first, second]);
    expect(await store.size('a1')).toBe(all.length);
    expect(Buffer.compare(await collect(store.read('a1')), all)).toBe(0);
    // A second pass reads the same bytes again.
    expect(Buffer.compare(await collect(store.read('a1')), all)).toBe(0);
    expect(
      Buffer.compare(await collect(store.read('a1', { offset: 299_990, length: 20 })), all.subarray(299_990, 300_010)),
    ).toBe(0);
    expect(Buffer.compare(await collect(store.read('a1', { offset: 10 })), all.subarray(10))).toBe(0);
    expect((await collect(store.read('a1', { offset: 5, length: 0 }))).length).toBe(0);
    await store.truncate('a1', 1000);
    expect(await store.size('a1')).toBe(1000);
    await store.delete('a1');
    await store.delete('a1');
    expect(await store.size('a1')).toBeNull();
  });

  it('should refuse ids outside the storage-id alphabet (no paths)', async () => {
    const store = await make();
    for (const id of ['../x', 'a/b', '', '.', 'a b', 'x'.repeat(129)])
      await expect(store.append(id, new Uint8Array(1))).rejects.toThrow(/invalid attachment blob id/);
  });
});

describe('file blob store', () => {
  it('should keep blobs owner-only under the data directory', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cove-blobs-'));
    roots.push(root);
    await createFileBlobStore(root).append('b1', new Uint8Array([1, 2, 3]));
    expect((await stat(join(root, BLOB_DIRECTORY))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, BLOB_DIRECTORY, 'b1'))).mode & 0o777).toBe(0o600);
  });
});

describe('saving received attachments', () => {
  it('should make any proposed name a plain file name without leading dots', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 300 }), { nil: null }), (proposed) => {
        const name = safeFileName(proposed, 'image/png');
        expect(name).toMatch(/^[\p{L}\p{N}_\- ][\p{L}\p{N}._\- ]*$/u);
        expect(name.length).toBeLessThanOrEqual(100);
        expect(name).not.toMatch(/^\.|[/\\]/);
      }),
    );
    expect(safeFileName('../../etc/passwd', 'text/plain')).toBe('_.._etc_passwd');
    expect(safeFileName('photo\u202egpj.exe', 'image/jpeg')).toBe('photo_gpj.exe');
    expect(safeFileName(null, 'image/png')).toBe('attachment.png');
    expect(safeFileName('...', 'application/x-unknown')).toBe('attachment');
  });

  it('should never overwrite and leave nothing behind when the plaintext fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cove-save-'));
    roots.push(dir);
    await writeFile(join(dir, 'a.txt'), 'mine');
    const bytes = async function* (): AsyncIterable<Uint8Array> {
      await Promise.resolve();
      yield new Uint8Array([104, 105]);
    };
    const saved = await saveAttachmentFile(dir, 'a.txt', 'text/plain', bytes());
    expect(saved).toMatchObject({ path: join(dir, 'a (1).txt'), size: 2 });
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('mine');
    const failing = async function* (): AsyncIterable<Uint8Array> {
      await Promise.resolve();
      yield new Uint8Array([1]);
      throw new Error('the attachment failed verification');
    };
    await expect(saveAttachmentFile(dir, 'b.txt', 'text/plain', failing())).rejects.toThrow(/verification/);
    expect((await readdir(dir)).sort()).toEqual(['a (1).txt', 'a.txt']);
  });
});
