/**
 * Trust in peers' identity keys: safety numbers (60 digits and the scannable form, from @cove/crypto's
 * Fingerprint, version 2 with ACI identifiers and 5200 iterations as in Signal) and the verification state
 * (trusted on first use → verified by the user; a key change makes it unverified). It does not fetch keys; the
 * identity store (protocol-zone.ts) records keys as sessions are made.
 */
import { Fingerprint, IdentityKeyPair, PublicKey } from '@cove/crypto';

import { FINGERPRINT_ITERATIONS, FINGERPRINT_VERSION } from './constants.js';
import type { AccountRecord, IdentityEntry } from './tables.js';

/** The 16 bytes of a UUID string (the ACI ServiceId binary used as fingerprint identifier). */
export const uuidBytes = (uuid: string): Uint8Array<ArrayBuffer> => {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error('not a UUID');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i += 1) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
};

export type SafetyNumber = {
  /** 60 digits, the same on both sides. */
  digits: string;
  /** The scannable (QR) form. */
  scannable: Uint8Array;
};

export const computeSafetyNumber = (
  account: AccountRecord,
  peerAccountId: string,
  peer: IdentityEntry,
): SafetyNumber => {
  const local = IdentityKeyPair.deserialize(new Uint8Array(account.identityKeyPair)).publicKey;
  const fingerprint = Fingerprint.new(
    FINGERPRINT_ITERATIONS,
    FINGERPRINT_VERSION,
    uuidBytes(account.accountId),
    local,
    uuidBytes(peerAccountId),
    PublicKey.deserialize(new Uint8Array(peer.publicKey)),
  );
  return {
    digits: fingerprint.displayableFingerprint().toString(),
    scannable: fingerprint.scannableFingerprint().toBuffer(),
  };
};

/** Groups 60 digits into twelve blocks of five, as apps display them (total: a non-string gives ''). */
export const formatSafetyNumber = (digits: string): string =>
  typeof digits === 'string' ? digits.replace(/(\d{5})(?=\d)/g, '$1 ') : '';
