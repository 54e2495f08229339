/**
 * The provisioning cipher: how an existing device seals a provisioning message to a new device's ephemeral X25519
 * key, and how the new device opens it (construction in docs/linking.md). The sender makes its own ephemeral key
 * pair; the X25519 secret goes through HKDF-SHA256 (info binds the label, the channel address and both public keys)
 * to an AES-256-GCM key; the address and both keys are also the AEAD's associated data, so a sealed message opens
 * only on the channel it was made for. Wire format: version byte 0x01 ‖ sender ephemeral public key (33) ‖ nonce
 * (12) ‖ ciphertext ‖ tag (16). Pure bytes in, bytes out: what the plaintext means, channels and time checks are
 * the caller's business.
 */
import { gcm } from '@noble/ciphers/aes.js';

import { ErrorCode, fail } from '../errors.js';
import { PrivateKey, PublicKey } from '../keys/curve.js';
import { concat, hkdf, utf8 } from '../primitives/hash.js';
import { defaultRng, type Rng } from '../primitives/random.js';

/** The version of this construction; any other first byte is refused. */
export const PROVISIONING_VERSION = 1;
/** HKDF info label: keys for provisioning never collide with keys derived elsewhere from X25519 secrets. */
const INFO_LABEL = 'Cove provisioning v1';
const PUBLIC_KEY_BYTES = 33;
/** GCM's standard nonce; each key is used once (a fresh ephemeral key per message), so a random nonce is ample. */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + PUBLIC_KEY_BYTES + NONCE_BYTES;

function keyFor(
  secret: Uint8Array,
  address: string,
  senderPublic: Uint8Array,
  recipientPublic: Uint8Array,
): Uint8Array {
  return hkdf(secret, null, concat(utf8(INFO_LABEL), utf8(address), senderPublic, recipientPublic), 32);
}

function associatedData(address: string, senderPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(PROVISIONING_VERSION), senderPublic, recipientPublic, utf8(address));
}

/** Seals `plaintext` for the new device whose ephemeral key is `recipient`, waiting on channel `address`. */
export function sealProvisioningMessage(
  recipient: PublicKey,
  address: string,
  plaintext: Uint8Array,
  rng: Rng = defaultRng,
): Uint8Array {
  const ephemeral = PrivateKey.generate(rng);
  const senderPublic = ephemeral.getPublicKey().serialize();
  const recipientPublic = recipient.serialize();
  const key = keyFor(ephemeral.agree(recipient), address, senderPublic, recipientPublic);
  const nonce = rng(NONCE_BYTES);
  const sealed = gcm(key, nonce, associatedData(address, senderPublic, recipientPublic)).encrypt(plaintext);
  key.fill(0);
  return concat(Uint8Array.of(PROVISIONING_VERSION), senderPublic, nonce, sealed);
}

/**
 * Opens a message sealed to `recipient`'s public half for channel `address`. Any change to any byte, another channel
 * or another recipient key is an `InvalidMessage` error; nothing of the plaintext is returned unless it verified.
 */
export function openProvisioningMessage(recipient: PrivateKey, address: string, message: Uint8Array): Uint8Array {
  if (message.length < HEADER_BYTES + TAG_BYTES)
    fail(ErrorCode.InvalidMessage, 'Provisioning_Open', 'provisioning message too short');
  if (message[0] !== PROVISIONING_VERSION)
    fail(ErrorCode.InvalidMessage, 'Provisioning_Open', 'unknown provisioning message version');
  const senderPublic = message.subarray(1, 1 + PUBLIC_KEY_BYTES);
  let sender: PublicKey;
  try {
    sender = PublicKey.deserialize(senderPublic);
  } catch {
    fail(ErrorCode.InvalidMessage, 'Provisioning_Open', 'bad sender key in provisioning message');
  }
  const recipientPublic = recipient.getPublicKey().serialize();
  let secret: Uint8Array;
  try {
    secret = recipient.agree(sender);
  } catch {
    fail(ErrorCode.InvalidMessage, 'Provisioning_Open', 'bad sender key in provisioning message');
  }
  const key = keyFor(secret, address, senderPublic, recipientPublic);
  const nonce = message.subarray(1 + PUBLIC_KEY_BYTES, HEADER_BYTES);
  try {
    return gcm(key, nonce, associatedData(address, senderPublic, recipientPublic)).decrypt(
      message.subarray(HEADER_BYTES),
    );
  } catch {
    fail(ErrorCode.InvalidMessage, 'Provisioning_Open', 'provisioning message does not authenticate');
  } finally {
    key.fill(0);
  }
}
