/**
 * The vault: the keys that seal every sensitive IndexedDB row (AES-256-GCM data key) and name it (HMAC-SHA-256
 * index key, see row-cipher.ts), and the key epoch they belong to.
 *
 * Without a passphrase both keys are non-extractable WebCrypto `CryptoKey`s stored in IndexedDB itself (script can
 * use them, never read them). With a passphrase, IndexedDB holds only the keys' bytes wrapped under a key derived
 * with Argon2id (libsodium `crypto_pwhash`, parameters stored beside the wrapped keys), and nothing (not even the
 * service worker) can decrypt until it is unlocked.
 *
 * Re-keying (setting a passphrase: a non-extractable key cannot be wrapped, so new keys are drawn; migrating a
 * schema-version-1 profile) re-seals every row and bumps the epoch. It derives the new keys first, then holds the
 * vault lock (locks.ts) exclusively for its whole read-modify-write, while every commit holds it shared
 * (encrypted-row-store.ts); a commit also checks, inside its IndexedDB transaction, that the header's epoch is the one
 * its keys belong to, so a context still holding discarded keys is refused (`StaleKeyError`), reloads the keys and
 * retries, or learns that the vault is now locked. It does not remember the passphrase, and keeps unlocked keys
 * only in the memory of the context that unlocked them.
 */
import { withLock, VAULT_LOCK } from './locks.js';
import { openLegacyRow, openRow, sealRow, type VaultKeys } from './row-cipher.js';
import type { CoveDatabase, EncryptedRow } from './idb/schema.js';

export type { VaultKeys } from './row-cipher.js';

/** The `meta` row holding the vault header. */
export const VAULT_HEADER_KEY = 'vault';
const HEADER_KEY = VAULT_HEADER_KEY;
/** AES-GCM nonce size for the wrapped keys. */
const IV_BYTES = 12;
/** libsodium's crypto_pwhash_SALTBYTES. */
const SALT_BYTES = 16;
/** AES-256 data key and HMAC-SHA-256 index key: 32 bytes each, wrapped together. */
const KEY_BYTES = 32;
/** The epoch of the first keys of a profile, and of a profile migrated from schema version 1 (whose rows had none). */
const FIRST_EPOCH = 1;
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

type DeviceHeader = { version: 2; mode: 'device'; epoch: number; key: CryptoKey; index: CryptoKey };
type PassphraseHeader = {
  version: 2;
  mode: 'passphrase';
  epoch: number;
  salt: Uint8Array;
  opslimit: number;
  memlimit: number;
  iv: Uint8Array;
  /** AES-GCM under Argon2id(passphrase) of data key ‖ index key, with the epoch as additional data. */
  wrapped: Uint8Array;
};
/** Schema version 1 headers: one data key, no index key, no epoch. */
type LegacyDeviceHeader = { version: 1; mode: 'device'; key: CryptoKey };
type LegacyPassphraseHeader = Omit<PassphraseHeader, 'version' | 'epoch'> & { version: 1 };
type VaultHeader = DeviceHeader | PassphraseHeader | LegacyDeviceHeader | LegacyPassphraseHeader;

export type VaultMode = 'device' | 'passphrase';

/** Thrown when the passphrase does not open the vault. */
export class WrongPassphraseError extends Error {
  constructor() {
    super('The passphrase is not correct.');
    this.name = 'WrongPassphraseError';
  }
}

/** Thrown at a context whose keys belong to an epoch the vault has left: it must reload them (and retry). */
export class StaleKeyError extends Error {
  constructor(
    readonly heldEpoch: number,
    readonly vaultEpoch: number | null,
  ) {
    super(`the vault was re-keyed (epoch ${heldEpoch} → ${vaultEpoch ?? 'none'}): reload the keys`);
    this.name = 'StaleKeyError';
  }
}

/** Thrown when the keys were reloaded after a re-key but the vault now needs its passphrase. */
export class VaultLockedError extends Error {
  constructor() {
    super('the vault is locked: unlock it with the passphrase');
    this.name = 'VaultLockedError';
  }
}

async function readHeader(db: CoveDatabase): Promise<VaultHeader | undefined> {
  return (await db.get('meta', HEADER_KEY)) as VaultHeader | undefined;
}

/** The key epoch the vault is in (0 for a schema-version-1 vault), or null when it has no keys yet. */
export function headerEpoch(header: unknown): number | null {
  const h = header as Partial<VaultHeader> | undefined;
  if (!h) return null;
  return h.version === 2 && typeof h.epoch === 'number' ? h.epoch : 0;
}

/** The key epoch the vault is in now (see `headerEpoch`). */
export async function vaultEpoch(db: CoveDatabase): Promise<number | null> {
  return headerEpoch(await readHeader(db));
}

async function importDataKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ]);
}

async function importIndexKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
}

const newIndexKey = (): Promise<CryptoKey> =>
  crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: KEY_BYTES * 8 }, false, ['sign']);

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

const wrapAad = (epoch: number): Uint8Array<ArrayBuffer> => new TextEncoder().encode(`cove:vault:v2\u0000${epoch}`);

async function wrap(kek: CryptoKey, iv: Uint8Array, raw: Uint8Array, epoch: number): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: iv as Uint8Array<ArrayBuffer>, additionalData: wrapAad(epoch) },
      kek,
      raw as Uint8Array<ArrayBuffer>,
    ),
  );
}

/** Unwraps the raw key bytes of a passphrase header; throws `WrongPassphraseError` on a wrong passphrase. */
async function unwrapRaw(header: PassphraseHeader | LegacyPassphraseHeader, passphrase: string): Promise<Uint8Array> {
  const kek = await deriveWrappingKey(passphrase, header.salt, header.opslimit, header.memlimit);
  return unwrapWith(kek, header);
}

async function unwrapWith(kek: CryptoKey, header: PassphraseHeader | LegacyPassphraseHeader): Promise<Uint8Array> {
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: header.iv as Uint8Array<ArrayBuffer>,
          ...(header.version === 2 ? { additionalData: wrapAad(header.epoch) } : {}),
        },
        kek,
        header.wrapped as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    throw new WrongPassphraseError();
  }
}

async function importKeys(raw: Uint8Array, epoch: number): Promise<VaultKeys> {
  const [data, index] = await Promise.all([
    importDataKey(raw.subarray(0, KEY_BYTES)),
    importIndexKey(raw.subarray(KEY_BYTES, 2 * KEY_BYTES)),
  ]);
  return { data, index, epoch };
}

/** Whether the vault needs a passphrase (or does not exist yet, reported as `device`). */
export async function vaultMode(db: CoveDatabase): Promise<VaultMode> {
  return (await readHeader(db))?.mode ?? 'device';
}

/**
 * Moves every schema-version-1 row (readable keys) to keyed-hash rows under `next`, and writes `nextHeader`, in one
 * IndexedDB transaction under the exclusive vault lock. Returns false (and changes nothing) when another context
 * migrated first.
 */
async function migrateLegacy(
  db: CoveDatabase,
  legacyKey: CryptoKey,
  next: VaultKeys,
  nextHeader: DeviceHeader | PassphraseHeader,
): Promise<boolean> {
  return withLock(VAULT_LOCK, async () => {
    if ((await readHeader(db))?.version !== 1) return false;
    const legacy = await db.getAll('records');
    const sealed = await Promise.all(
      legacy.map(async (row) => sealRow(next, row.store, row.key, await openLegacyRow(legacyKey, row))),
    );
    const tx = db.transaction(['meta', 'records', 'rows'], 'readwrite');
    const still = (await tx.objectStore('meta').get(HEADER_KEY)) as VaultHeader | undefined;
    if (still?.version !== 1) {
      tx.abort();
      await tx.done.catch(() => undefined);
      return false;
    }
    for (const row of sealed) void tx.objectStore('rows').put(row);
    void tx.objectStore('records').clear();
    void tx.objectStore('meta').put(nextHeader, HEADER_KEY);
    await tx.done;
    return true;
  });
}

/**
 * Returns the vault keys when no passphrase is set, creating them on first use and migrating a schema-version-1
 * profile on the way; returns `'locked'` when a passphrase is required (see `unlockVault`).
 */
export async function loadVaultKeys(db: CoveDatabase): Promise<VaultKeys | 'locked'> {
  for (;;) {
    const header = await readHeader(db);
    if (header?.mode === 'passphrase') return 'locked';
    if (header?.version === 2) return { data: header.key, index: header.index, epoch: header.epoch };
    if (header?.version === 1) {
      const index = await newIndexKey();
      const next: VaultKeys = { data: header.key, index, epoch: FIRST_EPOCH };
      const nextHeader: DeviceHeader = { version: 2, mode: 'device', epoch: FIRST_EPOCH, key: header.key, index };
      if (await migrateLegacy(db, header.key, next, nextHeader)) return next;
      continue;
    }
    const [key, index] = await Promise.all([
      crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
      newIndexKey(),
    ]);
    const tx = db.transaction('meta', 'readwrite');
    if ((await tx.store.get(HEADER_KEY)) === undefined) {
      const created: DeviceHeader = { version: 2, mode: 'device', epoch: FIRST_EPOCH, key, index };
      await tx.store.put(created, HEADER_KEY);
      await tx.done;
      return { data: key, index, epoch: FIRST_EPOCH };
    }
    // Another context created the vault first: use theirs.
    await tx.done;
  }
}

/**
 * Opens a passphrase-protected vault (migrating a schema-version-1 profile on the way); throws
 * `WrongPassphraseError` on a wrong passphrase. Without a passphrase it returns the device keys.
 */
export async function unlockVault(db: CoveDatabase, passphrase: string): Promise<VaultKeys> {
  for (;;) {
    const header = await readHeader(db);
    if (header?.mode !== 'passphrase') {
      const keys = await loadVaultKeys(db);
      if (keys === 'locked') continue;
      return keys;
    }
    if (header.version === 2) {
      const raw = await unwrapRaw(header, passphrase);
      try {
        return await importKeys(raw, header.epoch);
      } finally {
        raw.fill(0);
      }
    }
    // Schema version 1: the same wrapping key (same salt and cost) now wraps the data key and a new index key.
    const kek = await deriveWrappingKey(passphrase, header.salt, header.opslimit, header.memlimit);
    const legacyRaw = await unwrapWith(kek, header);
    const raw = new Uint8Array(2 * KEY_BYTES);
    raw.set(legacyRaw);
    raw.set(crypto.getRandomValues(new Uint8Array(KEY_BYTES)), KEY_BYTES);
    legacyRaw.fill(0);
    try {
      const next = await importKeys(raw, FIRST_EPOCH);
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const nextHeader: PassphraseHeader = {
        version: 2,
        mode: 'passphrase',
        epoch: FIRST_EPOCH,
        salt: header.salt,
        opslimit: header.opslimit,
        memlimit: header.memlimit,
        iv,
        wrapped: await wrap(kek, iv, raw, FIRST_EPOCH),
      };
      if (await migrateLegacy(db, next.data, next, nextHeader)) return next;
    } finally {
      raw.fill(0);
    }
  }
}

/**
 * Protects the vault with `passphrase` (or changes it): derives the wrapping key and draws fresh keys first, then,
 * holding the vault lock exclusively, re-seals every row under the new keys and stores them wrapped, with the
 * epoch bumped, all in one IndexedDB transaction. `onRekeyed` runs before the lock is released, so the caller's
 * store uses the new keys before any other commit can start. Throws `StaleKeyError` if `current` is not the
 * vault's current epoch. Returns the new (non-extractable) keys.
 */
export async function setPassphrase(
  db: CoveDatabase,
  current: VaultKeys,
  passphrase: string,
  onRekeyed?: (keys: VaultKeys) => void,
): Promise<VaultKeys> {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new RangeError('passphrase too short');
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const raw = crypto.getRandomValues(new Uint8Array(2 * KEY_BYTES));
  try {
    // The slow part (Argon2id) happens before the lock, so other contexts wait only for the re-sealing.
    const kek = await deriveWrappingKey(passphrase, salt, ARGON_OPSLIMIT, ARGON_MEMLIMIT);
    const epoch = current.epoch + 1;
    const next = await importKeys(raw, epoch);
    const wrapped = await wrap(kek, iv, raw, epoch);
    const header: PassphraseHeader = {
      version: 2,
      mode: 'passphrase',
      epoch,
      salt,
      opslimit: ARGON_OPSLIMIT,
      memlimit: ARGON_MEMLIMIT,
      iv,
      wrapped,
    };
    return await withLock(VAULT_LOCK, async () => {
      const held = await vaultEpoch(db);
      if (held !== current.epoch) throw new StaleKeyError(current.epoch, held);
      const rows = await db.getAll('rows');
      const resealed: EncryptedRow[] = await Promise.all(
        rows.map(async (row) => {
          const { table, key, value } = await openRow(current, row);
          return sealRow(next, table, key, value);
        }),
      );
      const tx = db.transaction(['meta', 'rows'], 'readwrite');
      void tx.objectStore('rows').clear();
      for (const row of resealed) void tx.objectStore('rows').put(row);
      void tx.objectStore('meta').put(header, HEADER_KEY);
      await tx.done;
      onRekeyed?.(next);
      return next;
    });
  } finally {
    raw.fill(0);
  }
}

/**
 * Removes the passphrase after checking it: the same keys (same epoch: no row changes) go back into IndexedDB as
 * non-extractable keys. Returns them.
 */
export async function removePassphrase(db: CoveDatabase, passphrase: string): Promise<VaultKeys> {
  const keys = await unlockVault(db, passphrase);
  return withLock(VAULT_LOCK, async () => {
    const header = await readHeader(db);
    if (header?.mode !== 'passphrase') throw new Error('no passphrase is set');
    const held = headerEpoch(header);
    if (held !== keys.epoch) throw new StaleKeyError(keys.epoch, held);
    const device: DeviceHeader = { version: 2, mode: 'device', epoch: keys.epoch, key: keys.data, index: keys.index };
    await db.put('meta', device, HEADER_KEY);
    return keys;
  });
}

/**
 * Changes the passphrase: checks `current` by unwrapping the keys, then wraps the same key bytes under `next`
 * (fresh salt and nonce, this build's Argon2id cost), same epoch: no row changes, and the other tabs keep working with
 * the keys they hold. Throws `WrongPassphraseError` when `current` is wrong, and `StaleKeyError` when the vault
 * changed between the check and the write (another tab changed or removed the passphrase meanwhile: nothing is
 * written, the user tries again).
 */
export async function changePassphrase(db: CoveDatabase, current: string, next: string): Promise<void> {
  if (next.length < MIN_PASSPHRASE_LENGTH) throw new RangeError('passphrase too short');
  const header = await readHeader(db);
  if (header?.mode !== 'passphrase' || header.version !== 2) throw new Error('no passphrase is set');
  const raw = await unwrapRaw(header, current);
  try {
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const kek = await deriveWrappingKey(next, salt, ARGON_OPSLIMIT, ARGON_MEMLIMIT);
    const changed: PassphraseHeader = {
      version: 2,
      mode: 'passphrase',
      epoch: header.epoch,
      salt,
      opslimit: ARGON_OPSLIMIT,
      memlimit: ARGON_MEMLIMIT,
      iv,
      wrapped: await wrap(kek, iv, raw, header.epoch),
    };
    await withLock(VAULT_LOCK, async () => {
      const still = await readHeader(db);
      const same =
        still?.mode === 'passphrase' &&
        still.version === 2 &&
        still.epoch === header.epoch &&
        still.wrapped.length === header.wrapped.length &&
        still.wrapped.every((byte, i) => byte === header.wrapped[i]);
      if (!same) throw new StaleKeyError(header.epoch, headerEpoch(still));
      await db.put('meta', changed, HEADER_KEY);
    });
  } finally {
    raw.fill(0);
  }
}
