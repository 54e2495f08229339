/**
 * Seals and opens one IndexedDB row (WebCrypto), and names it without revealing what it is.
 *
 * A row of the core's table T with key K is stored under `id` = HMAC-SHA-256(index key, T, K) cut to 128 bits,
 * with `t` = HMAC(index key, T) so a table can be listed, and, for the few tables the core lists by key prefix,
 * `p` = HMAC(index key, T, P) where P is the key up to its first `/` or `.` (a conversation, a contact's sessions,
 * the pending expiries). The value and the real key K are sealed together with AES-256-GCM under the data key, the
 * id and the key epoch bound as additional data, so a row copied under another id, or sealed in another epoch,
 * fails to open. What IndexedDB shows is therefore: how many rows each (unnamed) table has, which rows share a
 * partition, each row's size, and the epoch; never a table name, an account id, a username, a time or an order.
 * The sealed payload also names the table, so re-keying can open every row without knowing the tables.
 * Version 1 rows (readable keys, one data key) are opened only to migrate them (`openLegacyRow`).
 * It does not manage keys (vault.ts) nor touch IndexedDB.
 */
import { decodeValue, encodeValue } from './codec.js';
import type { LegacyRow, EncryptedRow } from './idb/schema.js';

/** AES-GCM's standard nonce size; random nonces are safe far beyond the number of writes a device makes. */
const IV_BYTES = 12;
/**
 * Row ids, table and partition tags keep 128 of HMAC-SHA-256's 256 bits: collisions stay out of reach (2^64 rows
 * for even odds) and IndexedDB keys stay short.
 */
const TAG_BYTES = 16;
/** Tables the core lists by key prefix (platform.ts, history.ts); their rows also carry a partition tag. */
const PARTITIONED_TABLES: ReadonlySet<string> = new Set(['messages', 'sessions', 'kyberPreKeysUsed', 'meta']);
/** Ids computed per index key, so a hot row (a session, the account) is not hashed again on every read. */
const ID_CACHE_ENTRIES = 10_000;

/** The keys that seal and name rows, and the epoch they belong to (see vault.ts). */
export type VaultKeys = {
  /** AES-256-GCM, non-extractable. */
  readonly data: CryptoKey;
  /** HMAC-SHA-256, non-extractable: names rows. */
  readonly index: CryptoKey;
  /** Bumped by every re-key; every row and every commit is written under one epoch. */
  readonly epoch: number;
};

const encoder = new TextEncoder();

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const tagCache = new WeakMap<CryptoKey, Map<string, string>>();

async function tag(index: CryptoKey, input: string): Promise<string> {
  let cache = tagCache.get(index);
  if (!cache) {
    cache = new Map();
    tagCache.set(index, cache);
  }
  const known = cache.get(input);
  if (known !== undefined) return known;
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', index, encoder.encode(input)));
  const value = toBase64Url(mac.subarray(0, TAG_BYTES));
  if (cache.size >= ID_CACHE_ENTRIES) cache.clear();
  cache.set(input, value);
  return value;
}

/** The opaque IndexedDB key of row `key` of `table`. */
export const rowId = (index: CryptoKey, table: string, key: string): Promise<string> =>
  tag(index, `cove:row\u0000${table}\u0000${key}`);

/** The opaque tag shared by every row of `table`. */
export const tableTag = (index: CryptoKey, table: string): Promise<string> => tag(index, `cove:table\u0000${table}`);

/** The partition of a key: up to and including its first `/` or `.`, or null when it has neither. */
export function partitionOf(key: string): string | null {
  const at = key.search(/[/.]/);
  return at < 0 ? null : key.slice(0, at + 1);
}

/** Whether `list(table, { prefix })` can read just one partition: the prefix is exactly a partition. */
export const isPartitionPrefix = (table: string, prefix: string): boolean =>
  PARTITIONED_TABLES.has(table) && prefix.length > 0 && partitionOf(prefix) === prefix;

/** The opaque tag of a partition of `table` (see `partitionOf`). */
export const partitionTag = (index: CryptoKey, table: string, partition: string): Promise<string> =>
  tag(index, `cove:part\u0000${table}\u0000${partition}`);

function rowAad(id: string, epoch: number): Uint8Array<ArrayBuffer> {
  return encoder.encode(`cove:row:v2\u0000${id}\u0000${epoch}`);
}

/** Encrypts `value` as row `key` of `table` under `keys` (the payload is `{ t: table, k: key, v: value }`). */
export async function sealRow(keys: VaultKeys, table: string, key: string, value: unknown): Promise<EncryptedRow> {
  const partition = PARTITIONED_TABLES.has(table) ? partitionOf(key) : null;
  const [id, t, p] = await Promise.all([
    rowId(keys.index, table, key),
    tableTag(keys.index, table),
    partition === null ? Promise.resolve(undefined) : partitionTag(keys.index, table, partition),
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = encodeValue({ t: table, k: key, v: value }) as Uint8Array<ArrayBuffer>;
  const data = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: rowAad(id, keys.epoch) }, keys.data, plain),
  );
  plain.fill(0);
  return { id, t, ...(p === undefined ? {} : { p }), e: keys.epoch, iv, data };
}

/** Thrown when a row opens but names another table or key than its id says (a row moved or forged). */
export class RowMismatchError extends Error {
  constructor() {
    super('a stored row does not belong where it is stored');
    this.name = 'RowMismatchError';
  }
}

/** A row's content once opened: the core's table and key, and the value. */
export type OpenedRow<T> = { table: string; key: string; value: T };

/**
 * Decrypts a row and checks that it is the row its id names (and, when given, of `table`); returns its table, key
 * and value. Throws if it was tampered with, moved, or sealed under another key or epoch.
 */
export async function openRow<T>(keys: VaultKeys, row: EncryptedRow, table?: string): Promise<OpenedRow<T>> {
  const plain = new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: row.iv as Uint8Array<ArrayBuffer>, additionalData: rowAad(row.id, row.e) },
      keys.data,
      row.data as Uint8Array<ArrayBuffer>,
    ),
  );
  try {
    const opened = decodeValue<{ t?: unknown; k?: unknown; v: T }>(plain);
    const { t, k } = opened;
    if (typeof t !== 'string' || typeof k !== 'string' || (table !== undefined && t !== table))
      throw new RowMismatchError();
    if ((await rowId(keys.index, t, k)) !== row.id) throw new RowMismatchError();
    return { table: t, key: k, value: opened.v };
  } finally {
    plain.fill(0);
  }
}

/** Decrypts a schema-version-1 row (readable table and key, bound as additional data) for migration. */
export async function openLegacyRow(dataKey: CryptoKey, row: LegacyRow): Promise<unknown> {
  const aad = encoder.encode(`cove:row:v1\u0000${row.store}\u0000${row.key}`);
  const plain = new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: row.iv as Uint8Array<ArrayBuffer>, additionalData: aad },
      dataKey,
      row.data as Uint8Array<ArrayBuffer>,
    ),
  );
  try {
    return decodeValue<unknown>(plain);
  } finally {
    plain.fill(0);
  }
}
