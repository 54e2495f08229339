/**
 * The IndexedDB schema of the Cove PWA as an append-only list of migrations: version N of the database is the
 * result of running the first N entries in order. Entries are never edited or removed once shipped; a change is a
 * new entry. This module only describes shape (object stores and indexes); it holds no data logic and no crypto.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';

/** One encrypted row. `key` is chosen by the caller and stays readable so rows can be ranged; `data` is sealed. */
export type SealedRow = {
  /** Logical table, e.g. `sessions` or `messages`. */
  store: string;
  /** Row key inside the logical table; ordered as a string, so callers use sortable keys. */
  key: string;
  /** AES-GCM nonce, 12 bytes. */
  iv: Uint8Array;
  /** AES-GCM ciphertext of the JSON-encoded value, with the row's identity as additional data. */
  data: Uint8Array;
};

export interface CoveSchema extends DBSchema {
  /** Non-secret configuration and the vault header (wrapped or non-extractable data key). */
  meta: { key: string; value: unknown };
  /** Every record that holds keys, sessions, contacts or messages, encrypted at rest. */
  records: { key: [string, string]; value: SealedRow; indexes: { 'by-store': string } };
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
];

/** The current schema version: one per migration. */
export const SCHEMA_VERSION = MIGRATIONS.length;
