/**
 * The profile key (Signal's model): 32 random bytes per account, created on the device and shared with contacts
 * only inside end-to-end encrypted content. From it derive the unidentified access key (sealed sender), the
 * profile version (the name under which the server keeps the profile encrypted with this key) and the key that
 * encrypts the profile's fields. Pure: no storage, no network; randomness is a parameter.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

import { ErrorCode, fail } from '../errors.js';
import { defaultRng, type Rng } from '../primitives/random.js';

/** Signal's profile key length: an AES-256 key. */
export const PROFILE_KEY_SIZE = 32;
/** Signal's unidentified access key length: the first 16 bytes of one AES-256-GCM block. */
export const ACCESS_KEY_SIZE = 16;
/** The version is 32 bytes written as 64 lower-case hex digits (the length of Signal's profile key version). */
export const PROFILE_VERSION_LENGTH = 64;

/** HKDF labels, each naming its one use so that no two derived values can coincide. */
const VERSION_INFO = 'Cove profile version v1:';
const FIELD_KEY_INFO = utf8ToBytes('Cove profile field key v1');

function checkKey(profileKey: Uint8Array, operation: string): void {
  if (!(profileKey instanceof Uint8Array) || profileKey.length !== PROFILE_KEY_SIZE)
    fail(ErrorCode.InvalidKey, operation, `a profile key has ${PROFILE_KEY_SIZE} bytes`);
}

/** A fresh random profile key. */
export function generateProfileKey(rng: Rng = defaultRng): Uint8Array {
  const key = rng(PROFILE_KEY_SIZE);
  if (key.length !== PROFILE_KEY_SIZE) fail(ErrorCode.InvalidArgument, 'generateProfileKey', 'short randomness');
  return key;
}

/**
 * The unidentified access key, exactly as Signal derives it (libsignal `ProfileKey::derive_access_key`,
 * Signal-Desktop `deriveAccessKey`): the first 16 bytes of AES-256-GCM under the profile key with a nonce of 12 zero
 * bytes over 16 zero bytes. A fixed nonce is safe here because the key encrypts only this one constant block.
 */
export function deriveAccessKey(profileKey: Uint8Array): Uint8Array {
  checkKey(profileKey, 'deriveAccessKey');
  const sealed = gcm(profileKey, new Uint8Array(12)).encrypt(new Uint8Array(ACCESS_KEY_SIZE));
  return sealed.slice(0, ACCESS_KEY_SIZE);
}

/**
 * The profile version for `accountId` (a UUID, read in lower case): HKDF-SHA256 of the profile key, bound to the
 * account, as 64 hex digits. The server files each profile ciphertext under it, so a contact holding an older key
 * asks for a version that no longer exists (404) instead of getting bytes it cannot read. It reveals nothing about
 * the key (a one-way function of it).
 */
export function profileKeyVersion(profileKey: Uint8Array, accountId: string): string {
  checkKey(profileKey, 'profileKeyVersion');
  const info = utf8ToBytes(VERSION_INFO + accountId.toLowerCase());
  const out = hkdf(sha256, profileKey, undefined, info, 32);
  let hex = '';
  for (const b of out) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** The AES-256-GCM key of the profile's fields: separate from the key itself, which the access key uses. */
export function profileFieldKey(profileKey: Uint8Array): Uint8Array {
  checkKey(profileKey, 'profileFieldKey');
  return hkdf(sha256, profileKey, undefined, FIELD_KEY_INFO, 32);
}
