/**
 * Local attachment blob ids: random, in the alphabet every blob store accepts (safe as a file name and an IndexedDB
 * key). It only makes and checks ids.
 */
import type { Random } from '../platform.js';

/** The storage-id alphabet of docs/attachments.md: safe in a URL path and a file name on every system. */
const BLOB_ID = /^[A-Za-z0-9_-]{1,128}$/;

export const checkBlobId = (id: string): void => {
  if (!BLOB_ID.test(id)) throw new Error('invalid attachment blob id');
};

/** 16 random bytes as hex: unguessable and collision-free for a device's lifetime. */
export const newBlobId = (random: Random): string =>
  Array.from(random.bytes(16), (b) => b.toString(16).padStart(2, '0')).join('');
