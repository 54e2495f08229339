/**
 * The vault: the AES-256-GCM data key that seals every sensitive IndexedDB row.
 *
 * Without a passphrase the key is a non-extractable WebCrypto `CryptoKey` stored in IndexedDB itself (script can
 * use it, never read it). With a passphrase, IndexedDB holds only the key's bytes wrapped under a key derived with
 * Argon2id (libsodium `crypto_pwhash`), and the app (and the service worker) cannot decrypt anything until it is
 * unlocked. Adding a passphrase rotates the data key and re-seals every row in one transaction, because a
 * non-extractable key cannot be wrapped. Callers hold the store lock (locks.ts) around changes. It does not
 * remember the passphrase, and keeps the unlocked key only in the memory of the context that unlocked it.
 */
import { openRow, sealRow } from './row-cipher.js';
import type { CoveDatabase, SealedRow } from './idb/schema.js';

const HEADER_KEY = 'vault';
/** AES-GCM nonce size for the wrapped key. */
const IV_BYTES = 12;
/** libsodium's crypto_pwhash_SALTBYTES. */
const SALT_BYTES = 16;
/**
 * Argon2id cost for new and changed passphrases: 3 passes over 96 MiB, between libsodium's "interactive" (2, 64 MiB)
 * and "moderate" (3, 256 MiB) levels. Measured in Chromium 156 on the shared 2-core test machine (load 11–13):
 * 0.7–0.9 s per derivation (outliers to 1.3 s), against 0.3–0.4 s for the old interactive cost; 256 MiB took 3–4 s
 * and may not fit a phone's tab. Vaults keep the parameters they were made with (stored with the wrapped key), so
 * older vaults still unlock and move to this cost when the passphrase is next set.
 */
export const ARGON_OPSLIMIT = 3;
export const ARGON_MEMLIMIT = 96 * 1024 * 1024;
/**
 * Shortest passphrase accepted, in characters: an attacker with the IndexedDB files can guess offline at the cost
 * above, so a passphrase must carry real entropy; ten characters is the floor, longer is better.
 */
export const MIN_PASSPHRASE_LENGTH = 10;

type DeviceHeader = { version: 1; mode: 'device'; key: CryptoKey };
type PassphraseHeader = {
  version: 1;
  mode: 'passphrase';
  salt: Uint8Array;
  opslimit: number;
  memlimit: number;
  iv: Uint8Array;
  wrapped: Uint8Array;
};
type VaultHeader = DeviceHeader | PassphraseHeader;

export type VaultMode = 'device' | 'passphrase';

/** Thrown when the passphrase does not open the vault. */
export class WrongPassphraseError extends Error {
  constructor() {
    super('The passphrase is not correct.');
    this.name = 'WrongPassphraseError';
  }
}

async function readHeader(db: CoveDatabase): Promise<VaultHeader | undefined> {
  return (await db.get('meta', HEADER_KEY)) as VaultHeader | undefined;
}

async function importDataKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ]);
}

async function deriveWrappingKey(passphrase: string, salt: Uint8Array, ops: number, mem: number): Promise<CryptoKey> {
  const { default: sodium } = await import('libsodium-wrappers-sumo');
  await sodium.ready;
  const bytes = sodium.crypto_pwhash(32, passphrase, salt, ops, mem, sodium.crypto_pwhash_ALG_ARGON2ID13);
  try {
    return await importDataKey(bytes);
  } finally {
    sodium.memzero(bytes);
  }
}

/** Whether the vault needs a passphrase (or does not exist yet, reported as `device`). */
export async function vaultMode(db: CoveDatabase): Promise<VaultMode> {
  return (await readHeader(db))?.mode ?? 'device';
}

/**
 * Returns the data key when no passphrase is set, creating it on first use; returns `'locked'` when a passphrase
 * is required (see `unlockVault`).
 */
export async function loadDataKey(db: CoveDatabase): Promise<CryptoKey | 'locked'> {
  const header = await readHeader(db);
  if (header?.mode === 'passphrase') return 'locked';
  if (header) return header.key;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const tx = db.transaction('meta', 'readwrite');
  const existing = (await tx.store.get(HEADER_KEY)) as VaultHeader | undefined;
  if (existing) {
    // Another context created the vault first: use theirs.
    await tx.done;
    return existing.mode === 'device' ? existing.key : 'locked';
  }
  await tx.store.put({ version: 1, mode: 'device', key } satisfies DeviceHeader, HEADER_KEY);
  await tx.done;
  return key;
}

async function unwrapRaw(header: PassphraseHeader, passphrase: string): Promise<Uint8Array> {
  const kek = await deriveWrappingKey(passphrase, header.salt, header.opslimit, header.memlimit);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: header.iv as Uint8Array<ArrayBuffer> },
        kek,
        header.wrapped as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    throw new WrongPassphraseError();
  }
}

/** Opens a passphrase-protected vault; throws `WrongPassphraseError` on a wrong passphrase. */
export async function unlockVault(db: CoveDatabase, passphrase: string): Promise<CryptoKey> {
  const header = await readHeader(db);
  if (header?.mode !== 'passphrase') {
    const key = await loadDataKey(db);
    if (key === 'locked') throw new WrongPassphraseError();
    return key;
  }
  const raw = await unwrapRaw(header, passphrase);
  try {
    return await importDataKey(raw);
  } finally {
    raw.fill(0);
  }
}

/**
 * Protects the vault with `passphrase`: draws a fresh data key, re-seals every row with it and stores the key
 * wrapped under Argon2id(passphrase), all in one IndexedDB transaction. Returns the new (non-extractable) key.
 */
export async function setPassphrase(db: CoveDatabase, currentKey: CryptoKey, passphrase: string): Promise<CryptoKey> {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new RangeError('passphrase too short');
  const rows = await db.getAll('records');
  const plain = await Promise.all(rows.map(async (row) => ({ row, value: await openRow<unknown>(currentKey, row) })));
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  try {
    const nextKey = await importDataKey(raw);
    const kek = await deriveWrappingKey(passphrase, salt, ARGON_OPSLIMIT, ARGON_MEMLIMIT);
    const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, kek, raw));
    const resealed: SealedRow[] = await Promise.all(
      plain.map(({ row, value }) => sealRow(nextKey, row.store, row.key, value)),
    );
    const header: PassphraseHeader = {
      version: 1,
      mode: 'passphrase',
      salt,
      opslimit: ARGON_OPSLIMIT,
      memlimit: ARGON_MEMLIMIT,
      iv,
      wrapped,
    };
    const tx = db.transaction(['meta', 'records'], 'readwrite');
    for (const row of resealed) void tx.objectStore('records').put(row);
    void tx.objectStore('meta').put(header, HEADER_KEY);
    await tx.done;
    return nextKey;
  } finally {
    raw.fill(0);
  }
}

/** Removes the passphrase after checking it: the same data key goes back into IndexedDB as a non-extractable key. */
export async function removePassphrase(db: CoveDatabase, passphrase: string): Promise<CryptoKey> {
  const header = await readHeader(db);
  if (header?.mode !== 'passphrase') throw new Error('no passphrase is set');
  const raw = await unwrapRaw(header, passphrase);
  try {
    const key = await importDataKey(raw);
    await db.put('meta', { version: 1, mode: 'device', key } satisfies DeviceHeader, HEADER_KEY);
    return key;
  } finally {
    raw.fill(0);
  }
}
