/**
 * Seals and opens one IndexedDB row with the vault's AES-256-GCM data key (WebCrypto). The row's logical table
 * and key are bound as additional data, so a row copied under another key fails to open. It does not manage the
 * key (vault.ts) nor touch IndexedDB.
 */
import { decodeValue, encodeValue } from './codec.js';
import type { SealedRow } from './idb/schema.js';

/** AES-GCM's standard nonce size; random nonces are safe far beyond the number of writes a device makes. */
const IV_BYTES = 12;

const encoder = new TextEncoder();

function rowAad(store: string, key: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`cove:row:v1\u0000${store}\u0000${key}`);
}

/** Encrypts `value` as the row `(store, key)`. */
export async function sealRow(dataKey: CryptoKey, store: string, key: string, value: unknown): Promise<SealedRow> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = encodeValue(value) as Uint8Array<ArrayBuffer>;
  const data = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: rowAad(store, key) }, dataKey, plain),
  );
  plain.fill(0);
  return { store, key, iv, data };
}

/** Decrypts a row; throws if it was tampered with, moved, or sealed under another key. */
export async function openRow<T>(dataKey: CryptoKey, row: SealedRow): Promise<T> {
  const plain = new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: row.iv as Uint8Array<ArrayBuffer>, additionalData: rowAad(row.store, row.key) },
      dataKey,
      row.data as Uint8Array<ArrayBuffer>,
    ),
  );
  try {
    return decodeValue<T>(plain);
  } finally {
    plain.fill(0);
  }
}
