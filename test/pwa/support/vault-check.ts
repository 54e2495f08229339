/**
 * Checks, outside the browser, that every row a PWA profile stored opens under the vault's current keys: the
 * IndexedDB is read as stored (from a page of the origin that does not run the app), the wrapped keys are unwrapped
 * with the passphrase here in Node (libsodium Argon2id, WebCrypto AES-GCM), and every row is decrypted. It knows
 * both storage formats: schema version 1 (`records`, readable keys, one data key) and version 2 (`rows`, keyed-hash
 * ids, data and index key wrapped together with the epoch bound). It asserts nothing itself.
 */
import type { Page } from 'playwright-core';

type Raw = {
  header: Record<string, unknown>;
  records: { store: string; key: string; iv: string; data: string }[];
  rows: { id: string; t: string; p?: string; e: number; iv: string; data: string }[];
};

export type VaultCheck = {
  /** The header's key epoch (0 for a schema-version-1 vault). */
  epoch: number;
  rows: number;
  /** Ids (or `store/key` of version-1 rows) of rows that do not open under the current keys. */
  unreadable: string[];
  /** Rows sealed in another epoch than the header's. */
  otherEpoch: number;
  /** The opened plaintexts, to look for expected content. */
  plaintexts: string[];
  /** Schema-version-1 rows still stored (readable keys). */
  legacyRows: number;
  /** Everything IndexedDB shows of the version-2 rows without a key: ids, table and partition tags, epochs. */
  visibleKeys: string;
};

/** Reads the raw database from `page`, which must be a page of the origin (the app need not run in it). */
async function readRaw(page: Page): Promise<Raw> {
  return page.evaluate(async () => {
    const b64 = (b: Uint8Array) => {
      let s = '';
      for (const x of b) s += String.fromCharCode(x);
      return btoa(s);
    };
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('cove');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const all = (store: string) =>
      new Promise<unknown[]>((resolve, reject) => {
        if (!db.objectStoreNames.contains(store)) return resolve([]);
        const req = db.transaction(store, 'readonly').objectStore(store).getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error ?? new Error('read failed'));
      });
    const header = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = db.transaction('meta', 'readonly').objectStore('meta').get('vault');
      req.onsuccess = () => resolve(req.result as Record<string, unknown>);
      req.onerror = () => reject(req.error ?? new Error('read failed'));
    });
    const plainHeader = Object.fromEntries(
      Object.entries(header).map(([k, v]) => [k, v instanceof Uint8Array ? { $b64: b64(v) } : v]),
    );
    const records = (await all('records')) as { store: string; key: string; iv: Uint8Array; data: Uint8Array }[];
    const rows = (await all('rows')) as {
      id: string;
      t: string;
      p?: string;
      e: number;
      iv: Uint8Array;
      data: Uint8Array;
    }[];
    db.close();
    return {
      header: plainHeader,
      records: records.map((r) => ({ store: r.store, key: r.key, iv: b64(r.iv), data: b64(r.data) })),
      rows: rows.map((r) => ({
        id: r.id,
        t: r.t,
        ...(r.p ? { p: r.p } : {}),
        e: r.e,
        iv: b64(r.iv),
        data: b64(r.data),
      })),
    };
  });
}

const bytes = (value: unknown): Uint8Array<ArrayBuffer> =>
  new Uint8Array(Buffer.from(typeof value === 'string' ? value : (value as { $b64: string }).$b64, 'base64'));

/** Unwraps the keys of a passphrase vault with `passphrase` and opens every row with them. */
export async function checkAllRowsOpen(page: Page, passphrase: string): Promise<VaultCheck> {
  const raw = await readRaw(page);
  const h = raw.header;
  if (h.mode !== 'passphrase') throw new Error('the vault has no passphrase');
  const { default: sodium } = await import('libsodium-wrappers-sumo');
  await sodium.ready;
  const kek = sodium.crypto_pwhash(
    32,
    passphrase,
    bytes(h.salt),
    h.opslimit as number,
    h.memlimit as number,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  const subtle = globalThis.crypto.subtle;
  const kekKey = await subtle.importKey('raw', kek as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
  const epoch = h.version === 2 ? (h.epoch as number) : 0;
  const encoder = new TextEncoder();
  const wrapAad = h.version === 2 ? { additionalData: encoder.encode(`cove:vault:v2\u0000${epoch}`) } : {};
  const unwrapped = new Uint8Array(
    await subtle.decrypt({ name: 'AES-GCM', iv: bytes(h.iv), ...wrapAad }, kekKey, bytes(h.wrapped)),
  );
  const dataKey = await subtle.importKey('raw', unwrapped.subarray(0, 32), 'AES-GCM', false, ['decrypt']);
  const decoder = new TextDecoder();
  const unreadable: string[] = [];
  const plaintexts: string[] = [];
  const attempt = async (name: string, iv: string, data: string, aad: string) => {
    try {
      const plain = await subtle.decrypt(
        { name: 'AES-GCM', iv: bytes(iv), additionalData: encoder.encode(aad) },
        dataKey,
        bytes(data),
      );
      plaintexts.push(decoder.decode(plain));
    } catch {
      unreadable.push(name);
    }
  };
  for (const r of raw.records)
    await attempt(`${r.store}/${r.key}`, r.iv, r.data, `cove:row:v1\u0000${r.store}\u0000${r.key}`);
  for (const r of raw.rows) await attempt(r.id, r.iv, r.data, `cove:row:v2\u0000${r.id}\u0000${r.e}`);
  return {
    epoch,
    rows: raw.records.length + raw.rows.length,
    unreadable,
    otherEpoch: raw.rows.filter((r) => r.e !== epoch).length,
    plaintexts,
    legacyRows: raw.records.length,
    visibleKeys: JSON.stringify(raw.rows.map((r) => [r.id, r.t, r.p, r.e])),
  };
}
