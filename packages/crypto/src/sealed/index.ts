/**
 * Sealed sender (v1 and v2) with libsignal-client's names: certificates, the sealed content, the envelopes, the
 * server's per-recipient extraction and the store-bound encrypt/decrypt functions. Re-exported by the package root.
 */
export { ServerCertificate, SenderCertificate } from './certificates.js';
export { ContentHint, UnidentifiedSenderMessageContent, type SealableMessage } from './unidentified-content.js';
export {
  SealedSenderMultiRecipientMessage,
  sealedSenderMultiRecipientMessageForSingleRecipient,
  type Recipient,
} from './multi-recipient-message.js';
export {
  SealedSenderDecryptionResult,
  type SealedSenderMultiRecipientEncryptOptions,
  sealedSenderEncrypt,
  sealedSenderEncryptMessage,
  sealedSenderMultiRecipientEncrypt,
  sealedSenderDecryptToUsmc,
  sealedSenderDecryptMessage,
} from './sealed-sender-cipher.js';
