/**
 * The back/forward-cache guard (issue 18): WebKit suspends a page into its back/forward cache with an IndexedDB
 * transaction in flight, and that transaction then blocks every later one of the origin. Over fake-indexeddb and a
 * stand-in page lifecycle: a page hidden into the cache aborts its running transactions (so another connection
 * can read and write at once), starts no new one, and reloads when brought back; a page that is merely unloaded
 * keeps its transactions, and a worker (no page) is left alone.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { PageHiddenError, guardTransactions, type PageLifecycle } from '../src/platform/idb/back-forward-guard.js';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import type { CoveDatabase } from '../src/platform/idb/schema.js';

let counter = 0;
const opened: CoveDatabase[] = [];

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

async function open(name: string): Promise<CoveDatabase> {
  const db = await openCoveDatabase(name);
  opened.push(db);
  return db;
}

type Listener = (event: { persisted: boolean }) => void;

/** A page whose pagehide/pageshow the test fires. */
function fakePage(): PageLifecycle & {
  fire(type: 'pagehide' | 'pageshow', persisted: boolean): void;
  reloads: number;
} {
  const listeners: { type: string; listener: Listener }[] = [];
  const page = {
    reloads: 0,
    addEventListener: (type: 'pagehide' | 'pageshow', listener: Listener) => listeners.push({ type, listener }),
    reload: () => {
      page.reloads += 1;
    },
    fire: (type: 'pagehide' | 'pageshow', persisted: boolean) => {
      for (const l of listeners) if (l.type === type) l.listener({ persisted });
    },
  };
  return page;
}

/** Starts a readwrite transaction that keeps itself busy (a request from each success) until it is aborted. */
function busyTransaction(db: CoveDatabase): { ended: Promise<'complete' | 'abort'> } {
  const tx = db.transaction('meta', 'readwrite');
  const store = tx.objectStore('meta');
  let n = 0;
  const again = (): void => {
    void store.put(n++, 'busy').then(again, () => undefined);
  };
  again();
  return {
    ended: tx.done.then(
      () => 'complete' as const,
      () => 'abort' as const,
    ),
  };
}

const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'timed out'> =>
  Promise.race([promise, new Promise<'timed out'>((resolve) => setTimeout(() => resolve('timed out'), ms))]);

describe('guardTransactions', () => {
  it('should abort the running transactions when the page goes into the back/forward cache, unblocking others', async () => {
    const name = `bfcache-${counter++}`;
    const page = fakePage();
    const hidden = guardTransactions(await open(name), page);
    const other = await open(name);
    const busy = busyTransaction(hidden);
    // While the busy transaction runs, a write of another connection waits behind it.
    const waiting = other.put('meta', 'written', 'other');
    expect(await within(waiting, 200)).toBe('timed out');
    page.fire('pagehide', true);
    expect(await busy.ended).toBe('abort');
    expect(await within(waiting, 5_000)).toBe('other');
    expect(await other.get('meta', 'other')).toBe('written');
  });

  it('should start no transaction once hidden, and reload when the page comes back', async () => {
    const page = fakePage();
    const db = guardTransactions(await open(`bfcache-${counter++}`), page);
    page.fire('pagehide', true);
    expect(() => db.transaction('meta', 'readonly')).toThrow(PageHiddenError);
    await expect(db.get('meta', 'anything')).rejects.toThrow(PageHiddenError);
    expect(page.reloads).toBe(0);
    page.fire('pageshow', true);
    expect(page.reloads).toBe(1);
  });

  it('should leave the transactions of a page that is unloaded, or shown fresh, alone', async () => {
    const page = fakePage();
    const db = guardTransactions(await open(`bfcache-${counter++}`), page);
    const tx = db.transaction('meta', 'readwrite');
    void tx.store.put('kept', 'k');
    page.fire('pagehide', false);
    page.fire('pageshow', false);
    await tx.done;
    expect(await db.get('meta', 'k')).toBe('kept');
    expect(page.reloads).toBe(0);
  });

  it('should not guard a connection outside a page (the service worker)', async () => {
    const db = guardTransactions(await open(`bfcache-${counter++}`), null);
    await db.put('meta', 'v', 'k');
    expect(await db.get('meta', 'k')).toBe('v');
  });
});
