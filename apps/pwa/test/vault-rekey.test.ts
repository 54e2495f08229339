/**
 * Re-keying the vault while other contexts write (issue 9, finding 3): each `EncryptedRowStore` here stands for one
 * context (a tab, the service worker) on the same IndexedDB (fake-indexeddb), holding its own copy of the keys.
 * Setting a passphrase must never leave a row sealed under a discarded key: writers that race it are either
 * re-sealed with everything else or refused with a typed error, and a context holding old keys reloads them and
 * retries when they are available. Also the Web Locks stand-in the vault relies on in Node (shared and exclusive).
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import type { CoveDatabase } from '../src/platform/idb/schema.js';
import { VAULT_LOCK, withLock, withSharedLock } from '../src/platform/locks.js';
import { openRow } from '../src/platform/row-cipher.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import {
  StaleKeyError,
  VaultLockedError,
  loadVaultKeys,
  removePassphrase,
  setPassphrase,
  unlockVault,
  type VaultKeys,
} from '../src/platform/vault.js';

const PASSPHRASE = 'correct horse battery';
let counter = 0;
const opened: CoveDatabase[] = [];

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

async function profile() {
  const db = await openCoveDatabase(`rekey-${Date.now()}-${counter++}`);
  opened.push(db);
  const keys = (await loadVaultKeys(db)) as VaultKeys;
  /** A context: its own store and its own copy of the keys, reloading them the way the browser platform does. */
  const context = () => new EncryptedRowStore(db, keys, () => loadVaultKeys(db));
  return { db, keys, context };
}

/** Opens every stored row with `keys`; returns the keys of the rows that do not open (sealed under other keys). */
async function unreadable(db: CoveDatabase, keys: VaultKeys): Promise<string[]> {
  const rows = await db.getAll('rows');
  const failed = await Promise.all(
    rows.map((row) =>
      openRow(keys, row).then(
        () => null,
        () => row.id,
      ),
    ),
  );
  return failed.filter((id): id is string => id !== null);
}

describe('re-keying with concurrent writers', () => {
  it('should refuse a context holding the discarded keys, with a typed error, and write nothing under them', async () => {
    const { db, context } = await profile();
    const tab = context();
    const worker = context();
    await tab.apply([{ op: 'put', store: 'messages', key: 'c/1', value: 'before' }]);
    await setPassphrase(db, tab.currentKeys(), PASSPHRASE, (keys) => tab.rekeyed(keys));
    const before = await db.getAll('rows');

    await expect(worker.apply([{ op: 'put', store: 'messages', key: 'c/2', value: 'stale' }])).rejects.toBeInstanceOf(
      VaultLockedError,
    );
    await expect(worker.get('messages', 'c/1')).rejects.toBeInstanceOf(VaultLockedError);
    // Nothing changed, and every row opens with the vault's keys.
    expect(await db.getAll('rows')).toEqual(before);
    const unlocked = await unlockVault(db, PASSPHRASE);
    expect(await unreadable(db, unlocked)).toEqual([]);
    expect(await new EncryptedRowStore(db, unlocked).list('messages')).toEqual([{ key: 'c/1', value: 'before' }]);
  });

  it('should reload the keys and retry when the new ones are available', async () => {
    const { db, keys, context } = await profile();
    const tab = context();
    const worker = context();
    await setPassphrase(db, tab.currentKeys(), PASSPHRASE, (k) => tab.rekeyed(k));
    const current = await removePassphrase(db, PASSPHRASE); // device keys again, from epoch 2
    expect(current.epoch).toBe(keys.epoch + 1);

    await worker.apply([{ op: 'put', store: 'messages', key: 'c/9', value: 'after reload' }]);
    expect(worker.currentKeys().epoch).toBe(current.epoch);
    expect(await unreadable(db, current)).toEqual([]);
    expect(await tab.get('messages', 'c/9')).toBe('after reload');
  });

  it('should leave every row readable when writers commit throughout a passphrase change, losing nothing committed', async () => {
    const { db, context } = await profile();
    const tab = context();
    const writers = [context(), context()];
    for (let i = 0; i < 20; i++) await tab.apply([{ op: 'put', store: 'messages', key: `seed/${i}`, value: i }]);

    let changing = true;
    const change = setPassphrase(db, tab.currentKeys(), PASSPHRASE, (k) => tab.rekeyed(k)).finally(() => {
      changing = false;
    });
    const committed: string[] = [];
    const refused: unknown[] = [];
    let n = 0;
    // Each writer keeps committing (a message and its conversation, like the inbox) until the change is over.
    await Promise.all(
      writers.map(async (writer, w) => {
        while (changing) {
          const key = `w${w}/${String(n++).padStart(4, '0')}`;
          try {
            await writer.apply([
              { op: 'put', store: 'messages', key, value: key },
              { op: 'put', store: 'conversations', key: `w${w}`, value: key },
            ]);
            committed.push(key);
          } catch (error) {
            refused.push(error);
          }
        }
      }),
    );
    await change;
    expect(committed.length).toBeGreaterThan(0);
    // Refusals only ever say "reload": the vault is locked for the other contexts now.
    for (const error of refused) expect(error).toBeInstanceOf(VaultLockedError);

    const unlocked = await unlockVault(db, PASSPHRASE);
    expect(await unreadable(db, unlocked)).toEqual([]);
    const stored = (await new EncryptedRowStore(db, unlocked).list<string>('messages')).map((e) => e.key);
    for (const key of committed) expect(stored).toContain(key);
    // The tab that set the passphrase keeps working with the new keys, and new messages keep being stored.
    await tab.apply([{ op: 'put', store: 'messages', key: 'after/1', value: 'new' }]);
    expect(await new EncryptedRowStore(db, unlocked).get('messages', 'after/1')).toBe('new');
  });

  it('should refuse a re-key from keys of an old epoch', async () => {
    const { db, keys, context } = await profile();
    const tab = context();
    await setPassphrase(db, keys, PASSPHRASE, (k) => tab.rekeyed(k));
    await removePassphrase(db, PASSPHRASE);
    await expect(setPassphrase(db, keys, 'another passphrase')).rejects.toBeInstanceOf(StaleKeyError);
  });

  it('should keep the re-key out while a commit holds the vault lock, and commits out while the re-key does', async () => {
    const { db, keys, context } = await profile();
    const tab = context();
    const events: string[] = [];
    let release: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => {
      release = resolve;
    });
    const shared = withSharedLock(VAULT_LOCK, async () => {
      events.push('commit holds');
      await holding;
      events.push('commit releases');
    });
    const rekey = setPassphrase(db, keys, PASSPHRASE, (k) => {
      events.push('re-keyed');
      tab.rekeyed(k);
    });
    // The re-key derives its key (Argon2id) first, then waits for the lock: let the derivation finish.
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    await Promise.all([shared, rekey]);
    expect(events).toEqual(['commit holds', 'commit releases', 're-keyed']);
  });
});

describe('vault lock (in-process stand-in for Web Locks)', () => {
  it('should let shared holders run together, and an exclusive holder alone, in request order', async () => {
    const name = `test-lock-${counter++}`;
    const log: string[] = [];
    let active = 0;
    const hold = (label: string, mode: 'shared' | 'exclusive') =>
      (mode === 'shared' ? withSharedLock : withLock)(name, async () => {
        active += 1;
        log.push(`${label}+${active}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
        active -= 1;
        log.push(`${label}-`);
      });
    await Promise.all([hold('s1', 'shared'), hold('s2', 'shared'), hold('x', 'exclusive'), hold('s3', 'shared')]);
    // s1 and s2 overlap; x waits for both and runs alone; s3, asked after x, waits for x.
    expect(log.slice(0, 2)).toEqual(['s1+1', 's2+2']);
    expect(log.indexOf('x+1')).toBeGreaterThan(Math.max(log.indexOf('s1-'), log.indexOf('s2-')));
    expect(log.indexOf('s3+1')).toBeGreaterThan(log.indexOf('x-'));
  });
});
