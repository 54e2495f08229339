/**
 * Attachment encryption (format v1: chunked AES-256-GCM, padded to size buckets, digest over chunk hashes; see
 * docs/attachments.md). Needs WebCrypto, not libsodium, so `ready()` is not required. Does not upload, download,
 * store or build pointers: that is the client's and the protocol package's work.
 */
export { AttachmentError, type AttachmentErrorKind } from './attachment-error.js';
export {
  ATTACHMENT_CHUNK_SIZE,
  ATTACHMENT_DIGEST_SIZE,
  ATTACHMENT_KEY_SIZE,
  ATTACHMENT_MAX_PADDED_SIZE,
  ATTACHMENT_TAG_SIZE,
  type AttachmentSecrets,
  blobSize as attachmentBlobSize,
} from './attachment-format.js';
export { ATTACHMENT_MIN_PADDED_SIZE, paddedSize as attachmentPaddedSize } from './attachment-padding.js';
export {
  type AttachmentEncryptionResult,
  type AttachmentEncryptor,
  type AttachmentEncryptorOptions,
  type AttachmentSink,
  createAttachmentEncryptor,
  encryptAttachment,
} from './attachment-encryptor.js';
export {
  type AttachmentSource,
  decryptAttachment,
  decryptAttachmentAsItArrives,
  decryptAttachmentBytes,
  decryptVerifiedAttachment,
  verifyAttachment,
  verifyAttachmentChunks,
} from './attachment-decryptor.js';
