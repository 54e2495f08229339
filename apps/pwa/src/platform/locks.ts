/**
 * Cross-context mutual exclusion through the Web Locks API: every tab and the service worker of one origin share
 * the same lock names, so two contexts never decrypt or update sessions at the same time. Where the API is missing
 * (old browsers, unit tests in Node) an in-process queue gives the same guarantee within one context only.
 * It does not time out: a holder that never settles blocks the others, so holders must only do bounded work.
 */

/** The lock around every operation that reads or writes protocol state (sessions, prekeys, inbox, outbox). */
export const STORE_LOCK = 'cove:store';

type LockRequester = {
  request<T>(name: string, options: { mode: 'exclusive' }, callback: () => Promise<T>): Promise<T>;
};

const localQueues = new Map<string, Promise<unknown>>();

function webLocks(): LockRequester | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockRequester } }).navigator;
  return nav?.locks;
}

/** Runs `fn` while holding the named exclusive lock, in this context and every other one of the origin. */
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  if (locks) return locks.request(name, { mode: 'exclusive' }, fn);
  const previous = localQueues.get(name) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  localQueues.set(name, settled);
  try {
    return await run;
  } finally {
    if (localQueues.get(name) === settled) localQueues.delete(name);
  }
}
