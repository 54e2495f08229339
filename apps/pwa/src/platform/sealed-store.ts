/**
 * A transactional key-value store over IndexedDB in which every value is sealed with the vault's data key.
 *
 * IndexedDB commits a transaction as soon as control returns to the event loop with no request pending, so no
 * WebCrypto call may sit inside one. Transactions here follow the read → compute → write pattern instead: reads
 * are decrypted as the callback asks for them, writes are buffered, and at the end every write is sealed and all of
 * them are applied in ONE IndexedDB transaction, so an operation commits entirely or not at all. Isolation comes
 * from the cross-context store lock (locks.ts), which `transaction` holds for its whole duration. Listeners hear of
 * a commit only after it is durable. Every read still goes to IndexedDB (so it sees other tabs' writes), but a row
 * whose nonce matches one this context already opened is not decrypted again: a fresh random nonce per write makes
 * the nonce a version stamp. It does not define what the tables mean; the messenger core does.
 */
import type { CoveDatabase, SealedRow } from './idb/schema.js';
import { withLock, STORE_LOCK } from './locks.js';
import { openRow, sealRow } from './row-cipher.js';

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
export interface SealedTransaction {
  get<T>(store: string, key: string): Promise<T | undefined>;
  list<T>(store: string, options?: ListOptions): Promise<Entry<T>[]>;
  put(store: string, key: string, value: unknown): void;
  delete(store: string, key: string): void;
}

export type BatchWrite =
  { op: 'put'; store: string; key: string; value: unknown } | { op: 'delete'; store: string; key: string };

export type CommitListener = (stores: ReadonlySet<string>) => void;

/** The highest code point, used to bound a prefix range. */
const KEY_MAX = '\uffff';

function rangeFor(store: string, options: ListOptions): IDBKeyRange {
  const prefix = options.prefix ?? '';
  let lower = prefix;
  let upper = prefix + KEY_MAX;
  let lowerOpen = false;
  let upperOpen = false;
  if (options.after !== undefined) {
    if (options.reverse) {
      if (options.after < upper) {
        upper = options.after;
        upperOpen = true;
      }
    } else if (options.after > lower) {
      lower = options.after;
      lowerOpen = true;
    }
  }
  return IDBKeyRange.bound([store, lower], [store, upper], lowerOpen, upperOpen);
}

const cell = (store: string, key: string): string => `${store}\u0000${key}`;

/** Opened rows remembered per context: enough for a long chat page and the protocol state, a few MB at most. */
const OPENED_CACHE_ENTRIES = 2_000;

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class SealedStore {
  private readonly listeners = new Set<CommitListener>();
  private readonly opened = new Map<string, { iv: Uint8Array; value: unknown }>();

  constructor(
    private readonly db: CoveDatabase,
    private dataKey: CryptoKey,
    private readonly lockName: string = STORE_LOCK,
  ) {}

  /** Replaces the data key after the vault was re-keyed (passphrase added). */
  rekeyed(dataKey: CryptoKey): void {
    this.dataKey = dataKey;
    this.opened.clear();
  }

  private remember(row: SealedRow, value: unknown): void {
    const id = cell(row.store, row.key);
    this.opened.delete(id);
    this.opened.set(id, { iv: row.iv, value });
    if (this.opened.size > OPENED_CACHE_ENTRIES) {
      const oldest = this.opened.keys().next().value;
      if (oldest !== undefined) this.opened.delete(oldest);
    }
  }

  /** Decrypts a row, or reuses what this context opened for the same row version. Returns a private copy. */
  private async open<T>(row: SealedRow): Promise<T> {
    const known = this.opened.get(cell(row.store, row.key));
    if (known && sameBytes(known.iv, row.iv)) return structuredClone(known.value) as T;
    const value = await openRow<T>(this.dataKey, row);
    this.remember(row, structuredClone(value));
    return value;
  }

  /** The data key, for re-keying the vault (it is non-extractable: usable, never readable). */
  currentKey(): CryptoKey {
    return this.dataKey;
  }

  /** Registers a listener called after each commit with the names of the tables it changed. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads one value outside any transaction (no lock: a committed snapshot). */
  async get<T>(store: string, key: string): Promise<T | undefined> {
    const row = await this.db.get('records', [store, key]);
    return row ? this.open<T>(row) : undefined;
  }

  /** Lists values outside any transaction (no lock: a committed snapshot). */
  async list<T>(store: string, options: ListOptions = {}): Promise<Entry<T>[]> {
    const rows = await this.readRows(store, options);
    return Promise.all(rows.map(async (row) => ({ key: row.key, value: await this.open<T>(row) })));
  }

  private async readRows(store: string, options: ListOptions): Promise<SealedRow[]> {
    const tx = this.db.transaction('records', 'readonly');
    const rows: SealedRow[] = [];
    let cursor = await tx.store.openCursor(rangeFor(store, options), options.reverse ? 'prev' : 'next');
    while (cursor && (options.limit === undefined || rows.length < options.limit)) {
      rows.push(cursor.value);
      cursor = await cursor.continue();
    }
    await tx.done;
    return rows;
  }

  /**
   * Runs `fn` under the store lock and commits its writes atomically. If `fn` throws, nothing is written and the
   * error propagates. Returns what `fn` returns.
   */
  async transaction<T>(fn: (tx: SealedTransaction) => T | Promise<T>): Promise<T> {
    return withLock(this.lockName, async () => {
      const writes = new Map<string, { store: string; key: string; value: unknown; deleted: boolean }>();
      const view: SealedTransaction = {
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

  /** Counts rows of a table (optionally under a key prefix) without decrypting them. */
  async count(store: string, prefix = ''): Promise<number> {
    return this.db.count('records', rangeFor(store, { prefix }));
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

  private async commit(writes: { store: string; key: string; value?: unknown; deleted: boolean }[]): Promise<void> {
    const sealed = await Promise.all(
      writes.map(async (w) => (w.deleted ? w : { ...w, row: await sealRow(this.dataKey, w.store, w.key, w.value) })),
    );
    const tx = this.db.transaction('records', 'readwrite');
    for (const w of sealed) {
      if ('row' in w) void tx.store.put(w.row);
      else void tx.store.delete([w.store, w.key]);
    }
    await tx.done;
    for (const w of sealed) {
      if ('row' in w) this.remember(w.row, structuredClone(w.value));
      else this.opened.delete(cell(w.store, w.key));
    }
    const stores = new Set(writes.map((w) => w.store));
    for (const listener of this.listeners) listener(stores);
  }
}
