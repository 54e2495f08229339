/**
 * Sealed sender v1 (byte 0x11), the one-recipient envelope: an ephemeral X25519 layer hides the sender's identity
 * key, a static layer (sender identity × recipient identity) authenticates the sender and encrypts the content,
 * each with AES-256-CTR and a 10-byte HMAC-SHA256 tag (facts §3). Pure functions over keys and bytes: no stores,
 * no certificate validation (callers validate the certificate the content carries), no inner-message decryption.
 */
import { ctr } from '@noble/ciphers/aes.js';

import { ErrorCode, fail } from '../errors.js';
import { type IdentityKeyPair, PrivateKey, type PublicKey } from '../keys/curve.js';
import { constantTimeEqual } from '../primitives/bytes.js';
import { concat, hkdf, hmacSha256, utf8 } from '../primitives/hash.js';
import { type Rng, defaultRng } from '../primitives/random.js';
import { BinaryWriter, WireType, decodeFields, readPublicKey, required } from './sealed-codec.js';

/** Version byte of a v1 envelope: (required version 1 << 4) | current version 1. */
export const SEALED_SENDER_V1_VERSION_BYTE = 0x11;
/** Each layer's tag: HMAC-SHA256 truncated to 10 bytes, as libsignal does. */
const TAG_LENGTH = 10;
/** Prefix of the ephemeral layer's HKDF salt. */
const EPHEMERAL_SALT_PREFIX = utf8('UnidentifiedDelivery');
/** CTR mode with an all-zero IV: each key encrypts exactly one value. */
const ZERO_IV = new Uint8Array(16);
const EMPTY = new Uint8Array(0);

interface LayerKeys {
  readonly chainKey: Uint8Array;
  readonly cipherKey: Uint8Array;
  readonly macKey: Uint8Array;
}

function split96(okm: Uint8Array): LayerKeys {
  return { chainKey: okm.subarray(0, 32), cipherKey: okm.subarray(32, 64), macKey: okm.subarray(64, 96) };
}

/** Ephemeral layer: HKDF(salt "UnidentifiedDelivery" ‖ recipient33 ‖ ephemeral33, DH(eph, recipient)). */
function ephemeralKeys(shared: Uint8Array, recipient: PublicKey, ephemeral: PublicKey): LayerKeys {
  const salt = concat(EPHEMERAL_SALT_PREFIX, recipient.serializedView(), ephemeral.serializedView());
  return split96(hkdf(shared, salt, EMPTY, 96));
}

/** Static layer: HKDF(salt chain key ‖ encrypted static (with its tag), DH(sender, recipient)); bytes 0..32 unused. */
function staticKeys(shared: Uint8Array, chainKey: Uint8Array, encryptedStatic: Uint8Array): LayerKeys {
  return split96(hkdf(shared, concat(chainKey, encryptedStatic), EMPTY, 96));
}

function seal(keys: LayerKeys, plaintext: Uint8Array): Uint8Array {
  const ct = ctr(keys.cipherKey, ZERO_IV).encrypt(plaintext);
  return concat(ct, hmacSha256(keys.macKey, ct).subarray(0, TAG_LENGTH));
}

function open(keys: LayerKeys, sealed: Uint8Array, op: string): Uint8Array {
  if (sealed.length < TAG_LENGTH) fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: too short');
  const ct = sealed.subarray(0, sealed.length - TAG_LENGTH);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  if (!constantTimeEqual(hmacSha256(keys.macKey, ct).subarray(0, TAG_LENGTH), tag))
    fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: MAC verification failed');
  return ctr(keys.cipherKey, ZERO_IV).decrypt(ct);
}

/** Encrypts serialized content from `sender` to `recipient`: 0x11 ‖ {1 ephemeral key, 2 encrypted static, 3 encrypted message}. */
export function sealV1(
  usmc: Uint8Array,
  sender: IdentityKeyPair,
  recipient: PublicKey,
  rng: Rng = defaultRng,
): Uint8Array {
  const ephemeral = PrivateKey.generate(rng);
  const ephemeralPublic = ephemeral.getPublicKey();
  const eKeys = ephemeralKeys(ephemeral.agree(recipient), recipient, ephemeralPublic);
  const encryptedStatic = seal(eKeys, sender.publicKey.serializedView());
  const sKeys = staticKeys(sender.privateKey.agree(recipient), eKeys.chainKey, encryptedStatic);
  const encryptedMessage = seal(sKeys, usmc);
  const body = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .bytes(ephemeralPublic.serializedView())
    .tag(2, WireType.LengthDelimited)
    .bytes(encryptedStatic)
    .tag(3, WireType.LengthDelimited)
    .bytes(encryptedMessage)
    .finish();
  return concat(Uint8Array.of(SEALED_SENDER_V1_VERSION_BYTE), body);
}

/**
 * Opens a v1 envelope's body (after the version byte) with the recipient's identity: returns the sender's identity
 * key (from the static layer) and the content bytes. Any defect or failed tag is InvalidMessage.
 */
export function openV1(
  body: Uint8Array,
  recipient: IdentityKeyPair,
  op: string,
): { senderIdentity: PublicKey; usmc: Uint8Array } {
  const what = 'sealed sender message';
  let eph: Uint8Array | undefined;
  let encryptedStatic: Uint8Array | undefined;
  let encryptedMessage: Uint8Array | undefined;
  decodeFields(
    body,
    op,
    what,
    { 1: WireType.LengthDelimited, 2: WireType.LengthDelimited, 3: WireType.LengthDelimited },
    (no, r) => {
      const b = r.bytes();
      if (no === 1) eph = b;
      else if (no === 2) encryptedStatic = b;
      else encryptedMessage = b;
    },
  );
  const ephemeral = readPublicKey(required(eph, op, what, 'ephemeral key'), op, what);
  const encStatic = required(encryptedStatic, op, what, 'encrypted static key');
  const encMessage = required(encryptedMessage, op, what, 'encrypted message');
  const eKeys = ephemeralKeys(agree(recipient.privateKey, ephemeral, op), recipient.publicKey, ephemeral);
  const senderIdentity = readPublicKey(open(eKeys, encStatic, op), op, what);
  const sKeys = staticKeys(agree(recipient.privateKey, senderIdentity, op), eKeys.chainKey, encStatic);
  return { senderIdentity, usmc: open(sKeys, encMessage, op) };
}

/** DH whose failure (a low-order key from the wire) is an InvalidMessage of this operation. */
export function agree(priv: PrivateKey, pub: PublicKey, op: string): Uint8Array {
  try {
    return priv.agree(pub);
  } catch (cause) {
    return fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: invalid key agreement', { cause });
  }
}
