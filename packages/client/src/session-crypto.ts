/**
 * Session encryption — the Signal-session crypto steps of sending and receiving, over a ProtocolZone (not encryption
 * at rest, which platforms do, e.g. the PWA's sealed storage): establishing sessions from server prekey bundles,
 * encrypting padded content for each device of a recipient, and decrypting an envelope. Every state change lands in
 * the zone (committed by the caller). It does not talk to the network or decide retries.
 */
import {
  CiphertextMessageType,
  ErrorCode,
  LibSignalErrorBase,
  KEMPublicKey,
  PreKeyBundle,
  PreKeySignalMessage,
  ProtocolAddress,
  PublicKey,
  SignalMessage,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@cove/crypto';
import { fromBase64, padContent, toBase64 } from '@cove/protocol';
import type { Envelope, OutgoingMessage, PreKeyBundleDevice } from '@cove/protocol';

import type { ProtocolZone } from './protocol-zone.js';
import type { DeviceAddress } from './tables.js';

/** The numeric type of a PreKeySignalMessage, as `CiphertextMessage.type()` reports it. */
const PREKEY_MESSAGE_TYPE: number = CiphertextMessageType.PreKey;

/** An envelope whose sender is known: an identified one as the server sends it, or a sealed one once opened. */
export type OpenEnvelope = Envelope & { sourceAccountId: string; sourceDeviceId: number };

const bytes = (base64: string): Uint8Array<ArrayBuffer> => new Uint8Array(fromBase64(base64));

export const localAddress = (zone: ProtocolZone): ProtocolAddress =>
  ProtocolAddress.new(zone.account.accountId, zone.account.deviceId);

/** Builds a session with one device from its bundle (identity checks happen in the zone's identity store). */
export const establishSession = async (
  zone: ProtocolZone,
  accountId: string,
  identityKey: string,
  device: PreKeyBundleDevice,
): Promise<void> => {
  const bundle = PreKeyBundle.new(
    device.registrationId,
    device.deviceId,
    device.preKey ? device.preKey.keyId : null,
    device.preKey ? PublicKey.deserialize(bytes(device.preKey.publicKey)) : null,
    device.signedPreKey.keyId,
    PublicKey.deserialize(bytes(device.signedPreKey.publicKey)),
    bytes(device.signedPreKey.signature),
    PublicKey.deserialize(bytes(identityKey)),
    device.kyberPreKey.keyId,
    KEMPublicKey.deserialize(bytes(device.kyberPreKey.publicKey)),
    bytes(device.kyberPreKey.signature),
  );
  const address = ProtocolAddress.new(accountId, device.deviceId);
  try {
    await processPreKeyBundle(
      bundle,
      address,
      localAddress(zone),
      zone.sessionStore,
      zone.identityStore,
      new Date(zone.now()),
    );
  } catch (error) {
    // A verified contact's key changed: record the new key (unverified, blocked) so that the change is reported.
    if (error instanceof LibSignalErrorBase && error.code === ErrorCode.UntrustedIdentity) {
      await zone.identityStore.saveIdentity(address, bundle.identityKey());
    }
    throw error;
  }
};

/** Whether a usable session with this device exists. */
export const hasUsableSession = async (zone: ProtocolZone, accountId: string, deviceId: number): Promise<boolean> => {
  const record = await zone.sessionStore.getSession(ProtocolAddress.new(accountId, deviceId));
  return record !== null && record.hasCurrentState(new Date(zone.now()));
};

/**
 * Pads and encrypts content for each device (sessions must exist); `content` may differ per device (a re-send goes
 * to one device, the others get a null message).
 */
export const encryptForDevices = async (
  zone: ProtocolZone,
  accountId: string,
  devices: DeviceAddress[],
  content: Uint8Array | ((deviceId: number) => Uint8Array),
): Promise<OutgoingMessage[]> => {
  const same = typeof content === 'function' ? null : padContent(content);
  const messages: OutgoingMessage[] = [];
  for (const device of devices) {
    const ciphertext = await signalEncrypt(
      same ?? padContent((content as (deviceId: number) => Uint8Array)(device.deviceId)),
      ProtocolAddress.new(accountId, device.deviceId),
      localAddress(zone),
      zone.sessionStore,
      zone.identityStore,
      new Date(zone.now()),
    );
    messages.push({
      destinationDeviceId: device.deviceId,
      destinationRegistrationId: device.registrationId,
      type: ciphertext.type() === PREKEY_MESSAGE_TYPE ? 'prekey' : 'whisper',
      content: toBase64(ciphertext.serialize()),
    });
  }
  return messages;
};

/** Decrypts an envelope's content to padded plaintext. */
export const decryptEnvelope = async (zone: ProtocolZone, envelope: OpenEnvelope): Promise<Uint8Array> => {
  const address = ProtocolAddress.new(envelope.sourceAccountId, envelope.sourceDeviceId);
  const body = bytes(envelope.content);
  if (envelope.type === 'prekey') {
    return signalDecryptPreKey(
      PreKeySignalMessage.deserialize(body),
      address,
      localAddress(zone),
      zone.sessionStore,
      zone.identityStore,
      zone.preKeyStore,
      zone.signedPreKeyStore,
      zone.kyberPreKeyStore,
    );
  }
  return signalDecrypt(
    SignalMessage.deserialize(body),
    address,
    localAddress(zone),
    zone.sessionStore,
    zone.identityStore,
  );
};
