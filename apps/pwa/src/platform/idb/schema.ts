/**
 * The IndexedDB schema of the Cove PWA as an append-only list of migrations: version N of the database is the
 * result of running the first N entries in order. Entries are never edited or removed once shipped; a change is a
 * new entry. This module only describes shape (object stores and indexes); it holds no data logic and no crypto.
 * Moving data between shapes needs the vault key, so it happens after opening, under the vault lock (vault.ts).
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';

/**
 * One encrypted row (schema version 2 on). Nothing in it is readable: `id`, `t` and `p` are keyed hashes (see
 * row-cipher.ts), `data` seals the core's table and real key with the value.
 */
export type EncryptedRow = {
  /** HMAC of the core's table and key: the IndexedDB key. */
  id: string;
  /** HMAC of the table: lists and counts a table. */
  t: string;
  /** HMAC of the key's partition (a conversation, a contact's sessions), for tables listed by key prefix. */
  p?: string;
  /** The key epoch the row was sealed in (vault.ts). */
  e: number;
  /** AES-GCM nonce, 12 bytes. */
  iv: Uint8Array;
  /** AES-GCM ciphertext of `{ t: table, k: key, v: value }`, with the id and epoch as additional data. */
  data: Uint8Array;
};

/**
 * One piece of a locally stored attachment blob (schema version 3 on), sealed with that blob's own AES-GCM key,
 * which lives only in the blob's row of the encrypted row store (encrypted-blob-store.ts). `b` is a random
 * reference (not the blob's id), `o` the offset of the piece's first byte in the blob.
 */
export type BlobChunk = {
  /** Random 128-bit reference of the blob, hex. */
  b: string;
  /** Offset of this piece in the blob. */
  o: number;
  /** AES-GCM nonce, 12 bytes. */
  iv: Uint8Array;
  /** AES-GCM ciphertext of the piece, the reference and offset bound as additional data. */
  data: Uint8Array;
};

/** A row as schema version 1 stored it (table and key readable); only read to migrate it. */
export type LegacyRow = { store: string; key: string; iv: Uint8Array; data: Uint8Array };

export interface CoveSchema extends DBSchema {
  /** Non-secret configuration and the vault header (wrapped or non-extractable keys, key epoch). */
  meta: { key: string; value: unknown };
  /** Version 1 rows, readable keys; emptied by the migration to `rows`, kept so older data is never lost. */
  records: { key: [string, string]; value: LegacyRow; indexes: { 'by-store': string } };
  /** Every record that holds keys, sessions, contacts or messages, encrypted at rest under opaque keys. */
  rows: { key: string; value: EncryptedRow; indexes: { 'by-table': string; 'by-part': string } };
  /** Attachment ciphertext stored on this device, in sealed pieces keyed by [blob reference, offset]. */
  blobChunks: { key: [string, number]; value: BlobChunk };
}

export type CoveDatabase = IDBPDatabase<CoveSchema>;
type UpgradeTransaction = IDBPTransaction<CoveSchema, StoreNames<CoveSchema>[], 'versionchange'>;
export type Migration = (db: CoveDatabase, tx: UpgradeTransaction) => void;

/** The migrations, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  // v1: the vault/meta store and the sealed record store.
  (db) => {
    db.createObjectStore('meta');
    const records = db.createObjectStore('records', { keyPath: ['store', 'key'] });
    records.createIndex('by-store', 'store');
  },
  // v2: rows under keyed-hash ids, with table and partition tags to list them; `records` is migrated on unlock.
  (db) => {
    const rows = db.createObjectStore('rows', { keyPath: 'id' });
    rows.createIndex('by-table', 't');
    rows.createIndex('by-part', 'p');
  },
  // v3: attachment blobs, in sealed pieces (encrypted-blob-store.ts).
  (db) => {
    db.createObjectStore('blobChunks', { keyPath: ['b', 'o'] });
  },
];

/** The current schema version: one per migration. */
export const SCHEMA_VERSION = MIGRATIONS.length;
