/**
 * Unit tests of the PWA's encrypted storage over fake-indexeddb: schema migrations, the vault (device keys and
 * Argon2id passphrase), sealed rows under opaque keyed-hash ids, listing by table and partition, and atomic
 * transactions.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import { SCHEMA_VERSION, type CoveDatabase } from '../src/platform/idb/schema.js';
import { encodeValue } from '../src/platform/codec.js';
import { RowMismatchError, rowId, tableTag } from '../src/platform/row-cipher.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import {
  VaultLockedError,
  WrongPassphraseError,
  loadVaultKeys,
  removePassphrase,
  setPassphrase,
  unlockVault,
  vaultMode,
  type VaultKeys,
} from '../src/platform/vault.js';

let counter = 0;
const freshName = (): string => `cove-test-${Date.now()}-${counter++}`;
const opened: CoveDatabase[] = [];

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

async function openDb(name = freshName()): Promise<CoveDatabase> {
  const db = await openCoveDatabase(name);
  opened.push(db);
  return db;
}

async function openStore(name = freshName()) {
  const db = await openDb(name);
  const keys = await loadVaultKeys(db);
  if (keys === 'locked') throw new Error('unexpected lock');
  return { db, keys, store: new EncryptedRowStore(db, keys, () => loadVaultKeys(db), `lock-${name}`) };
}

const contains = (haystack: Uint8Array, needle: string): boolean =>
  Buffer.from(haystack).includes(Buffer.from(needle, 'utf8'));

/** Every IndexedDB key and index value of the sealed rows, as text. */
async function visibleKeys(db: CoveDatabase): Promise<string> {
  const rows = await db.getAll('rows');
  return JSON.stringify(rows.map((r) => [r.id, r.t, r.p, r.e]));
}

describe('openCoveDatabase', () => {
  it('should create every store of the current schema version', async () => {
    const db = await openDb();
    expect(db.version).toBe(SCHEMA_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['blobChunks', 'meta', 'records', 'rows']);
  });
});

describe('vault', () => {
  it('should keep one set of non-extractable keys across reopenings, in epoch 1', async () => {
    const name = freshName();
    const { db, keys } = await openStore(name);
    expect(keys.data.extractable).toBe(false);
    expect(keys.data.algorithm.name).toBe('AES-GCM');
    expect(keys.index.extractable).toBe(false);
    expect(keys.index.algorithm.name).toBe('HMAC');
    expect(keys.epoch).toBe(1);
    db.close();
    const again = await openDb(name);
    const keys2 = (await loadVaultKeys(again)) as VaultKeys;
    expect(keys2.epoch).toBe(1);
    expect(await vaultMode(again)).toBe('device');
  });

  it('should require the passphrase once one is set, and keep every row readable with it', async () => {
    const { db, keys, store } = await openStore();
    await store.transaction((tx) => {
      tx.put('messages', 'm1', { text: 'hello at rest', bytes: new Uint8Array([1, 2, 3]) });
    });
    const next = await setPassphrase(db, keys, 'correct horse');
    expect(next.data.extractable).toBe(false);
    expect(next.epoch).toBe(2);
    expect(await vaultMode(db)).toBe('passphrase');
    expect(await loadVaultKeys(db)).toBe('locked');
    await expect(unlockVault(db, 'wrong horse!')).rejects.toBeInstanceOf(WrongPassphraseError);
    const unlocked = await unlockVault(db, 'correct horse');
    expect(unlocked.epoch).toBe(2);
    const reopened = new EncryptedRowStore(db, unlocked);
    expect(await reopened.get('messages', 'm1')).toEqual({ text: 'hello at rest', bytes: new Uint8Array([1, 2, 3]) });
    const meta = await db.get('meta', 'vault');
    expect(meta).not.toHaveProperty('key');
    expect(meta).not.toHaveProperty('index');

    const device = await removePassphrase(db, 'correct horse');
    expect(device.epoch).toBe(2);
    expect(await vaultMode(db)).toBe('device');
    expect(await new EncryptedRowStore(db, device).get('messages', 'm1')).toMatchObject({ text: 'hello at rest' });
    expect(((await loadVaultKeys(db)) as VaultKeys).epoch).toBe(2);
  });

  it('should refuse a passphrase under ten characters, and derive new ones at the raised Argon2id cost', async () => {
    const { db, keys } = await openStore();
    await expect(setPassphrase(db, keys, 'abc')).rejects.toThrow(RangeError);
    await expect(setPassphrase(db, keys, '123456789')).rejects.toThrow(RangeError);
    expect(await vaultMode(db)).toBe('device');
    await setPassphrase(db, keys, '1234567890');
    const header = (await db.get('meta', 'vault')) as { opslimit: number; memlimit: number };
    expect(header).toMatchObject({ opslimit: 3, memlimit: 96 * 1024 * 1024 });
  });
});

describe(EncryptedRowStore.name, () => {
  it('should store no plaintext and no readable key, table, time or order in IndexedDB', async () => {
    const { db, store } = await openStore();
    const account = '44d077ee-8580-4767-a5cc-12126d905a09';
    await store.transaction((tx) => {
      tx.put('messages', `${account}/01796564124305000805c90`, { text: 'canary-plaintext-42' });
      tx.put('messageIndex', `${account}/${account}/0001796564126821`, 'x');
      tx.put('usernames', 'carol_canary', account);
      tx.put('meta', 'account', { privateKey: new Uint8Array(32).fill(7) });
    });
    const rows = await db.getAll('rows');
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(contains(row.data, 'canary-plaintext-42')).toBe(false);
      expect(contains(row.data, 'privateKey')).toBe(false);
    }
    const keys = await visibleKeys(db);
    for (const secret of [account, '44d077ee', 'carol', '1796564', 'messages', 'usernames', 'account'])
      expect(keys).not.toContain(secret);
    expect(await store.get('messages', `${account}/01796564124305000805c90`)).toEqual({ text: 'canary-plaintext-42' });
    expect(await store.get('usernames', 'carol_canary')).toBe(account);
  });

  it('should refuse a row moved under another id, or whose sealed content names another row', async () => {
    const { db, keys, store } = await openStore();
    await store.transaction((tx) => {
      tx.put('sessions', 'alice.1', { state: 1 });
      tx.put('sessions', 'bob.1', { state: 2 });
    });
    const aliceId = await rowId(keys.index, 'sessions', 'alice.1');
    const bobId = await rowId(keys.index, 'sessions', 'bob.1');
    const alice = (await db.get('rows', aliceId))!;
    await db.put('rows', { ...alice, id: bobId });
    await expect(new EncryptedRowStore(db, keys).get('sessions', 'bob.1')).rejects.toThrow();

    // Sealed correctly for its id, but claiming another table: refused after decryption.
    const id = await rowId(keys.index, 'identities', 'k');
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const aad = new TextEncoder().encode(`cove:row:v2\u0000${id}\u0000${keys.epoch}`);
    const data = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: aad },
        keys.data,
        encodeValue({ t: 'contacts', k: 'k', v: 'forged' }) as Uint8Array<ArrayBuffer>,
      ),
    );
    await db.put('rows', { id, t: await tableTag(keys.index, 'identities'), e: keys.epoch, iv, data });
    await expect(new EncryptedRowStore(db, keys).get('identities', 'k')).rejects.toBeInstanceOf(RowMismatchError);
  });

  it('should name a row by its table and key: the same key in two tables are two rows', async () => {
    const { store } = await openStore();
    await store.transaction((tx) => {
      tx.put('contacts', 'k', 'contact');
      tx.put('identities', 'k', 'identity');
    });
    expect(await store.get('contacts', 'k')).toBe('contact');
    expect(await store.get('identities', 'k')).toBe('identity');
  });

  it('should write nothing when the transaction callback throws', async () => {
    const { store } = await openStore();
    await store.transaction((tx) => tx.put('outbox', 'a', 1));
    await expect(
      store.transaction((tx) => {
        tx.put('outbox', 'b', 2);
        tx.delete('outbox', 'a');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.list('outbox')).map((e) => e.key)).toEqual(['a']);
  });

  it('should let a transaction read its own writes and list in key order with paging', async () => {
    const { store } = await openStore();
    await store.transaction(async (tx) => {
      for (const k of ['c/03', 'c/01', 'c/02', 'd/01']) tx.put('messages', k, k);
      expect(await tx.get('messages', 'c/02')).toBe('c/02');
      const listed = await tx.list<string>('messages', { prefix: 'c/', reverse: true, limit: 2 });
      expect(listed.map((e) => e.key)).toEqual(['c/03', 'c/02']);
    });
    const page = await store.list<string>('messages', { prefix: 'c/', reverse: true, after: 'c/03', limit: 5 });
    expect(page.map((e) => e.value)).toEqual(['c/02', 'c/01']);
    const forward = await store.list<string>('messages', { prefix: 'c/', after: 'c/01' });
    expect(forward.map((e) => e.key)).toEqual(['c/02', 'c/03']);
    expect(await store.count('messages', 'c/')).toBe(3);
    expect(await store.count('messages')).toBe(4);
    expect(await store.count('messages', 'c/0')).toBe(3);
  });

  it('should list and count exactly like an ordered map, for any keys and prefixes', async () => {
    const { store } = await openStore();
    const key = fc.stringMatching(/^[ab][./]?[ab.]{0,3}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(key, { maxLength: 12 }),
        fc.constantFrom('messages', 'sessions', 'contacts'),
        fc.oneof(fc.constant(''), key),
        fc.record({ reverse: fc.boolean(), limit: fc.option(fc.nat(5), { nil: undefined }) }),
        fc.option(key, { nil: undefined }),
        async (keys, table, prefix, { reverse, limit }, after) => {
          const existing = await store.list(table);
          await store.apply([
            ...existing.map((e) => ({ op: 'delete' as const, store: table, key: e.key })),
            ...keys.map((k) => ({ op: 'put' as const, store: table, key: k, value: k })),
          ]);
          let expected = keys.filter((k) => k.startsWith(prefix)).sort();
          if (reverse) expected.reverse();
          if (after !== undefined) expected = expected.filter((k) => (reverse ? k < after : k > after));
          if (limit !== undefined) expected = expected.slice(0, limit);
          const listed = await store.list<string>(table, {
            prefix,
            reverse,
            ...(limit === undefined ? {} : { limit }),
            ...(after === undefined ? {} : { after }),
          });
          expect(listed.map((e) => e.key)).toEqual(expected);
          expect(listed.map((e) => e.value)).toEqual(expected);
          expect(await store.count(table, prefix)).toBe(keys.filter((k) => k.startsWith(prefix)).length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('should serialize concurrent transactions so read-modify-write never loses an update', async () => {
    const { store } = await openStore();
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (tx) => {
          const n = (await tx.get<number>('counters', 'n')) ?? 0;
          await new Promise((r) => setTimeout(r, 1));
          tx.put('counters', 'n', n + 1);
        }),
      ),
    );
    expect(await store.get('counters', 'n')).toBe(20);
  });

  it("should see another context's writes even after caching what it opened", async () => {
    const name = freshName();
    const { db, store: first } = await openStore(name);
    const keys = (await loadVaultKeys(db)) as VaultKeys;
    const second = new EncryptedRowStore(db, keys, undefined, `lock-${name}`);
    await first.transaction((tx) => tx.put('sessions', 'peer.1', { counter: 1 }));
    expect(await second.get('sessions', 'peer.1')).toEqual({ counter: 1 });
    await first.transaction((tx) => tx.put('sessions', 'peer.1', { counter: 2 }));
    expect(await second.get('sessions', 'peer.1')).toEqual({ counter: 2 });
    expect((await second.list('sessions', { prefix: 'peer.' })).map((e) => e.value)).toEqual([{ counter: 2 }]);
    await first.transaction((tx) => tx.delete('sessions', 'peer.1'));
    expect(await second.get('sessions', 'peer.1')).toBeUndefined();
    expect(await second.list('sessions', { prefix: 'peer.' })).toEqual([]);
    // What a reader gets is its own copy: changing it changes nothing stored or cached.
    await first.transaction((tx) => tx.put('sessions', 'peer.2', { list: [1] }));
    const copy = (await second.get<{ list: number[] }>('sessions', 'peer.2'))!;
    copy.list.push(2);
    expect(await second.get('sessions', 'peer.2')).toEqual({ list: [1] });
  });

  it('should answer reads asked for together from one IndexedDB transaction, each with its own result', async () => {
    const { db, store } = await openStore();
    await store.transaction((tx) => {
      tx.put('contacts', 'a', { n: 1 });
      tx.put('contacts', 'b', { n: 2 });
      tx.put('sessions', 'peer.1', { s: 1 });
    });
    const readAll = () =>
      Promise.all([
        store.get('contacts', 'a'),
        store.get('contacts', 'b'),
        store.get('contacts', 'nobody'),
        store.list('sessions', { prefix: 'peer.' }),
        store.count('contacts'),
      ]);
    await readAll(); // row ids and tags now known (as for hot rows): the reads below reach IndexedDB in one tick
    const transaction = db.transaction.bind(db);
    let opened = 0;
    db.transaction = ((...args: Parameters<typeof transaction>) => {
      opened++;
      return transaction(...args);
    }) as typeof db.transaction;
    try {
      const [a, b, missing, sessions, count] = await readAll();
      expect([a, b, missing]).toEqual([{ n: 1 }, { n: 2 }, undefined]);
      expect(sessions).toEqual([{ key: 'peer.1', value: { s: 1 } }]);
      expect(count).toBe(2);
      expect(opened).toBe(1);
      // Reads one after the other still see each commit in between.
      await store.transaction((tx) => tx.put('contacts', 'a', { n: 3 }));
      expect(await store.get('contacts', 'a')).toEqual({ n: 3 });
    } finally {
      db.transaction = transaction;
    }
  });

  it('should fetch a table or row that reads asked for together name twice only once, each asker with its own copy', async () => {
    const name = freshName();
    const { db, store } = await openStore(name);
    const other = new EncryptedRowStore(db, (await loadVaultKeys(db)) as VaultKeys, undefined, `lock-${name}`);
    await store.transaction((tx) => {
      tx.put('meta', 'pref/a', { n: 1 });
      tx.put('meta', 'other', 2);
      tx.put('contacts', 'a', { n: 1 });
    });
    // What the views ask for at once after a commit: the same table listed by several screens, the same row twice.
    const readAll = () =>
      Promise.all([
        store.list<{ n: number }>('meta', { prefix: 'pref/' }),
        store.list<{ n: number }>('meta', { prefix: 'pref/' }),
        store.count('meta', 'pref/'),
        store.get<{ n: number }>('contacts', 'a'),
        store.get<{ n: number }>('contacts', 'a'),
      ]);
    await readAll(); // row ids and tags known (as for hot rows): the reads below reach IndexedDB in one tick
    const getAll = IDBIndex.prototype.getAll;
    const get = IDBObjectStore.prototype.get;
    let scans = 0;
    let rowReads = 0;
    IDBIndex.prototype.getAll = function (this: IDBIndex, ...args: Parameters<IDBIndex['getAll']>) {
      scans++;
      return getAll.apply(this, args);
    };
    IDBObjectStore.prototype.get = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['get']>) {
      if (this.name === 'rows') rowReads++;
      return get.apply(this, args);
    };
    try {
      const [prefs, again, count, contact, same] = await readAll();
      expect(scans).toBe(1);
      expect(rowReads).toBe(1);
      expect(prefs).toEqual([{ key: 'pref/a', value: { n: 1 } }]);
      expect(again).toEqual(prefs);
      expect(count).toBe(1);
      expect([contact, same]).toEqual([{ n: 1 }, { n: 1 }]);
      // Shared fetches, private answers: one asker's change is not another's.
      prefs[0]!.value.n = 99;
      contact!.n = 99;
      expect([again[0]!.value.n, same!.n]).toEqual([1, 1]);
      // Another context commits: the next reads fetch again and see it.
      await other.transaction((tx) => {
        tx.put('meta', 'pref/a', { n: 2 });
        tx.put('contacts', 'a', { n: 2 });
      });
      const [newer, , , changed] = await readAll();
      expect(newer).toEqual([{ key: 'pref/a', value: { n: 2 } }]);
      expect(changed).toEqual({ n: 2 });
      expect([scans, rowReads]).toEqual([2, 2]);
    } finally {
      IDBIndex.prototype.getAll = getAll;
      IDBObjectStore.prototype.get = get;
    }
  });

  it('should fail every read of a shared transaction that meets another epoch, and recover each by itself', async () => {
    const name = freshName();
    const { db, keys, store: stale } = await openStore(name);
    await stale.transaction((tx) => {
      tx.put('contacts', 'a', { n: 1 });
      tx.put('contacts', 'b', { n: 2 });
    });
    // Another context sets a passphrase: the vault moves to epoch 2 and `stale` still holds epoch 1's keys.
    await setPassphrase(db, keys, 'correct horse battery staple');
    const results = await Promise.allSettled([stale.get('contacts', 'a'), stale.get('contacts', 'b')]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(VaultLockedError);
    }
  });

  it('should notify listeners only after the commit, with the changed tables', async () => {
    const { store } = await openStore();
    const seen: string[][] = [];
    store.onCommit((stores) => {
      seen.push([...stores].sort());
    });
    await store.transaction((tx) => {
      tx.put('messages', 'x', 1);
      tx.put('conversations', 'y', 2);
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual([['conversations', 'messages']]);
  });
});
