/**
 * Encryption of profile fields (name, about line with its emoji, avatar image) under the profile key, so the server
 * stores only ciphertext. Each field: plaintext = 4-byte big-endian length ‖ bytes ‖ zeros up to the field's next
 * size bucket (the length of a name or an avatar shows only its bucket), sealed with AES-256-GCM under a key derived
 * from the profile key, a fresh 12-byte nonce, and associated data naming the field and the account, so the server
 * cannot swap fields or serve one account's ciphertext as another's. Wire form: 0x01 ‖ nonce ‖ ciphertext ‖ tag.
 * Works on bytes: does not encode text, check graphemes or image formats (the client does); checks only sizes.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

import { ErrorCode, fail } from '../errors.js';
import { defaultRng, type Rng } from '../primitives/random.js';
import { profileFieldKey } from './profile-key.js';

export type ProfileField = 'name' | 'about' | 'avatar';

/** Format byte of the wire form; a reader refuses any other. */
const FORMAT_V1 = 0x01;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const LENGTH_PREFIX = 4;
/** Bytes the wire form adds to the padded plaintext: format byte, nonce, tag. */
export const PROFILE_CIPHER_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE;

/**
 * Size buckets (bytes of content before the length prefix). Names: 64 holds any Latin or CJK name of up to 26
 * graphemes, 256 the rest (emoji sequences); abouts: 128/256/512; avatars: powers of two from 8 KiB (a 256×256 JPEG
 * is typically 10–40 KiB) to 128 KiB, the largest avatar accepted.
 */
export const PROFILE_BUCKETS: Readonly<Record<ProfileField, readonly number[]>> = {
  name: [64, 256],
  about: [128, 256, 512],
  avatar: [8192, 16384, 32768, 65536, 131072],
};

/** Largest content of each field in bytes (its last bucket). */
export function profileFieldMaxBytes(field: ProfileField): number {
  const buckets = PROFILE_BUCKETS[field];
  return buckets[buckets.length - 1] as number;
}

/** Every length a well-formed ciphertext of `field` may have: one per bucket. */
export function profileCiphertextSizes(field: ProfileField): number[] {
  return PROFILE_BUCKETS[field].map((b) => b + LENGTH_PREFIX + PROFILE_CIPHER_OVERHEAD);
}

function associatedData(field: ProfileField, accountId: string): Uint8Array {
  return utf8ToBytes(`cove-profile-v1:${field}:${accountId.toLowerCase()}`);
}

/** Encrypts one field's bytes; throws InvalidArgument when they exceed the field's largest bucket. */
export function encryptProfileField(
  profileKey: Uint8Array,
  accountId: string,
  field: ProfileField,
  content: Uint8Array,
  rng: Rng = defaultRng,
): Uint8Array {
  const bucket = PROFILE_BUCKETS[field].find((b) => b >= content.length);
  if (bucket === undefined)
    fail(ErrorCode.InvalidArgument, 'encryptProfileField', `${field} exceeds ${profileFieldMaxBytes(field)} bytes`);
  const padded = new Uint8Array(LENGTH_PREFIX + bucket);
  new DataView(padded.buffer).setUint32(0, content.length);
  padded.set(content, LENGTH_PREFIX);
  const nonce = rng(NONCE_SIZE);
  const sealed = gcm(profileFieldKey(profileKey), nonce, associatedData(field, accountId)).encrypt(padded);
  const out = new Uint8Array(1 + NONCE_SIZE + sealed.length);
  out[0] = FORMAT_V1;
  out.set(nonce, 1);
  out.set(sealed, 1 + NONCE_SIZE);
  return out;
}

/**
 * Decrypts one field; throws InvalidMessage for anything but a ciphertext of this field and account under this key
 * with a bucket-sized, well-formed padding (wrong key, truncation, another field or account, unknown format).
 */
export function decryptProfileField(
  profileKey: Uint8Array,
  accountId: string,
  field: ProfileField,
  ciphertext: Uint8Array,
): Uint8Array {
  const op = 'decryptProfileField';
  if (!profileCiphertextSizes(field).includes(ciphertext.length))
    fail(ErrorCode.InvalidMessage, op, `not a ${field} ciphertext (length)`);
  if (ciphertext[0] !== FORMAT_V1) fail(ErrorCode.InvalidMessage, op, 'unknown profile ciphertext format');
  const nonce = ciphertext.subarray(1, 1 + NONCE_SIZE);
  let padded: Uint8Array;
  try {
    padded = gcm(profileFieldKey(profileKey), nonce, associatedData(field, accountId)).decrypt(
      ciphertext.subarray(1 + NONCE_SIZE),
    );
  } catch {
    fail(ErrorCode.InvalidMessage, op, `${field} does not authenticate`);
  }
  const length = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(0);
  if (length > padded.length - LENGTH_PREFIX) fail(ErrorCode.InvalidMessage, op, 'bad length');
  for (let i = LENGTH_PREFIX + length; i < padded.length; i++)
    if (padded[i] !== 0) fail(ErrorCode.InvalidMessage, op, 'bad padding');
  return padded.slice(LENGTH_PREFIX, LENGTH_PREFIX + length);
}
