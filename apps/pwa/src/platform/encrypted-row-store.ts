/**
 * A transactional key-value store over IndexedDB in which every row is sealed with the vault's data key and stored
 * under an opaque keyed-hash id (row-cipher.ts): IndexedDB sees no table name, key, order or time.
 *
 * IndexedDB commits a transaction as soon as control returns to the event loop with no request pending, so no
 * WebCrypto call may sit inside one. Commits follow the read → compute → write pattern instead: every write is
 * sealed first, then all of them are applied in ONE IndexedDB transaction, so an operation commits entirely or not
 * at all. Each commit holds the vault lock shared (locks.ts) and, inside its transaction, checks that the vault is
 * still in the epoch of the keys it sealed with: a context holding keys discarded by a re-key (another tab set a
 * passphrase) never writes under them; it reloads the keys and retries, or fails with `VaultLockedError` when the
 * vault now needs its passphrase. Reads of rows from another epoch do the same. Isolation between writers comes
 * from the core's locks. Listeners hear of a commit only after it is durable.
 *
 * Listing reads the rows of a table (or, for a key prefix that is a partition, of that partition), learns their
 * keys by opening them (an id's key never changes, so it is remembered), and orders them in memory; only the page
 * asked for is opened in full. A row whose nonce matches one this context already opened is not decrypted again:
 * a fresh random nonce per write makes the nonce a version stamp. Reads asked for together share one readonly
 * transaction, in which a row or table asked for twice is fetched once; nothing read is served from memory across
 * transactions (another tab may have committed since). It does not define what the tables mean; the messenger core
 * does.
 */
import type { IDBPObjectStore } from 'idb';
import type { CoveDatabase, CoveSchema, EncryptedRow } from './idb/schema.js';
import { withLock, withSharedLock, STORE_LOCK, VAULT_LOCK } from './locks.js';
import { isPartitionPrefix, openRow, partitionTag, rowId, sealRow, tableTag } from './row-cipher.js';
import { headerEpoch, StaleKeyError, VAULT_HEADER_KEY, VaultLockedError, vaultEpoch, type VaultKeys } from './vault.js';

export type ListOptions = {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Keys strictly after (or, when `reverse`, strictly before) this one. */
  after?: string;
  /** Newest (greatest key) first. */
  reverse?: boolean;
  limit?: number;
};

export type Entry<T> = { key: string; value: T };

/** The view a transaction callback gets: reads see the transaction's own writes. */
export interface RowStoreTransaction {
  get<T>(store: string, key: string): Promise<T | undefined>;
  list<T>(store: string, options?: ListOptions): Promise<Entry<T>[]>;
  put(store: string, key: string, value: unknown): void;
  delete(store: string, key: string): void;
}

export type BatchWrite =
  { op: 'put'; store: string; key: string; value: unknown } | { op: 'delete'; store: string; key: string };

export type CommitListener = (stores: ReadonlySet<string>) => void;

/** Where a context gets the vault's keys again after a re-key: the keys, or `'locked'` (a passphrase is needed). */
export type KeyLoader = () => Promise<VaultKeys | 'locked'>;

const cell = (store: string, key: string): string => `${store}\u0000${key}`;

/** Opened rows remembered per context: enough for a long chat page and the protocol state, a few MB at most. */
const OPENED_CACHE_ENTRIES = 2_000;
/**
 * Keys of row ids remembered per context, to order a table or partition without opening every row again: one
 * short string per row, a few MB for the largest histories.
 */
const KEY_CACHE_ENTRIES = 200_000;
/** A commit or read refused for a stale epoch is retried this often with reloaded keys (each re-key is one bump). */
const STALE_RETRIES = 3;

/**
 * Microtask hops a read waits for others before its transaction opens: enough for the reads of one `Promise.all`
 * (each first awaits its cached row id), and free, since no macrotask runs in between.
 */
const READ_GATHER_HOPS = 4;

const settle = async (hops: number): Promise<void> => {
  for (let i = 0; i < hops; i++) await Promise.resolve();
};

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

type RowsStore = IDBPObjectStore<CoveSchema, ['meta', 'rows'], 'rows', 'readonly'>;
type QueuedRead = {
  keys: VaultKeys;
  fn: (rows: RowsStore) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};
type PendingWrite = { store: string; key: string; value?: unknown; deleted: boolean };
type EncryptedWrite = PendingWrite & { id: string; row: EncryptedRow | null };

export class EncryptedRowStore {
  private readonly listeners = new Set<CommitListener>();
  private readonly opened = new Map<string, { iv: Uint8Array; key: string; value: unknown }>();
  private readonly keyOfId = new Map<string, string>();
  private queuedReads: QueuedRead[] = [];
  /**
   * The reads queued for the next transaction, by what they read (an index and tag, or a row id): the views reload
   * together and ask for the same table or row several times at once (the list, its summaries and the unread count
   * each list `meta` and `conversations`); in one snapshot each is fetched once and every asker gets the same rows.
   */
  private sharedReads = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: CoveDatabase,
    private keys: VaultKeys,
    private readonly reload: KeyLoader = () => Promise.resolve('locked'),
    private readonly lockName: string = STORE_LOCK,
  ) {}

  /** Replaces the keys after the vault was re-keyed (passphrase set) by this context. */
  rekeyed(keys: VaultKeys): void {
    this.keys = keys;
    this.opened.clear();
    this.keyOfId.clear();
  }

  /** The keys, for re-keying the vault (they are non-extractable: usable, never readable). */
  currentKeys(): VaultKeys {
    return this.keys;
  }

  /**
   * Runs `attempt` with the current keys; when it meets another epoch, gets the vault's keys again (those another
   * context installed) and retries. Throws `VaultLockedError` when the vault now needs its passphrase.
   */
  private async withFreshKeys<R>(attempt: (keys: VaultKeys) => Promise<R>): Promise<R> {
    for (let tries = 0; ; tries++) {
      const keys = this.keys;
      try {
        return await attempt(keys);
      } catch (error) {
        if (!(error instanceof StaleKeyError) || tries >= STALE_RETRIES) throw error;
        if (this.keys !== keys) continue; // this context re-keyed meanwhile: simply retry
        const held = await vaultEpoch(this.db);
        if (held === keys.epoch) throw error; // the vault did not move: a row from another epoch, not stale keys
        const reloaded = await this.reload();
        if (reloaded === 'locked') throw new VaultLockedError();
        if (this.keys === keys) this.rekeyed(reloaded);
      }
    }
  }

  private rememberKey(id: string, key: string): void {
    if (this.keyOfId.size >= KEY_CACHE_ENTRIES) this.keyOfId.clear();
    this.keyOfId.set(id, key);
  }

  private remember(row: EncryptedRow, key: string, value: unknown): void {
    this.opened.delete(row.id);
    this.opened.set(row.id, { iv: row.iv, key, value });
    this.rememberKey(row.id, key);
    if (this.opened.size > OPENED_CACHE_ENTRIES) {
      const oldest = this.opened.keys().next().value;
      if (oldest !== undefined) this.opened.delete(oldest);
    }
  }

  /** Decrypts a row, or reuses what this context opened for the same row version. Returns a private copy. */
  private async open<T>(keys: VaultKeys, store: string, row: EncryptedRow): Promise<Entry<T>> {
    if (row.e !== keys.epoch) throw new StaleKeyError(keys.epoch, row.e);
    const known = this.opened.get(row.id);
    if (known && sameBytes(known.iv, row.iv)) return { key: known.key, value: structuredClone(known.value) as T };
    const { key, value } = await openRow<T>(keys, row, store);
    this.remember(row, key, structuredClone(value));
    return { key, value };
  }

  /** Registers a listener called after each commit with the names of the tables it changed. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs one IndexedDB read on `rows` in a transaction that also reads the vault header, so a context whose keys
   * belong to another epoch learns it (`StaleKeyError`) instead of finding nothing under ids its old index key names.
   * Reads asked for together (within a few microtasks: the core's `Promise.all` of independent reads) share ONE
   * readonly transaction: on a busy machine each transaction costs milliseconds, however small its reads are.
   */
  private read<R>(keys: VaultKeys, fn: (rows: RowsStore) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queuedReads.push({ keys, fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.queuedReads.length === 1) void settle(READ_GATHER_HOPS).then(() => this.flushReads());
    });
  }

  /**
   * `read`, but one asked for with the same `what` (and keys) while it waits for its transaction joins it: the same
   * snapshot, so the same answer. The rows are shared and never changed by their readers (they only open copies).
   */
  private readOnce<R>(keys: VaultKeys, what: string, fn: (rows: RowsStore) => Promise<R>): Promise<R> {
    const cell = `${keys.epoch}\u0000${what}`;
    const queued = this.sharedReads.get(cell);
    if (queued) return queued as Promise<R>;
    const read = this.read(keys, fn);
    this.sharedReads.set(cell, read);
    return read;
  }

  /** Runs every queued read in one readonly transaction, then answers each (or fails each with the epoch error). */
  private async flushReads(): Promise<void> {
    const batch = this.queuedReads;
    this.queuedReads = [];
    this.sharedReads = new Map();
    try {
      const tx = this.db.transaction(['meta', 'rows'], 'readonly');
      const rows = tx.objectStore('rows');
      const [header, results] = await Promise.all([
        tx.objectStore('meta').get(VAULT_HEADER_KEY),
        Promise.all(
          batch.map((q) =>
            q.fn(rows).then(
              (value) => ({ ok: true as const, value }),
              (error: unknown) => ({ ok: false as const, error }),
            ),
          ),
        ),
        tx.done,
      ]);
      const held = headerEpoch(header);
      batch.forEach((q, i) => {
        const result = results[i];
        if (held !== q.keys.epoch) q.reject(new StaleKeyError(q.keys.epoch, held));
        else if (result?.ok) q.resolve(result.value);
        else q.reject(result?.error);
      });
    } catch (error) {
      for (const q of batch) q.reject(error);
    }
  }

  /** Reads one value outside any transaction (no lock: a committed snapshot). */
  get<T>(store: string, key: string): Promise<T | undefined> {
    return this.withFreshKeys(async (keys) => {
      const id = await rowId(keys.index, store, key);
      const row = await this.readOnce(keys, `id\u0000${id}`, (rows) => rows.get(id));
      return row ? (await this.open<T>(keys, store, row)).value : undefined;
    });
  }

  /** Lists values outside any transaction (no lock: a committed snapshot), in key order. */
  list<T>(store: string, options: ListOptions = {}): Promise<Entry<T>[]> {
    return this.withFreshKeys(async (keys) => {
      const selected = await this.select(keys, store, options);
      return Promise.all(selected.map((row) => this.open<T>(keys, store, row)));
    });
  }

  /** The rows of `store` (or of the partition `prefix` names) that a list with `options` returns, in order. */
  private async select(keys: VaultKeys, store: string, options: ListOptions): Promise<EncryptedRow[]> {
    const rows = await this.scope(keys, store, options.prefix ?? '');
    const keyed = await Promise.all(rows.map(async (row) => ({ row, key: await this.keyOf(keys, store, row) })));
    const prefix = options.prefix ?? '';
    const after = options.after;
    const matching = keyed.filter(
      ({ key }) => key.startsWith(prefix) && (after === undefined || (options.reverse ? key < after : key > after)),
    );
    matching.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (options.reverse) matching.reverse();
    const limited = options.limit === undefined ? matching : matching.slice(0, Math.max(options.limit, 0));
    return limited.map((k) => k.row);
  }

  /** Every row of the table, or of one partition when the prefix is exactly a partition (one index read). */
  private async scope(keys: VaultKeys, store: string, prefix: string): Promise<EncryptedRow[]> {
    if (isPartitionPrefix(store, prefix)) {
      const part = await partitionTag(keys.index, store, prefix);
      return this.readOnce(keys, `part\u0000${part}`, (rows) => rows.index('by-part').getAll(part));
    }
    const table = await tableTag(keys.index, store);
    return this.readOnce(keys, `table\u0000${table}`, (rows) => rows.index('by-table').getAll(table));
  }

  /** A row's key: remembered from an earlier opening (an id always names the same key), or learned by opening it. */
  private async keyOf(keys: VaultKeys, store: string, row: EncryptedRow): Promise<string> {
    if (row.e !== keys.epoch) throw new StaleKeyError(keys.epoch, row.e);
    const known = this.keyOfId.get(row.id);
    if (known !== undefined) return known;
    return (await this.open(keys, store, row)).key;
  }

  /** Counts rows of a table (optionally under a key prefix), without decrypting when the prefix is a partition. */
  count(store: string, prefix = ''): Promise<number> {
    return this.withFreshKeys(async (keys) => {
      if (prefix === '') {
        const table = await tableTag(keys.index, store);
        return this.read(keys, (rows) => rows.index('by-table').count(table));
      }
      if (isPartitionPrefix(store, prefix)) {
        const part = await partitionTag(keys.index, store, prefix);
        return this.read(keys, (rows) => rows.index('by-part').count(part));
      }
      return (await this.select(keys, store, { prefix })).length;
    });
  }

  /**
   * Runs `fn` under the store lock and commits its writes atomically. If `fn` throws, nothing is written and the
   * error propagates. Returns what `fn` returns.
   */
  async transaction<T>(fn: (tx: RowStoreTransaction) => T | Promise<T>): Promise<T> {
    return withLock(this.lockName, async () => {
      const writes = new Map<string, PendingWrite>();
      const view: RowStoreTransaction = {
        get: async <V>(store: string, key: string) => {
          const pending = writes.get(cell(store, key));
          if (pending) return pending.deleted ? undefined : (structuredClone(pending.value) as V);
          return this.get<V>(store, key);
        },
        list: async <V>(store: string, options: ListOptions = {}) => {
          const committed = await this.list<V>(store, { ...options, limit: undefined });
          const merged = new Map(committed.map((e) => [e.key, e.value] as const));
          const prefix = options.prefix ?? '';
          for (const w of writes.values()) {
            if (w.store !== store || !w.key.startsWith(prefix)) continue;
            if (w.deleted) merged.delete(w.key);
            else merged.set(w.key, structuredClone(w.value) as V);
          }
          let keys = [...merged.keys()].sort();
          if (options.reverse) keys.reverse();
          if (options.after !== undefined) {
            const after = options.after;
            keys = keys.filter((k) => (options.reverse ? k < after : k > after));
          }
          if (options.limit !== undefined) keys = keys.slice(0, options.limit);
          return keys.map((key) => ({ key, value: merged.get(key) as V }));
        },
        put: (store, key, value) => {
          writes.set(cell(store, key), { store, key, value: structuredClone(value), deleted: false });
        },
        delete: (store, key) => {
          writes.set(cell(store, key), { store, key, value: undefined, deleted: true });
        },
      };
      const result = await fn(view);
      if (writes.size > 0) await this.commit([...writes.values()]);
      return result;
    });
  }

  /**
   * Seals and applies puts and deletes atomically, in order (a later write to the same row wins), in ONE
   * IndexedDB transaction; nothing is applied if any step fails. The caller provides isolation (a lock).
   */
  async apply(batch: readonly BatchWrite[]): Promise<void> {
    const last = new Map<string, BatchWrite>();
    for (const w of batch) {
      last.delete(cell(w.store, w.key));
      last.set(cell(w.store, w.key), w);
    }
    await this.commit([...last.values()].map((w) => ({ ...w, deleted: w.op === 'delete' })));
  }

  private async commit(writes: PendingWrite[]): Promise<void> {
    const sealed = await this.withFreshKeys((keys) => withSharedLock(VAULT_LOCK, () => this.commitOnce(keys, writes)));
    for (const w of sealed) {
      if (w.row) this.remember(w.row, w.key, structuredClone(w.value));
      else this.opened.delete(w.id);
    }
    const stores = new Set(writes.map((w) => w.store));
    for (const listener of this.listeners) listener(stores);
  }

  /** One attempt: seal with `keys`, then write everything in one transaction that first checks the epoch. */
  private async commitOnce(keys: VaultKeys, writes: PendingWrite[]): Promise<EncryptedWrite[]> {
    const sealed = await Promise.all(
      writes.map(async (w): Promise<EncryptedWrite> => {
        if (w.deleted) return { ...w, id: await rowId(keys.index, w.store, w.key), row: null };
        const row = await sealRow(keys, w.store, w.key, w.value);
        return { ...w, id: row.id, row };
      }),
    );
    const tx = this.db.transaction(['meta', 'rows'], 'readwrite');
    const held = headerEpoch(await tx.objectStore('meta').get(VAULT_HEADER_KEY));
    if (held !== keys.epoch) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw new StaleKeyError(keys.epoch, held);
    }
    const rows = tx.objectStore('rows');
    for (const w of sealed) {
      if (w.row) void rows.put(w.row);
      else void rows.delete(w.id);
    }
    await tx.done;
    return sealed;
  }
}
