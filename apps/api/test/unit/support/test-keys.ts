/**
 * Public key material for service specs, made with `@signalapp/libsignal-client` (the reference implementation):
 * an identity key pair, EC and Kyber prekeys signed by it, and registration bodies in the wire format. Private
 * halves stay in memory and are never printed. Nothing here talks to a server.
 */
import { randomBytes } from 'node:crypto';

import * as signal from '@signalapp/libsignal-client';
import type { CreateAccountRequest, KyberPreKey, PreKey, SignedPreKey } from '@cove/protocol';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

export class TestKeys {
  readonly identity = signal.IdentityKeyPair.generate();
  /** Kyber key generation is the slow part; one pair serves every Kyber key id of an identity. */
  private kyberPair: signal.KEMKeyPair | undefined;

  get identityKey(): string {
    return b64(this.identity.publicKey.serialize());
  }

  signedPreKey(keyId: number): SignedPreKey {
    const pub = signal.PrivateKey.generate().getPublicKey().serialize();
    return { keyId, publicKey: b64(pub), signature: b64(this.identity.privateKey.sign(pub)) };
  }

  preKey(keyId: number): PreKey {
    return { keyId, publicKey: b64(signal.PrivateKey.generate().getPublicKey().serialize()) };
  }

  kyberPreKey(keyId: number): KyberPreKey {
    this.kyberPair ??= signal.KEMKeyPair.generate();
    const pub = this.kyberPair.getPublicKey().serialize();
    return { keyId, publicKey: b64(pub), signature: b64(this.identity.privateKey.sign(pub)) };
  }

  /** A valid `POST /v1/accounts` body with `preKeys` one-time keys of each kind (ids 1…n; last resort 1000). */
  registration(preKeys = 0, extra: Partial<CreateAccountRequest> = {}): CreateAccountRequest {
    return {
      secret: b64(randomBytes(32)),
      registrationId: 1 + (randomBytes(2).readUInt16BE() % 16000),
      identityKey: this.identityKey,
      signedPreKey: this.signedPreKey(1),
      kyberLastResortPreKey: this.kyberPreKey(1000),
      preKeys: Array.from({ length: preKeys }, (_, i) => this.preKey(i + 1)),
      kyberPreKeys: Array.from({ length: preKeys }, (_, i) => this.kyberPreKey(i + 1)),
      ...extra,
    };
  }
}
