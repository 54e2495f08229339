/**
 * The core's `AttachmentBlobStore` in IndexedDB, encrypted at rest like every row: a blob's ciphertext (already
 * encrypted by its attachment key, format v1) is stored again sealed, in pieces of at most `PIECE_BYTES`, so a
 * 100 MiB file is never held whole in memory when it is written or read.
 *
 * Each blob has one row in the encrypted row store (table `attachmentBlobs`, key = the blob id): a random 128-bit
 * reference and a fresh AES-256-GCM key, sealed with the vault's data key under a keyed-hash id like any message.
 * Its pieces live in the `blobChunks` object store under [reference, offset], sealed with that blob key (the
 * reference and offset bound as additional data, so a piece cannot be moved). Without the vault keys nothing links
 * a piece to a blob id, a message or the server's copy; setting a passphrase re-seals the blob rows with the
 * messages (vault.ts), and the pieces stay valid because their key lives only in those rows.
 *
 * What IndexedDB shows: the number and sizes of pieces per (unnamed) blob — the blob's size, as the server knows
 * it too. Writers to one blob are serialized across tabs and the service worker by a Web Lock per blob. It does
 * not decrypt attachments (the core does, from the ciphertext read here) and holds no plaintext of any file.
 */
import type { AttachmentBlobStore } from '@cove/client';
import type { EncryptedRowStore } from './encrypted-row-store.js';
import type { BlobChunk, CoveDatabase } from './idb/schema.js';
import { withLock } from './locks.js';

/** The core's table-like name of the blob rows in the encrypted row store (not one of the core's tables). */
export const BLOB_TABLE = 'attachmentBlobs';
/**
 * Largest piece sealed and stored at once: big enough that per-record overhead (a 12-byte nonce, a 16-byte tag, one
 * IndexedDB record) stays far below 1 %, small enough that reading or writing one costs little memory.
 */
export const PIECE_BYTES = 1024 * 1024;
/** AES-GCM's tag, appended to every sealed piece. */
const TAG_BYTES = 16;
/** AES-GCM's standard nonce; a fresh random one per piece (a blob key seals at most a few thousand pieces). */
const IV_BYTES = 12;
/** The core's blob id alphabet (platform.ts AttachmentBlobStore). */
const BLOB_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Larger than any offset a blob can reach (2 GiB attachments): the upper end of a blob's key range. */
const END_OFFSET = Number.MAX_SAFE_INTEGER;

/** The sealed row naming one blob's pieces and their key. */
type BlobRow = { ref: string; key: Uint8Array };
type BlobHandle = { ref: string; key: CryptoKey };

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const aad = (ref: string, offset: number): Uint8Array<ArrayBuffer> =>
  encoder.encode(`cove:blob:v1\u0000${ref}\u0000${offset}`);

const checkId = (id: string): void => {
  if (!BLOB_ID.test(id)) throw new Error('invalid attachment blob id');
};

/** Thrown when a blob's stored pieces do not join up (a piece missing or changed outside the app). */
export class BlobCorruptError extends Error {
  constructor() {
    super('a stored attachment blob is damaged');
    this.name = 'BlobCorruptError';
  }
}

export class EncryptedBlobStore implements AttachmentBlobStore {
  /** Opened blob keys by blob id: a blob's key never changes while it exists. */
  private readonly handles = new Map<string, BlobHandle>();

  constructor(
    private readonly db: CoveDatabase,
    private readonly rows: EncryptedRowStore,
  ) {}

  private async handle(id: string, create: boolean): Promise<BlobHandle | null> {
    const known = this.handles.get(id);
    if (known) return known;
    let row = await this.rows.get<BlobRow>(BLOB_TABLE, id);
    if (!row) {
      if (!create) return null;
      row = { ref: hex(crypto.getRandomValues(new Uint8Array(16))), key: crypto.getRandomValues(new Uint8Array(32)) };
      await this.rows.apply([{ op: 'put', store: BLOB_TABLE, key: id, value: row }]);
    }
    const key = await crypto.subtle.importKey('raw', row.key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    row.key.fill(0);
    const handle = { ref: row.ref, key };
    this.handles.set(id, handle);
    return handle;
  }

  private range(ref: string, from = 0, to = END_OFFSET): IDBKeyRange {
    return IDBKeyRange.bound([ref, from], [ref, to]);
  }

  /** The last piece of a blob, or of its bytes before `before` (exclusive of pieces starting at or after it). */
  private async lastPiece(ref: string, atOrBelow = END_OFFSET): Promise<BlobChunk | undefined> {
    const tx = this.db.transaction('blobChunks', 'readonly');
    const cursor = await tx.store.openCursor(this.range(ref, 0, atOrBelow), 'prev');
    const value = cursor?.value;
    await tx.done;
    return value;
  }

  private async seal(handle: BlobHandle, offset: number, bytes: Uint8Array): Promise<BlobChunk> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const data = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: aad(handle.ref, offset) },
      handle.key,
      bytes as Uint8Array<ArrayBuffer>,
    );
    return { b: handle.ref, o: offset, iv, data: new Uint8Array(data) };
  }

  private async open(handle: BlobHandle, chunk: BlobChunk): Promise<Uint8Array> {
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: chunk.iv as Uint8Array<ArrayBuffer>, additionalData: aad(handle.ref, chunk.o) },
        handle.key,
        chunk.data as Uint8Array<ArrayBuffer>,
      );
      return new Uint8Array(plain);
    } catch {
      throw new BlobCorruptError();
    }
  }

  private static end(chunk: BlobChunk): number {
    return chunk.o + chunk.data.length - TAG_BYTES;
  }

  /** Runs `fn` holding this blob's lock, shared by every tab and the service worker (the id is checked inside). */
  private exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return withLock(`cove:blob:${id.slice(0, 200)}`, fn);
  }

  append(id: string, bytes: Uint8Array): Promise<void> {
    return this.exclusive(id, async () => {
      checkId(id);
      const handle = await this.handle(id, true);
      if (!handle || bytes.length === 0) return;
      const last = await this.lastPiece(handle.ref);
      let offset = last ? EncryptedBlobStore.end(last) : 0;
      // Sealed first, then written in one transaction: IndexedDB would commit early across a WebCrypto await.
      const sealed: BlobChunk[] = [];
      for (let at = 0; at < bytes.length; at += PIECE_BYTES) {
        const piece = bytes.subarray(at, Math.min(bytes.length, at + PIECE_BYTES));
        sealed.push(await this.seal(handle, offset, piece));
        offset += piece.length;
      }
      const tx = this.db.transaction('blobChunks', 'readwrite');
      for (const chunk of sealed) void tx.store.put(chunk);
      await tx.done;
    });
  }

  async *read(id: string, options: { offset?: number; length?: number } = {}): AsyncIterable<Uint8Array> {
    checkId(id);
    const handle = await this.handle(id, false);
    if (!handle) throw new Error('no such attachment blob');
    const start = Math.max(0, options.offset ?? 0);
    const last = await this.lastPiece(handle.ref);
    const size = last ? EncryptedBlobStore.end(last) : 0;
    const end = options.length === undefined ? size : Math.min(size, start + Math.max(0, options.length));
    if (start >= end) return;
    const first = await this.lastPiece(handle.ref, start);
    if (!first) throw new BlobCorruptError();
    let at = first.o;
    while (at < end) {
      const chunk = await this.db.get('blobChunks', [handle.ref, at]);
      if (!chunk) throw new BlobCorruptError();
      const plain = await this.open(handle, chunk);
      const from = Math.max(0, start - at);
      const to = Math.min(plain.length, end - at);
      if (to > from) yield from === 0 && to === plain.length ? plain : plain.slice(from, to);
      if (plain.length === 0) throw new BlobCorruptError();
      at += plain.length;
    }
  }

  async size(id: string): Promise<number | null> {
    checkId(id);
    const handle = await this.handle(id, false);
    if (!handle) return null;
    const last = await this.lastPiece(handle.ref);
    return last ? EncryptedBlobStore.end(last) : 0;
  }

  truncate(id: string, length: number): Promise<void> {
    return this.exclusive(id, async () => {
      checkId(id);
      const handle = await this.handle(id, false);
      if (!handle) return;
      const cut = Math.max(0, length);
      const straddling = cut === 0 ? undefined : await this.lastPiece(handle.ref, cut - 1);
      let kept: BlobChunk | null = null;
      if (straddling && EncryptedBlobStore.end(straddling) > cut) {
        const plain = await this.open(handle, straddling);
        kept = await this.seal(handle, straddling.o, plain.subarray(0, cut - straddling.o));
      }
      const tx = this.db.transaction('blobChunks', 'readwrite');
      void tx.store.delete(this.range(handle.ref, kept ? kept.o : cut));
      if (kept) void tx.store.put(kept);
      await tx.done;
    });
  }

  delete(id: string): Promise<void> {
    return this.exclusive(id, async () => {
      checkId(id);
      const handle = await this.handle(id, false);
      if (!handle) return;
      // Pieces first, then the row: an interruption leaves an empty blob, never pieces nothing names.
      await this.db.delete('blobChunks', this.range(handle.ref));
      await this.rows.apply([{ op: 'delete', store: BLOB_TABLE, key: id }]);
      this.handles.delete(id);
    });
  }
}
