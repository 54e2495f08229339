/**
 * Composition root of the browser platform for the client core: IndexedDB storage encrypted at rest (rows and
 * attachment blobs), fetch (text and binary), WebSocket, the
 * real clock, WebCrypto randomness, Web Locks and a logger that keeps only warnings and errors (ids and codes,
 * never content). Used by pages and the service worker. Opening fails with `'locked'` while a passphrase is needed;
 * opening also migrates a profile written by an older storage format (vault.ts).
 */
import type { Clock, LockManager, Logger, Platform, Random, TimerHandle } from '@cove/client';
import { openCoveDatabase } from './idb/database.js';
import type { CoveDatabase } from './idb/schema.js';
import { withLock } from './locks.js';
import { FetchBinaryTransport } from './net/binary-http.js';
import { FetchTransport } from './net/http.js';
import { BrowserSocketFactory } from './net/socket.js';
import { AtRestStorage } from './at-rest-storage.js';
import { EncryptedBlobStore } from './encrypted-blob-store.js';
import { EncryptedRowStore } from './encrypted-row-store.js';
import { loadVaultKeys, unlockVault, type VaultKeys } from './vault.js';

const clock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => ({ id: globalThis.setTimeout(callback, ms) }),
  clearTimeout: (handle: TimerHandle) => globalThis.clearTimeout(handle.id as number),
};

const random: Random = {
  bytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
};

/** Lock names are prefixed so they cannot collide with another app's on the same origin. */
const locks: LockManager = { withLock: (name, fn) => withLock(`cove:${name}`, fn) };

function consoleLogger(context: string): Logger {
  const write = (level: 'warn' | 'error', message: string, fields?: Record<string, string | number | boolean>) => {
    // eslint-disable-next-line no-console -- the only sink for diagnostics in a browser; fields carry no user data
    console[level](`[cove:${context}] ${message}`, fields ?? {});
  };
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export type BrowserPlatform = Platform & { database: CoveDatabase; rows: EncryptedRowStore };

/** A random id for this page or worker, to tell our own commit notices from other contexts'. */
export const CONTEXT_ID = crypto.randomUUID();

function assemble(db: CoveDatabase, keys: VaultKeys, context: string): BrowserPlatform {
  // After a re-key elsewhere, the new keys are only available without a passphrase (else: locked until unlocked).
  const rows = new EncryptedRowStore(db, keys, () => loadVaultKeys(db));
  return {
    database: db,
    rows,
    storage: new AtRestStorage(rows, CONTEXT_ID),
    http: new FetchTransport(),
    binaryHttp: new FetchBinaryTransport(),
    attachments: new EncryptedBlobStore(db, rows),
    sockets: new BrowserSocketFactory(),
    clock,
    random,
    locks,
    logger: consoleLogger(context),
  };
}

/** Opens the platform, or reports that the vault needs its passphrase first. */
export async function openBrowserPlatform(
  context: 'page' | 'worker',
  db?: CoveDatabase,
): Promise<BrowserPlatform | { locked: CoveDatabase }> {
  const database = db ?? (await openCoveDatabase());
  const keys = await loadVaultKeys(database);
  if (keys === 'locked') return { locked: database };
  return assemble(database, keys, context);
}

/** Opens a passphrase-protected platform; throws `WrongPassphraseError` on a wrong passphrase. */
export async function unlockBrowserPlatform(
  db: CoveDatabase,
  passphrase: string,
  context: 'page' | 'worker',
): Promise<BrowserPlatform> {
  return assemble(db, await unlockVault(db, passphrase), context);
}
