/**
 * Keeps a page that the browser puts into its back/forward cache from blocking IndexedDB for every other context.
 *
 * WebKit (Safari, every iPhone browser; seen in WebKitGTK 2.50) suspends a page into the back/forward cache even
 * while one of its IndexedDB transactions is in flight, and that transaction then stays open for as long as the
 * page sits in the cache: every later transaction of the origin on the same stores waits behind it, readonly ones
 * too. The next page of Cove then never shows a screen (its first read waits forever), a commit holding the vault
 * lock never ends, and setting a passphrase waits for that lock for good (docs/browsers.md).
 *
 * So every transaction on a guarded connection is tracked while it runs; when the page is hidden into the cache
 * (`pagehide` with `persisted`), the running ones are aborted (atomic: each commits entirely or not at all, and
 * the work they belonged to is redone by its owner, e.g. an envelope not acknowledged is fetched again) and no new
 * one starts; a page brought back from the cache reloads, so it never runs on with aborted work and a closed
 * socket. It does nothing for a page that is unloaded (the browser ends its transactions) and nothing in a worker.
 */
import { unwrap } from 'idb';
import type { CoveDatabase } from './schema.js';

/** Raised by a transaction requested after the page went into the back/forward cache. */
export class PageHiddenError extends Error {
  constructor() {
    super('the page is in the back/forward cache: no IndexedDB transaction starts');
    this.name = 'PageHiddenError';
  }
}

/** What the guard needs of the page: pagehide/pageshow events and a reload. Parameters, for unit tests. */
export type PageLifecycle = {
  addEventListener(type: 'pagehide' | 'pageshow', listener: (event: { persisted: boolean }) => void): void;
  reload(): void;
};

type GuardState = { hidden: boolean; running: Set<IDBTransaction> };

const guards = new WeakMap<PageLifecycle, GuardState>();

function stateFor(page: PageLifecycle): GuardState {
  const known = guards.get(page);
  if (known) return known;
  const state: GuardState = { hidden: false, running: new Set() };
  guards.set(page, state);
  page.addEventListener('pagehide', (event) => {
    if (!event.persisted) return;
    state.hidden = true;
    for (const tx of state.running) {
      try {
        tx.abort();
      } catch {
        // Already finished between its last request and this event: nothing left to release.
      }
    }
    state.running.clear();
  });
  page.addEventListener('pageshow', (event) => {
    if (event.persisted) page.reload();
  });
  return state;
}

/** The page's lifecycle, or null in a worker (no document, no back/forward cache); typed for both builds. */
export function browserPage(): PageLifecycle | null {
  const scope = globalThis as unknown as {
    document?: unknown;
    location?: { reload(): void };
    addEventListener?: (type: string, listener: (event: { persisted: boolean }) => void) => void;
  };
  const { location, addEventListener } = scope;
  if (scope.document === undefined || !location || typeof addEventListener !== 'function') return null;
  return {
    addEventListener: (type, listener) => addEventListener.call(globalThis, type, listener),
    reload: () => location.reload(),
  };
}

/**
 * Tracks every transaction `db` starts (its shortcut reads and writes too) so that `page` going into the
 * back/forward cache aborts them; returns `db`.
 */
export function guardTransactions(db: CoveDatabase, page: PageLifecycle | null = browserPage()): CoveDatabase {
  if (!page) return db;
  const state = stateFor(page);
  const native = unwrap(db);
  const start = native.transaction.bind(native);
  native.transaction = ((...args: Parameters<IDBDatabase['transaction']>) => {
    if (state.hidden) throw new PageHiddenError();
    const tx = start(...args);
    state.running.add(tx);
    const settle = () => state.running.delete(tx);
    tx.addEventListener('complete', settle);
    tx.addEventListener('abort', settle);
    return tx;
  }) as IDBDatabase['transaction'];
  return db;
}
