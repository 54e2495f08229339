/**
 * Profiles (Signal's model): the profile key, the unidentified access key and profile version derived from it, and
 * the padded AES-256-GCM encryption of profile fields. See docs/profiles.md. No storage, no network, no images.
 */
export {
  ACCESS_KEY_SIZE,
  deriveAccessKey,
  generateProfileKey,
  PROFILE_KEY_SIZE,
  PROFILE_VERSION_LENGTH,
  profileKeyVersion,
} from './profile-key.js';
export {
  decryptProfileField,
  encryptProfileField,
  PROFILE_BUCKETS,
  PROFILE_CIPHER_OVERHEAD,
  type ProfileField,
  profileCiphertextSizes,
  profileFieldMaxBytes,
} from './profile-cipher.js';
