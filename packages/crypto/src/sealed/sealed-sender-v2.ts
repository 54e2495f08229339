/**
 * Sealed sender v2, the multi-recipient envelope (facts §3): one AES-256-GCM-SIV encryption of the content under a
 * key derived from a random M, and per recipient a 32-byte C (M masked by DH(ephemeral, recipient)) and a 16-byte
 * authentication tag AT (DH(sender, recipient)). This module builds the sent form (0x23, ServiceId recipients) and
 * opens the received form (0x22); the server's per-recipient extraction is in `multi-recipient-message.ts`. No
 * stores and no certificate validation here.
 */
import { gcmsiv } from '@noble/ciphers/aes.js';

import { ErrorCode, fail } from '../errors.js';
import { type IdentityKeyPair, PrivateKey, PublicKey } from '../keys/curve.js';
import { constantTimeEqual } from '../primitives/bytes.js';
import { concat, hkdf, utf8 } from '../primitives/hash.js';
import { type Rng, defaultRng } from '../primitives/random.js';
import { agree } from './sealed-sender-v1.js';

/** Received-form version byte: (required 2 << 4) | current 2. */
export const SEALED_SENDER_V2_RECEIVED_VERSION_BYTE = 0x22;
/** Sent-form version byte with 17-byte ServiceId recipients: (required 2 << 4) | current 3. */
export const SEALED_SENDER_V2_SENT_SERVICE_ID_VERSION_BYTE = 0x23;
/** Sent-form version byte with 16-byte ACI UUID recipients (the older sent form; parsed, never produced). */
export const SEALED_SENDER_V2_SENT_UUID_VERSION_BYTE = 0x22;
export const V2_C_LENGTH = 32;
export const V2_AT_LENGTH = 16;
export const V2_EPHEMERAL_LENGTH = 32;
/** GCM-SIV's tag: the shortest possible ciphertext. */
export const V2_TAG_LENGTH = 16;

const LABEL_R = utf8('Sealed Sender v2: r (2023-08)');
const LABEL_K = utf8('Sealed Sender v2: K');
const LABEL_DH = utf8('Sealed Sender v2: DH');
const LABEL_DH_SENDER = utf8('Sealed Sender v2: DH-sender');
/** Each K encrypts exactly one message, so a fixed nonce is safe (and GCM-SIV is nonce-misuse resistant anyway). */
const ZERO_NONCE = new Uint8Array(12);

function xor32(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

function ephemeralFromM(m: Uint8Array): PrivateKey {
  return PrivateKey.deserialize(hkdf(m, null, LABEL_R, 32));
}

function authTag(senderRecipientDh: Uint8Array, e: PublicKey, c: Uint8Array, s: PublicKey, r: PublicKey): Uint8Array {
  return hkdf(
    concat(senderRecipientDh, e.serializedView(), c, s.serializedView(), r.serializedView()),
    null,
    LABEL_DH_SENDER,
    V2_AT_LENGTH,
  );
}

function maskOf(ephemeralRecipientDh: Uint8Array, e: PublicKey, r: PublicKey): Uint8Array {
  return hkdf(concat(ephemeralRecipientDh, e.serializedView(), r.serializedView()), null, LABEL_DH, 32);
}

/** The shared part of a v2 message: the ephemeral key, the content ciphertext, and the per-recipient derivation. */
export interface V2Sealing {
  readonly ephemeralPublic: Uint8Array;
  readonly ciphertext: Uint8Array;
  /** C ‖ AT for one recipient identity key. */
  forRecipient(recipient: PublicKey): Uint8Array;
}

export function sealV2(usmc: Uint8Array, sender: IdentityKeyPair, rng: Rng = defaultRng): V2Sealing {
  const m = rng(32);
  const e = ephemeralFromM(m);
  const ePub = e.getPublicKey();
  const k = hkdf(m, null, LABEL_K, 32);
  const ciphertext = gcmsiv(k, ZERO_NONCE).encrypt(usmc);
  return {
    ephemeralPublic: ePub.getPublicKeyBytes(),
    ciphertext,
    forRecipient(recipient: PublicKey): Uint8Array {
      const c = xor32(maskOf(e.agree(recipient), ePub, recipient), m);
      const at = authTag(sender.privateKey.agree(recipient), ePub, c, sender.publicKey, recipient);
      return concat(c, at);
    },
  };
}

/** What opening a received-form message yields; `checkSender` must pass for the certificate's key before use. */
export interface V2Opened {
  readonly usmc: Uint8Array;
  /** Whether `sender` (the certificate's identity key) computed this recipient's AT. */
  checkSender(sender: PublicKey): boolean;
}

/** Opens a received-form message (the whole bytes, version byte included) with the recipient's identity. */
export function openV2(message: Uint8Array, recipient: IdentityKeyPair, op: string): V2Opened {
  const min = 1 + V2_C_LENGTH + V2_AT_LENGTH + V2_EPHEMERAL_LENGTH + V2_TAG_LENGTH;
  if (message.length < min) fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: too short');
  let o = 1;
  const c = message.subarray(o, (o += V2_C_LENGTH));
  const at = message.subarray(o, (o += V2_AT_LENGTH));
  const eRaw = message.subarray(o, (o += V2_EPHEMERAL_LENGTH));
  const ciphertext = message.subarray(o);
  const ePub = PublicKey.fromPublicKeyBytes(eRaw);
  const m = xor32(maskOf(agree(recipient.privateKey, ePub, op), ePub, recipient.publicKey), c);
  if (!constantTimeEqual(ephemeralFromM(m).getPublicKey().getPublicKeyBytes(), eRaw))
    fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: ephemeral key does not match');
  let usmc: Uint8Array;
  try {
    usmc = gcmsiv(hkdf(m, null, LABEL_K, 32), ZERO_NONCE).decrypt(ciphertext);
  } catch (cause) {
    return fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: decryption failed', { cause });
  }
  return {
    usmc,
    checkSender(sender: PublicKey): boolean {
      const dh = agree(recipient.privateKey, sender, op);
      return constantTimeEqual(authTag(dh, ePub, c, sender, recipient.publicKey), at);
    },
  };
}
