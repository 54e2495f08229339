/**
 * User preferences that are not secret (language, notification previews), kept in plain IndexedDB `meta` so the
 * service worker can honour them while the vault is locked. Nothing here identifies a contact or a message.
 */
import type { CoveDatabase } from './idb/schema.js';

const SETTINGS_KEY = 'settings';

export type StoredSettings = { language: string | null; previews: boolean };

/** Previews are on by default, as in most messengers; the setting is one tap away. */
const DEFAULTS: StoredSettings = { language: null, previews: true };

export async function readSettings(db: CoveDatabase): Promise<StoredSettings> {
  const stored = (await db.get('meta', SETTINGS_KEY)) as Partial<StoredSettings> | undefined;
  return { ...DEFAULTS, ...stored };
}

export async function writeSettings(db: CoveDatabase, patch: Partial<StoredSettings>): Promise<StoredSettings> {
  const tx = db.transaction('meta', 'readwrite');
  const current = { ...DEFAULTS, ...((await tx.store.get(SETTINGS_KEY)) as Partial<StoredSettings> | undefined) };
  const next = { ...current, ...patch };
  await tx.store.put(next, SETTINGS_KEY);
  await tx.done;
  return next;
}
