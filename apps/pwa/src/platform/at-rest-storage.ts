/**
 * The client core's `KeyValueStorage` on the encrypted row store (encrypted-row-store.ts): every table of the core is a logical table
 * of `records`, every value sealed with the vault key, every `commit` one IndexedDB transaction. After a commit it
 * tells the other tabs and the service worker which tables changed (BroadcastChannel), so their views refresh.
 * It does not lock: the core serializes its own work through the platform's Web Locks.
 */
import type { Entry, KeyValueStorage, ListOptions, StoredValue, TableName, WriteOp } from '@cove/client';
import type { EncryptedRowStore } from './encrypted-row-store.js';

/** Channel on which every context of the origin announces committed table changes. */
export const COMMIT_CHANNEL = 'cove:commits';

export type CommitNotice = { tables: string[]; origin: string };

export class AtRestStorage implements KeyValueStorage {
  private readonly channel: BroadcastChannel | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: EncryptedRowStore,
    private readonly contextId: string,
  ) {
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(COMMIT_CHANNEL) : undefined;
    this.unsubscribe = store.onCommit((tables) => {
      this.channel?.postMessage({ tables: [...tables], origin: this.contextId } satisfies CommitNotice);
    });
  }

  get<T extends StoredValue>(table: TableName, key: string): Promise<T | undefined> {
    return this.store.get<T>(table, key);
  }

  list<T extends StoredValue>(table: TableName, options?: ListOptions): Promise<Entry<T>[]> {
    return this.store.list<T>(table, options);
  }

  count(table: TableName, options?: Pick<ListOptions, 'prefix'>): Promise<number> {
    return this.store.count(table, options?.prefix);
  }

  commit(batch: readonly WriteOp[]): Promise<void> {
    return this.store.apply(
      batch.map((w) =>
        w.op === 'put'
          ? { op: 'put', store: w.table, key: w.key, value: w.value }
          : { op: 'delete', store: w.table, key: w.key },
      ),
    );
  }

  close(): Promise<void> {
    this.unsubscribe();
    this.channel?.close();
    return Promise.resolve();
  }
}
