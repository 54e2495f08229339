/**
 * The account backup cipher: how a client seals the account backup (identity key pair, ids, contacts, settings) with
 * a key derived from OPAQUE's export key, and opens it again after a password login on a new device (construction in
 * docs/password-login.md). `key = HKDF-SHA256(ikm = export key, salt = 32 zero bytes, info = "Cove account backup v1"
 * ‖ account id, 32)`; AES-256-GCM with a random 12-byte nonce, associated data `0x01 ‖ account id`. Wire format:
 * version byte 0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16). Binding the account id means a blob the server swaps in
 * from another account (even one sealed under the same password) does not open. Pure bytes in, bytes out: what the
 * plaintext means, and where the export key comes from, are the caller's business.
 */
import { gcm } from '@noble/ciphers/aes.js';

import { ErrorCode, fail } from '../errors.js';
import { concat, hkdf, hmacSha256, utf8 } from '../primitives/hash.js';
import { defaultRng, type Rng } from '../primitives/random.js';

/** The version of this construction; any other first byte is refused. */
export const ACCOUNT_BACKUP_VERSION = 1;
/** HKDF info label: a backup key never equals another key derived from the export key. */
const INFO_LABEL = 'Cove account backup v1';
/** OPAQUE's export key is 64 bytes (the hash length of its ristretto255/SHA-512 suite); shorter is not one. */
const MIN_EXPORT_KEY_BYTES = 32;
/** GCM's standard nonce; a few backups per key over its life, so random nonces never come close to colliding. */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES;

/** The 32-byte backup key of an account, derived from an OPAQUE export key (kept to re-seal later backups). */
export function deriveAccountBackupKey(exportKey: Uint8Array, accountId: string): Uint8Array {
  if (exportKey.length < MIN_EXPORT_KEY_BYTES)
    fail(ErrorCode.InvalidArgument, 'AccountBackup_Key', 'export key too short');
  return hkdf(exportKey, null, concat(utf8(INFO_LABEL), utf8(accountId.toLowerCase())), 32);
}

function associatedData(accountId: string): Uint8Array {
  return concat(Uint8Array.of(ACCOUNT_BACKUP_VERSION), utf8(accountId.toLowerCase()));
}

/** Seals a backup's plaintext with a key from {@link deriveAccountBackupKey}. */
export function sealAccountBackup(
  backupKey: Uint8Array,
  accountId: string,
  plaintext: Uint8Array,
  rng: Rng = defaultRng,
): Uint8Array {
  if (backupKey.length !== 32) fail(ErrorCode.InvalidArgument, 'AccountBackup_Seal', 'backup key must be 32 bytes');
  const nonce = rng(NONCE_BYTES);
  return concat(
    Uint8Array.of(ACCOUNT_BACKUP_VERSION),
    nonce,
    gcm(backupKey, nonce, associatedData(accountId)).encrypt(plaintext),
  );
}

/** Opens a sealed backup of `accountId`; any changed byte, another key or another account is `InvalidMessage`. */
export function openAccountBackup(backupKey: Uint8Array, accountId: string, sealed: Uint8Array): Uint8Array {
  if (backupKey.length !== 32) fail(ErrorCode.InvalidArgument, 'AccountBackup_Open', 'backup key must be 32 bytes');
  if (sealed.length < HEADER_BYTES + TAG_BYTES) fail(ErrorCode.InvalidMessage, 'AccountBackup_Open', 'too short');
  if (sealed[0] !== ACCOUNT_BACKUP_VERSION)
    fail(ErrorCode.InvalidMessage, 'AccountBackup_Open', 'unknown account backup version');
  try {
    return gcm(backupKey, sealed.subarray(1, HEADER_BYTES), associatedData(accountId)).decrypt(
      sealed.subarray(HEADER_BYTES),
    );
  } catch {
    return fail(ErrorCode.InvalidMessage, 'AccountBackup_Open', 'account backup does not authenticate');
  }
}

/**
 * A keyed digest of a backup's content, so a client can tell whether its current state differs from what it last
 * uploaded without keeping the content itself (HMAC-SHA256 under the backup key, label-separated).
 */
export function accountBackupDigest(backupKey: Uint8Array, content: Uint8Array): Uint8Array {
  return hmacSha256(backupKey, utf8('Cove account backup digest v1'), content);
}
