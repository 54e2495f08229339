/**
 * Files the CLI reads and writes for attachments: the content type of a file to send (from its extension), and
 * saving a received attachment's plaintext under a directory with a SAFE name — never a path from the sender: the
 * name is reduced to letters, digits, `.`, `-`, `_` and spaces, without leading dots, bounded in length, and an
 * existing file is never overwritten (a ` (n)` suffix is added). The plaintext goes to a hidden temporary file first
 * and gets its name only once all of it verified and was written, so a failure leaves no partial file. A saved copy is
 * removed (with its message) only while it is still the file that was written. It has no messaging logic.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.zip': 'application/zip',
  '.json': 'application/json',
  '.mp4': 'video/mp4',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.weba': 'audio/webm',
};

/** The MIME type for a file name's extension; `application/octet-stream` when unknown. */
export const contentTypeOf = (fileName: string): string =>
  CONTENT_TYPES[path.extname(fileName).toLowerCase()] ?? 'application/octet-stream';

/** Saved names stay well under every file system's 255-byte limit, with room for a ` (n)` suffix. */
const MAX_SAVED_NAME_CHARS = 100;

/** A file name that is safe to create in a directory, whatever the sender wrote. */
export const safeFileName = (proposed: string | null, contentType: string): string => {
  let name = (proposed ?? '')
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}._\- ]/gu, '_')
    .replace(/^[.\s]+/u, '')
    .trim();
  if (name.length > MAX_SAVED_NAME_CHARS) {
    const ext = path.extname(name).slice(0, 16);
    name = name.slice(0, MAX_SAVED_NAME_CHARS - ext.length) + ext;
  }
  if (name === '' || name === '.' || name === '..') {
    const ext = Object.entries(CONTENT_TYPES).find(([, type]) => type === contentType)?.[0] ?? '';
    name = `attachment${ext}`;
  }
  return name;
};

export type SavedFile = { path: string; size: number; sha256: string };

/** Writes `plaintext` under `dir` with a safe, new name; nothing is left behind if reading it fails. */
export const saveAttachmentFile = async (
  dir: string,
  proposed: string | null,
  contentType: string,
  plaintext: AsyncIterable<Uint8Array>,
): Promise<SavedFile> => {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.cove-partial-${randomBytes(8).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    try {
      for await (const piece of plaintext) {
        await handle.write(piece);
        hash.update(piece);
        size += piece.length;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const name = safeFileName(proposed, contentType);
    const ext = path.extname(name);
    const stem = name.slice(0, name.length - ext.length);
    for (let n = 0; ; n += 1) {
      const candidate = path.join(dir, n === 0 ? name : `${stem} (${n})${ext}`);
      try {
        // link() refuses an existing name: never overwrites, even against a file created meanwhile.
        await fs.link(temp, candidate);
        return { path: candidate, size, sha256: hash.digest('hex') };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || n > 10_000) throw error;
      }
    }
  } finally {
    await fs.rm(temp, { force: true });
  }
};

/**
 * Removes a saved copy when the file at its path is still that copy (same size and SHA-256): a file the user
 * replaced or edited since is left alone. True when it was removed.
 */
export const removeSavedCopy = async (copy: SavedFile): Promise<boolean> => {
  const stat = await fs.lstat(copy.path).catch(() => null);
  if (!stat?.isFile() || stat.size !== copy.size) return false;
  const hash = createHash('sha256');
  for await (const piece of createReadStream(copy.path)) hash.update(piece as Buffer);
  if (hash.digest('hex') !== copy.sha256) return false;
  await fs.rm(copy.path, { force: true });
  return true;
};
