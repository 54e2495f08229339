/**
 * The PWA's attachment blob store (encrypted-blob-store.ts) over fake-indexeddb: the core's AttachmentBlobStore
 * contract (append, ranged reads, size, truncate, idempotent delete, id alphabet), pieces sealed so neither the
 * bytes nor the blob id appear in IndexedDB, a moved or missing piece refused, and blobs still readable after a
 * passphrase re-keyed the vault.
 */
import 'fake-indexeddb/auto';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import type { CoveDatabase } from '../src/platform/idb/schema.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import { BlobCorruptError, EncryptedBlobStore, PIECE_BYTES } from '../src/platform/encrypted-blob-store.js';
import { loadVaultKeys, setPassphrase, unlockVault } from '../src/platform/vault.js';

let counter = 0;
const opened: CoveDatabase[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

async function openStores(name = `cove-blob-test-${Date.now()}-${counter++}`) {
  const db = await openCoveDatabase(name);
  opened.push(db);
  const keys = await loadVaultKeys(db);
  if (keys === 'locked') throw new Error('unexpected lock');
  const rows = new EncryptedRowStore(db, keys, () => loadVaultKeys(db), `lock-${name}`);
  return { db, keys, rows, blobs: new EncryptedBlobStore(db, rows) };
}

const collect = async (pieces: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const piece of pieces) parts.push(piece);
  return Buffer.concat(parts);
};

describe(EncryptedBlobStore.name, () => {
  it('should append, report sizes, read ranges, truncate and delete', async () => {
    const { blobs } = await openStores();
    expect(await blobs.size('a1')).toBeNull();
    const first = randomBytes(PIECE_BYTES + 300_000);
    const second = randomBytes(70_000);
    await blobs.append('a1', first);
    await blobs.append('a1', second);
    const all = Buffer.concat([first, second]);
    expect(await blobs.size('a1')).toBe(all.length);
    expect(Buffer.compare(await collect(blobs.read('a1')), all)).toBe(0);
    expect(Buffer.compare(await collect(blobs.read('a1')), all)).toBe(0);
    for (const [offset, length] of [
      [PIECE_BYTES - 10, 20],
      [0, 1],
      [5, PIECE_BYTES * 2],
      [all.length - 1, 10],
    ] as const)
      expect(
        Buffer.compare(await collect(blobs.read('a1', { offset, length })), all.subarray(offset, offset + length)),
      ).toBe(0);
    expect((await collect(blobs.read('a1', { offset: 5, length: 0 }))).length).toBe(0);
    // Cut inside a piece: the kept part is sealed again, and appending continues from there.
    await blobs.truncate('a1', PIECE_BYTES + 1000);
    expect(await blobs.size('a1')).toBe(PIECE_BYTES + 1000);
    await blobs.append('a1', second);
    expect(
      Buffer.compare(await collect(blobs.read('a1')), Buffer.concat([all.subarray(0, PIECE_BYTES + 1000), second])),
    ).toBe(0);
    await blobs.truncate('a1', 0);
    expect(await blobs.size('a1')).toBe(0);
    await blobs.delete('a1');
    await blobs.delete('a1');
    expect(await blobs.size('a1')).toBeNull();
    await expect(collect(blobs.read('a1'))).rejects.toThrow(/no such attachment blob/);
  });

  it('should refuse ids outside the storage-id alphabet', async () => {
    const { blobs } = await openStores();
    for (const id of ['../x', 'a/b', '', '.', 'a b', 'x'.repeat(129)])
      await expect(blobs.append(id, new Uint8Array(1))).rejects.toThrow(/invalid attachment blob id/);
  });

  it('should store neither the bytes nor the blob id readable, and delete every piece', async () => {
    const { db, blobs } = await openStores();
    const marker = Buffer.from('COVE-BLOB-MARKER-'.repeat(4000));
    await blobs.append('visible-blob-id-123', marker);
    const chunks = await db.getAll('blobChunks');
    expect(chunks.length).toBeGreaterThan(0);
    const dump = Buffer.concat(chunks.map((c) => Buffer.concat([Buffer.from(JSON.stringify([c.b, c.o])), c.data])));
    expect(dump.includes(Buffer.from('COVE-BLOB-MARKER'))).toBe(false);
    const rows = await db.getAll('rows');
    const rowDump = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from(r.id + r.t), r.data])));
    expect(rowDump.includes(Buffer.from('visible-blob-id-123'))).toBe(false);
    await blobs.delete('visible-blob-id-123');
    expect(await db.getAll('blobChunks')).toHaveLength(0);
  });

  it('should refuse a piece moved to another offset or missing', async () => {
    const { db, blobs } = await openStores();
    await blobs.append('b1', randomBytes(PIECE_BYTES * 2 + 10));
    const chunks = await db.getAll('blobChunks');
    const [c0, c1] = chunks;
    if (!c0 || !c1) throw new Error('expected pieces');
    // The second piece's ciphertext placed where the first one was: its offset is bound, so it does not open.
    await db.put('blobChunks', { ...c1, o: c0.o });
    await expect(collect(blobs.read('b1'))).rejects.toThrow(BlobCorruptError);
    await db.put('blobChunks', c0);
    await db.delete('blobChunks', [c1.b, c1.o]);
    await expect(collect(blobs.read('b1'))).rejects.toThrow(BlobCorruptError);
  });

  it('should keep blobs readable after a passphrase re-keys the vault', async () => {
    const name = `cove-blob-rekey-${Date.now()}`;
    const { db, keys, rows, blobs } = await openStores(name);
    const bytes = randomBytes(200_000);
    await blobs.append('r1', bytes);
    const next = await setPassphrase(db, keys, 'correct horse battery', (k) => rows.rekeyed(k));
    // A fresh context (as after a reload) opens the blob's row under the new keys.
    const unlocked = await unlockVault(db, 'correct horse battery');
    expect(unlocked.epoch).toBe(next.epoch);
    const fresh = new EncryptedBlobStore(
      db,
      new EncryptedRowStore(db, unlocked, () => loadVaultKeys(db), `l2-${name}`),
    );
    expect(Buffer.compare(await collect(fresh.read('r1')), bytes)).toBe(0);
    expect(await fresh.size('r1')).toBe(bytes.length);
  });
});
