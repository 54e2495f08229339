/**
 * The provisioning cipher: a sealed message opens only with the recipient's ephemeral private key and only for the
 * channel address it was sealed for; every flipped byte, a truncation, another version, a low-order sender key and
 * a replay onto another channel are refused with `InvalidMessage`.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import {
  decryptDeviceName,
  encryptDeviceName,
  ErrorCode,
  openProvisioningMessage,
  PrivateKey,
  PublicKey,
  ready,
  sealProvisioningMessage,
  SignalClientError,
} from '../src/index.js';

const ADDRESS = 'AAAAAAAAAAAAAAAAAAAAAA';
const OTHER_ADDRESS = 'BBBBBBBBBBBBBBBBBBBBBB';

function expectInvalid(run: () => unknown): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SignalClientError);
  expect((error as SignalClientError).code).toBe(ErrorCode.InvalidMessage);
}

describe('provisioning cipher', () => {
  beforeAll(async () => {
    await ready();
  });

  it('should open what was sealed to the recipient for its channel', () => {
    const recipient = PrivateKey.generate();
    const plaintext = new TextEncoder().encode('identity key pair and contacts');
    const sealed = sealProvisioningMessage(recipient.getPublicKey(), ADDRESS, plaintext);
    expect(sealed[0]).toBe(1);
    expect(sealed.length).toBe(1 + 33 + 12 + plaintext.length + 16);
    expect(openProvisioningMessage(recipient, ADDRESS, sealed)).toEqual(plaintext);
    // A fresh ephemeral key and nonce each time.
    expect(sealProvisioningMessage(recipient.getPublicKey(), ADDRESS, plaintext)).not.toEqual(sealed);
  });

  it('should refuse every tampered byte, truncations and another version', () => {
    const recipient = PrivateKey.generate();
    const sealed = sealProvisioningMessage(recipient.getPublicKey(), ADDRESS, new Uint8Array(40).fill(7));
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      expectInvalid(() => openProvisioningMessage(recipient, ADDRESS, tampered));
    }
    expectInvalid(() => openProvisioningMessage(recipient, ADDRESS, sealed.subarray(0, sealed.length - 1)));
    expectInvalid(() => openProvisioningMessage(recipient, ADDRESS, sealed.subarray(0, 20)));
    expectInvalid(() => openProvisioningMessage(recipient, ADDRESS, new Uint8Array(0)));
  });

  it('should refuse a message replayed onto another channel or opened by another key', () => {
    const recipient = PrivateKey.generate();
    const sealed = sealProvisioningMessage(recipient.getPublicKey(), ADDRESS, new Uint8Array([1, 2, 3]));
    expectInvalid(() => openProvisioningMessage(recipient, OTHER_ADDRESS, sealed));
    expectInvalid(() => openProvisioningMessage(PrivateKey.generate(), ADDRESS, sealed));
  });

  it('should refuse a low-order sender key', () => {
    const recipient = PrivateKey.generate();
    const sealed = sealProvisioningMessage(recipient.getPublicKey(), ADDRESS, new Uint8Array([1, 2, 3]));
    const forged = sealed.slice();
    forged.set(PublicKey.deserialize(Uint8Array.of(5, ...new Uint8Array(32))).serialize(), 1);
    expectInvalid(() => openProvisioningMessage(recipient, ADDRESS, forged));
  });
});

describe('device names', () => {
  beforeAll(async () => {
    await ready();
  });

  it('should decrypt only with the identity key that encrypted it, and refuse any change', () => {
    const identity = PrivateKey.generate();
    const name = new TextEncoder().encode('Work laptop');
    const sealed = encryptDeviceName(identity, name);
    expect(sealed.length).toBe(12 + name.length + 16);
    expect(decryptDeviceName(identity, sealed)).toEqual(name);
    expectInvalid(() => decryptDeviceName(PrivateKey.generate(), sealed));
    const tampered = sealed.slice();
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expectInvalid(() => decryptDeviceName(identity, tampered));
    expectInvalid(() => decryptDeviceName(identity, sealed.subarray(0, 20)));
  });
});
