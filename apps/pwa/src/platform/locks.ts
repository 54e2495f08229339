/**
 * Cross-context locks through the Web Locks API: every tab and the service worker of one origin share the same
 * lock names, so two contexts never decrypt or update sessions at the same time, and nobody commits while the
 * vault is re-keyed. Locks are exclusive, or shared (many holders at once, none while an exclusive holder runs);
 * requests are granted in order, so a waiting exclusive request is not starved by later shared ones. Where the API
 * is missing (old browsers, unit tests in Node) an in-process queue gives the same guarantees within one context
 * only. It does not time out: a holder that never settles blocks the others, so holders must only do bounded work.
 */

/** The lock around every operation that reads or writes protocol state (sessions, prekeys, inbox, outbox). */
export const STORE_LOCK = 'cove:store';
/**
 * The vault lock: every commit holds it shared (from sealing its rows to the end of its IndexedDB transaction);
 * re-keying (setting a passphrase, migrating the storage format) holds it exclusively for its whole
 * read-modify-write, so no context commits in between.
 */
export const VAULT_LOCK = 'cove:vault';

export type LockMode = 'exclusive' | 'shared';

type LockRequester = {
  request<T>(name: string, options: { mode: LockMode }, callback: () => Promise<T>): Promise<T>;
};

function webLocks(): LockRequester | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockRequester } }).navigator;
  return nav?.locks;
}

type Waiter = { mode: LockMode; grant: () => void };
type LocalLock = { holders: number; mode: LockMode | null; queue: Waiter[] };

/** In-process stand-in for Web Locks: FIFO, shared holders run together until an exclusive request is queued. */
const localLocks = new Map<string, LocalLock>();

function pump(name: string, lock: LocalLock): void {
  for (;;) {
    const next = lock.queue[0];
    if (!next) break;
    const compatible = lock.holders === 0 || (lock.mode === 'shared' && next.mode === 'shared');
    if (!compatible) break;
    lock.queue.shift();
    lock.holders += 1;
    lock.mode = next.mode;
    next.grant();
  }
  if (lock.holders === 0 && lock.queue.length === 0) localLocks.delete(name);
}

async function withLocalLock<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  let lock = localLocks.get(name);
  if (!lock) {
    lock = { holders: 0, mode: null, queue: [] };
    localLocks.set(name, lock);
  }
  const held = lock;
  await new Promise<void>((grant) => {
    held.queue.push({ mode, grant });
    pump(name, held);
  });
  try {
    return await fn();
  } finally {
    held.holders -= 1;
    if (held.holders === 0) held.mode = null;
    pump(name, held);
  }
}

/** Runs `fn` while holding the named lock in `mode`, in this context and every other one of the origin. */
export async function withLockMode<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  if (locks) return locks.request(name, { mode }, fn);
  return withLocalLock(name, mode, fn);
}

/** Runs `fn` while holding the named exclusive lock, in this context and every other one of the origin. */
export function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return withLockMode(name, 'exclusive', fn);
}

/** Runs `fn` while holding the named lock shared with other shared holders (never with an exclusive one). */
export function withSharedLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return withLockMode(name, 'shared', fn);
}
