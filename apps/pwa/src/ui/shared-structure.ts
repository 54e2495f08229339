/**
 * Structural sharing for data a view reloads on every revision: when a reload returns what was already shown, the
 * old objects are kept, so React (and `memo` rows) see unchanged references and skip the work. It compares plain
 * data only (primitives, arrays, plain objects, byte arrays); any other object (a Blob, a Map, a class instance)
 * counts as changed unless it is the very same object. It does not copy or freeze anything.
 */

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** Whether two values hold the same plain data. */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  if (a instanceof Uint8Array) return b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameData(a[k], b[k]));
  }
  return false;
}

const idOf = (value: unknown): string | undefined =>
  isPlainObject(value) && typeof value.id === 'string' ? value.id : undefined;

/**
 * `next`, reusing `previous` where they hold the same data: all of it when equal; for two arrays, each element of
 * `next` whose `id` names an equal element of `previous` (a history page shifted by a new message keeps its rows).
 */
export function shareStructure<T>(previous: T | undefined, next: T): T {
  if (previous === undefined) return next;
  if (sameData(previous, next)) return previous;
  if (!Array.isArray(previous) || !Array.isArray(next)) return next;
  const byId = new Map<string, unknown>();
  for (const item of previous as unknown[]) {
    const id = idOf(item);
    if (id !== undefined) byId.set(id, item);
  }
  if (byId.size === 0) return next;
  return (next as unknown[]).map((item) => {
    const id = idOf(item);
    const old = id === undefined ? undefined : byId.get(id);
    return old !== undefined && sameData(old, item) ? old : item;
  }) as T;
}
