/**
 * The Node `AttachmentBlobStore`: one file per blob under `<data dir>/attachments-blobs/`, owner-only (0700
 * directory, 0600 files). It stores ciphertext exactly as uploaded or downloaded; decrypted files are written only by
 * the CLI, where the user asked. Appends are fsynced before they resolve so a restart resumes from what is on disk.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';

import { checkBlobId } from '../attachments/blob-id.js';
import type { AttachmentBlobStore } from '../platform.js';

export const BLOB_DIRECTORY = 'attachment-blobs';

/**
 * Bytes per read from a blob file: 1 MiB instead of the stream default of 64 KiB, so a 4 MiB upload piece is four
 * reads and the decryptor mostly gets whole 256 KiB chunks to work on in place rather than pieces to copy together.
 */
const READ_BYTES = 1024 * 1024;

export const createFileBlobStore = (dataDir: string): AttachmentBlobStore => {
  const dir = path.join(dataDir, BLOB_DIRECTORY);
  let made = false;
  const fileOf = async (id: string): Promise<string> => {
    checkBlobId(id);
    if (!made) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      made = true;
    }
    return path.join(dir, id);
  };
  return {
    async append(id, bytes) {
      const handle = await fs.open(await fileOf(id), 'a', 0o600);
      try {
        await handle.write(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    async *read(id, options = {}) {
      const file = await fileOf(id);
      const start = options.offset ?? 0;
      if (options.length === 0) return;
      const stream = createReadStream(file, {
        highWaterMark: READ_BYTES,
        start,
        ...(options.length === undefined ? {} : { end: start + options.length - 1 }),
      });
      for await (const chunk of stream) yield new Uint8Array(chunk as Buffer);
    },
    async size(id) {
      try {
        return (await fs.stat(await fileOf(id))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async truncate(id, length) {
      await fs.truncate(await fileOf(id), length).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    },
    async delete(id) {
      await fs.rm(await fileOf(id), { force: true });
    },
  };
};
