/**
 * Unit tests of the PWA's encrypted storage over fake-indexeddb: schema migrations, the vault (device key and
 * Argon2id passphrase), sealed rows and atomic transactions.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from '@jest/globals';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import { SCHEMA_VERSION } from '../src/platform/idb/schema.js';
import { SealedStore } from '../src/platform/sealed-store.js';
import {
  WrongPassphraseError,
  loadDataKey,
  removePassphrase,
  setPassphrase,
  unlockVault,
  vaultMode,
} from '../src/platform/vault.js';

let counter = 0;
const freshName = (): string => `cove-test-${Date.now()}-${counter++}`;

async function openStore(name = freshName()) {
  const db = await openCoveDatabase(name);
  const key = await loadDataKey(db);
  if (key === 'locked') throw new Error('unexpected lock');
  return { db, key, store: new SealedStore(db, key, `lock-${name}`) };
}

const contains = (haystack: Uint8Array, needle: string): boolean =>
  Buffer.from(haystack).includes(Buffer.from(needle, 'utf8'));

describe('openCoveDatabase', () => {
  it('should create every store of the current schema version', async () => {
    const db = await openCoveDatabase(freshName());
    expect(db.version).toBe(SCHEMA_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['meta', 'records']);
    db.close();
  });
});

describe('vault', () => {
  it('should keep one non-extractable data key across reopenings', async () => {
    const name = freshName();
    const { db, key } = await openStore(name);
    expect(key.extractable).toBe(false);
    expect(key.algorithm.name).toBe('AES-GCM');
    db.close();
    const again = await openCoveDatabase(name);
    const key2 = await loadDataKey(again);
    expect(key2).not.toBe('locked');
    expect(await vaultMode(again)).toBe('device');
    again.close();
  });

  it('should require the passphrase once one is set, and keep every row readable with it', async () => {
    const name = freshName();
    const { db, key, store } = await openStore(name);
    await store.transaction((tx) => {
      tx.put('messages', 'm1', { text: 'hello at rest', bytes: new Uint8Array([1, 2, 3]) });
    });
    const next = await setPassphrase(db, key, 'correct horse');
    expect(next.extractable).toBe(false);
    expect(await vaultMode(db)).toBe('passphrase');
    expect(await loadDataKey(db)).toBe('locked');
    await expect(unlockVault(db, 'wrong horse')).rejects.toBeInstanceOf(WrongPassphraseError);
    const unlocked = await unlockVault(db, 'correct horse');
    const reopened = new SealedStore(db, unlocked, `lock-${name}`);
    expect(await reopened.get('messages', 'm1')).toEqual({ text: 'hello at rest', bytes: new Uint8Array([1, 2, 3]) });
    // The old key no longer opens anything: the rows were re-sealed.
    await expect(new SealedStore(db, key).get('messages', 'm1')).rejects.toThrow();
    const meta = await db.get('meta', 'vault');
    expect(meta).not.toHaveProperty('key');

    const device = await removePassphrase(db, 'correct horse');
    expect(await vaultMode(db)).toBe('device');
    expect(await new SealedStore(db, device).get('messages', 'm1')).toMatchObject({ text: 'hello at rest' });
    db.close();
  });

  it('should refuse a passphrase under ten characters, and derive new ones at the raised Argon2id cost', async () => {
    const { db, key } = await openStore();
    await expect(setPassphrase(db, key, 'abc')).rejects.toThrow(RangeError);
    await expect(setPassphrase(db, key, '123456789')).rejects.toThrow(RangeError);
    expect(await vaultMode(db)).toBe('device');
    await setPassphrase(db, key, '1234567890');
    const header = (await db.get('meta', 'vault')) as { opslimit: number; memlimit: number };
    expect(header).toMatchObject({ opslimit: 3, memlimit: 96 * 1024 * 1024 });
    db.close();
  });
});

describe(SealedStore.name, () => {
  it('should store no plaintext in IndexedDB', async () => {
    const { db, store } = await openStore();
    await store.transaction((tx) => {
      tx.put('messages', 'conv-a/0001', { text: 'canary-plaintext-42' });
      tx.put('identity', 'self', { privateKey: new Uint8Array(32).fill(7) });
    });
    const rows = await db.getAll('records');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(contains(row.data, 'canary-plaintext-42')).toBe(false);
      expect(contains(row.data, 'privateKey')).toBe(false);
    }
    expect(await store.get('messages', 'conv-a/0001')).toEqual({ text: 'canary-plaintext-42' });
    db.close();
  });

  it('should refuse a row moved under another key', async () => {
    const { db, store } = await openStore();
    await store.transaction((tx) => tx.put('sessions', 'alice', { state: 1 }));
    const row = await db.get('records', ['sessions', 'alice']);
    await db.put('records', { ...row!, key: 'bob' });
    await expect(store.get('sessions', 'bob')).rejects.toThrow();
    db.close();
  });

  it('should write nothing when the transaction callback throws', async () => {
    const { db, store } = await openStore();
    await store.transaction((tx) => tx.put('outbox', 'a', 1));
    await expect(
      store.transaction((tx) => {
        tx.put('outbox', 'b', 2);
        tx.delete('outbox', 'a');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.list('outbox')).map((e) => e.key)).toEqual(['a']);
    db.close();
  });

  it('should let a transaction read its own writes and list in key order with paging', async () => {
    const { db, store } = await openStore();
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
    db.close();
  });

  it('should serialize concurrent transactions so read-modify-write never loses an update', async () => {
    const { db, store } = await openStore();
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
    db.close();
  });

  it("should see another context's writes even after caching what it opened", async () => {
    const name = freshName();
    const { db, store: first } = await openStore(name);
    const key = await loadDataKey(db);
    if (key === 'locked') throw new Error('unexpected lock');
    const second = new SealedStore(db, key, `lock-${name}`);
    await first.transaction((tx) => tx.put('sessions', 'peer.1', { counter: 1 }));
    expect(await second.get('sessions', 'peer.1')).toEqual({ counter: 1 });
    await first.transaction((tx) => tx.put('sessions', 'peer.1', { counter: 2 }));
    expect(await second.get('sessions', 'peer.1')).toEqual({ counter: 2 });
    await first.transaction((tx) => tx.delete('sessions', 'peer.1'));
    expect(await second.get('sessions', 'peer.1')).toBeUndefined();
    // What a reader gets is its own copy: changing it changes nothing stored or cached.
    await first.transaction((tx) => tx.put('sessions', 'peer.2', { list: [1] }));
    const copy = (await second.get<{ list: number[] }>('sessions', 'peer.2'))!;
    copy.list.push(2);
    expect(await second.get('sessions', 'peer.2')).toEqual({ list: [1] });
    db.close();
  });

  it('should notify listeners only after the commit, with the changed tables', async () => {
    const { db, store } = await openStore();
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
    db.close();
  });
});
