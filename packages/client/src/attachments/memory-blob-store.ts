/**
 * An in-memory `AttachmentBlobStore` (platform.ts): the reference implementation of the contract, for tests and for
 * platforms that have no durable blob storage yet. Blobs are lost with the process. It holds ciphertext only, like
 * every blob store; it does not encrypt, upload or decrypt.
 */
import type { AttachmentBlobStore } from '../platform.js';
import { checkBlobId } from './blob-id.js';

/** Pieces handed out by `read`: bounded so a reader never gets one huge copy. */
const READ_PIECE_BYTES = 256 * 1024;

export const createMemoryBlobStore = (): AttachmentBlobStore => {
  const blobs = new Map<string, Uint8Array[]>();
  const flatten = (id: string): Uint8Array => {
    const pieces = blobs.get(id) ?? [];
    const total = pieces.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    blobs.set(id, [out]);
    return out;
  };
  return {
    async append(id, bytes) {
      await Promise.resolve();
      checkBlobId(id);
      const pieces = blobs.get(id) ?? [];
      pieces.push(bytes.slice());
      blobs.set(id, pieces);
    },
    async *read(id, options = {}) {
      checkBlobId(id);
      if (!blobs.has(id)) throw new Error('no such attachment blob');
      const all = flatten(id);
      const start = options.offset ?? 0;
      const end = options.length === undefined ? all.length : Math.min(all.length, start + options.length);
      for (let at = start; at < end; at += READ_PIECE_BYTES) {
        yield all.slice(at, Math.min(end, at + READ_PIECE_BYTES));
        await Promise.resolve();
      }
    },
    async size(id) {
      await Promise.resolve();
      checkBlobId(id);
      return blobs.has(id) ? flatten(id).length : null;
    },
    async truncate(id, length) {
      await Promise.resolve();
      checkBlobId(id);
      if (blobs.has(id)) blobs.set(id, [flatten(id).slice(0, length)]);
    },
    async delete(id) {
      await Promise.resolve();
      checkBlobId(id);
      blobs.delete(id);
    },
  };
};
