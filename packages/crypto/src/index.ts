/**
 * Public API of @cove/crypto: the Signal protocol (PQXDH, Double Ratchet with SPQR, XEdDSA, fingerprints) with
 * the class and function names of @signalapp/libsignal-client, so either can be imported under one name.
 * Call `await ready()` once before anything else.
 */
import { HKDF_MAX_OUTPUT } from './constants.js';
import { ErrorCode, fail } from './errors.js';
import { hkdf as hkdfSha256 } from './primitives/hash.js';

export { ready } from './primitives/sodium.js';
export type { X25519Backend } from './primitives/x25519.js';
export { libsodiumX25519, useX25519Backend, x25519Backend } from './primitives/x25519.js';
export { constantTimeEqual, equalBytes } from './primitives/bytes.js';
export type { Rng } from './primitives/random.js';
export { generateRegistrationId } from './primitives/random.js';
export { ErrorCode, SignalClientError, LibSignalErrorBase } from './errors.js';
export { PublicKey, PrivateKey, IdentityKeyPair } from './keys/curve.js';
export { KEMPublicKey, KEMSecretKey, KEMKeyPair } from './keys/kem.js';
export { ProtocolAddress, type ServiceIdLike } from './address.js';
export { PreKeyRecord, SignedPreKeyRecord, KyberPreKeyRecord, PreKeyBundle } from './records.js';
export {
  CiphertextMessage,
  CiphertextMessageType,
  type CiphertextMessageConvertible,
  SignalMessage,
  PreKeySignalMessage,
} from './wire/messages.js';
export { Fingerprint, DisplayableFingerprint, ScannableFingerprint } from './fingerprint.js';
export { SessionRecord } from './session/session-record.js';
export { processPreKeyBundle, signalEncrypt, signalDecrypt, signalDecryptPreKey } from './session/session-cipher.js';
export {
  Direction,
  IdentityChange,
  SessionStore,
  IdentityKeyStore,
  PreKeyStore,
  SignedPreKeyStore,
  KyberPreKeyStore,
} from './storage/stores.js';
export {
  InMemorySessionStore,
  InMemoryIdentityKeyStore,
  InMemoryPreKeyStore,
  InMemorySignedPreKeyStore,
  InMemoryKyberPreKeyStore,
} from './storage/in-memory.js';
export { SenderKeyDistributionMessage, SenderKeyMessage } from './group/sender-key-messages.js';
export { SenderKeyRecord } from './group/sender-key-record.js';
export { SenderKeyStore, InMemorySenderKeyStore } from './group/sender-key-store.js';
export { processSenderKeyDistributionMessage, groupEncrypt, groupDecrypt } from './group/group-cipher.js';
export * from './sealed/index.js';
export * as constants from './constants.js';

/**
 * HKDF-SHA256 with libsignal-client's argument order; a null salt means 32 zero bytes. A length outside
 * 0..8160 is an InvalidArgument error.
 */
export function hkdf(
  outputLength: number,
  keyMaterial: Uint8Array,
  label: Uint8Array,
  salt: Uint8Array | null,
): Uint8Array {
  if (!Number.isInteger(outputLength) || outputLength < 0 || outputLength > HKDF_MAX_OUTPUT)
    fail(ErrorCode.InvalidArgument, 'HKDF_DeriveSecrets', `output length out of range (${outputLength})`);
  return hkdfSha256(keyMaterial, salt, label, outputLength);
}
export * from './attachment/index.js';
export * from './profile/index.js';
export {
  sealProvisioningMessage,
  openProvisioningMessage,
  PROVISIONING_VERSION,
} from './provisioning/provisioning-cipher.js';
export { encryptDeviceName, decryptDeviceName } from './provisioning/device-name.js';
export {
  decodeRoleCertificate,
  encodeRoleCertificate,
  generateOrganizationKey,
  organizationKeyFingerprint,
  ROLE_CERTIFICATE_BYTES,
  ROLE_CERTIFICATE_SIGNATURE_BYTES,
  ROLE_CERTIFICATE_VERSION,
  signRoleCertificate,
  validRole,
  verifyRoleCertificate,
  type OrganizationRole,
  type RoleCertificate,
} from './org/role-certificate.js';
export {
  AUDIT_GENESIS_HASH,
  auditEntryHash,
  verifyAuditChain,
  type AuditChainEntry,
  type AuditFields,
} from './org/audit-chain.js';
export {
  deriveAccountBackupKey,
  sealAccountBackup,
  openAccountBackup,
  accountBackupDigest,
  ACCOUNT_BACKUP_VERSION,
} from './backup/account-backup-cipher.js';
