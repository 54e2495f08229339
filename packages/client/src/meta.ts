/**
 * Typed access to the `meta` table, which holds rows of several shapes: the fixed keys of MetaRows (account,
 * profile, prekey state, storage layout) are read and written only through `readMeta`/`metaPut`, typed by key; rows
 * under a prefix (budgets, session-reset times, the expiry index) are narrowed by shape where they are read. It
 * does not decide what is stored (tables.ts) and writes nothing itself.
 */
import type { KeyValueStorage, PutOp } from './platform.js';
import type { BudgetEntry, MetaRows, MetaValue } from './tables.js';

/**
 * The row of a fixed meta key. The one unchecked step of the core's storage typing: a fixed key holds the type
 * MetaRows names for it because `metaPut` is the only way the core writes one.
 */
export const readMeta = async <K extends keyof MetaRows>(
  storage: KeyValueStorage,
  key: K,
): Promise<MetaRows[K] | undefined> => (await storage.get('meta', key)) as MetaRows[K] | undefined;

export const metaPut = <K extends keyof MetaRows>(key: K, value: MetaRows[K]): PutOp<'meta'> => ({
  op: 'put',
  table: 'meta',
  key,
  value,
});

/** A budget row (`budget/…`), or undefined for anything else. */
export const asBudget = (value: MetaValue | undefined): BudgetEntry | undefined =>
  value !== null && typeof value === 'object' && 'windowStart' in value && 'count' in value ? value : undefined;
