/**
 * Prekeys: decoding and checking uploaded public keys (type byte, length, XEdDSA signature by the account's
 * identity key over the serialized key), enforcing the stored-key cap, and serving prekey bundles that consume one
 * one-time key of each kind per device, falling back to the last-resort Kyber key. It stores no private key and
 * cannot tell whether an identity key is genuine; clients check that with safety numbers.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  MAX_STORED_PREKEYS,
  type KyberPreKey,
  type PreKey,
  type PreKeyBundleResponse,
  type SignedPreKey,
  type UploadKeysRequest,
} from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { DeviceRepository } from '../repositories/device.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import type { Bytes } from '../repositories/database.repository.js';
import { PreKeyRepository, type StoredPreKey, type StoredSignedPreKey } from '../repositories/prekey.repository.js';
import { ApiError } from './api-error.js';
import { DeviceRemoved, type AuthenticatedDevice } from './auth.service.js';

export type CheckedKeys = {
  signedPreKey?: StoredSignedPreKey;
  kyberLastResortPreKey?: StoredSignedPreKey;
  preKeys: StoredPreKey[];
  kyberPreKeys: StoredSignedPreKey[];
};

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

@Injectable()
export class PreKeyService {
  constructor(
    private readonly crypto: CryptoRepository,
    private readonly preKeys: PreKeyRepository,
    private readonly devices: DeviceRepository,
    private readonly accounts: AccountRepository,
    private readonly metrics: MetricsRepository,
  ) {}

  /** Decodes an identity key; 400 invalid_key when malformed. */
  identityKey(text: string): Bytes {
    const bytes = Buffer.from(text, 'base64') as Bytes;
    if (!this.crypto.isEcPublicKey(bytes))
      throw new ApiError(400, ErrorCode.InvalidKey, 'identityKey is not an EC public key');
    return bytes;
  }

  /** Decodes and verifies keys against `identityKey`; throws 400 invalid_key / invalid_signature / invalid_request. */
  check(
    identityKey: Uint8Array,
    keys: {
      signedPreKey?: SignedPreKey | undefined;
      kyberLastResortPreKey?: KyberPreKey | undefined;
      preKeys?: PreKey[] | undefined;
      kyberPreKeys?: KyberPreKey[] | undefined;
    },
  ): CheckedKeys {
    const ec = (key: PreKey, field: string): StoredPreKey => {
      const publicKey = Buffer.from(key.publicKey, 'base64') as Bytes;
      if (!this.crypto.isEcPublicKey(publicKey)) {
        throw new ApiError(400, ErrorCode.InvalidKey, `${field} is not an EC public key`);
      }
      return { keyId: key.keyId, publicKey };
    };
    const signed = (key: SignedPreKey | KyberPreKey, field: string, kem: boolean): StoredSignedPreKey => {
      const publicKey = Buffer.from(key.publicKey, 'base64') as Bytes;
      const valid = kem ? this.crypto.isKemPublicKey(publicKey) : this.crypto.isEcPublicKey(publicKey);
      if (!valid) throw new ApiError(400, ErrorCode.InvalidKey, `${field} is not a ${kem ? 'Kyber' : 'EC'} public key`);
      const signature = Buffer.from(key.signature, 'base64') as Bytes;
      if (!this.crypto.verify(identityKey, publicKey, signature)) {
        throw new ApiError(400, ErrorCode.InvalidSignature, `${field} signature does not verify`);
      }
      return { keyId: key.keyId, publicKey, signature };
    };
    const unique = (ids: number[], field: string): void => {
      if (new Set(ids).size !== ids.length)
        throw new ApiError(400, ErrorCode.InvalidRequest, `${field} repeats a keyId`);
    };
    unique(
      (keys.preKeys ?? []).map((k) => k.keyId),
      'preKeys',
    );
    unique(
      (keys.kyberPreKeys ?? []).map((k) => k.keyId),
      'kyberPreKeys',
    );
    const checked: CheckedKeys = {
      preKeys: (keys.preKeys ?? []).map((k, i) => ec(k, `preKeys[${i}]`)),
      kyberPreKeys: (keys.kyberPreKeys ?? []).map((k, i) => signed(k, `kyberPreKeys[${i}]`, true)),
    };
    if (keys.signedPreKey) checked.signedPreKey = signed(keys.signedPreKey, 'signedPreKey', false);
    if (keys.kyberLastResortPreKey) {
      checked.kyberLastResortPreKey = signed(keys.kyberLastResortPreKey, 'kyberLastResortPreKey', true);
    }
    return checked;
  }

  async upload(device: AuthenticatedDevice, body: UploadKeysRequest): Promise<void> {
    const identityKey = await this.accounts.identityKey(device.accountId);
    if (!identityKey) throw new ApiError(404, ErrorCode.NotFound, 'account not found');
    const keys = this.check(identityKey, body);
    const result = await this.preKeys.upload(device.accountId, device.deviceId, keys, {
      maxStored: MAX_STORED_PREKEYS,
    });
    if (result === 'device_gone') throw new DeviceRemoved();
    if (result === 'limit_reached') {
      throw new ApiError(
        409,
        ErrorCode.LimitReached,
        `at most ${MAX_STORED_PREKEYS} one-time keys of each kind are stored`,
      );
    }
  }

  status(device: AuthenticatedDevice): Promise<{ preKeyCount: number; kyberPreKeyCount: number }> {
    return this.preKeys.counts(device.accountId, device.deviceId);
  }

  /** Bundles of one device (or all, `deviceId` null), each consuming one one-time key of each kind. */
  async bundles(accountId: string, deviceId: number | null): Promise<PreKeyBundleResponse> {
    const [identityKey, devices] = await Promise.all([
      this.accounts.identityKey(accountId),
      this.devices.keys(accountId, deviceId),
    ]);
    if (!identityKey || !devices.length) throw new ApiError(404, ErrorCode.NotFound, 'no such account or device');
    const bundles = await Promise.all(
      devices.map(async (d) => {
        const [preKey, kyber] = await Promise.all([
          this.preKeys.claimPreKey(accountId, d.deviceId),
          this.preKeys.claimKyberPreKey(accountId, d.deviceId),
        ]);
        if (preKey) this.metrics.preKeysClaimed.inc({ kind: 'ec' });
        this.metrics.preKeysClaimed.inc({ kind: kyber ? 'kyber' : 'kyber_last_resort' });
        const kyberKey = kyber ?? d.kyberLastResortPreKey;
        return {
          deviceId: d.deviceId,
          registrationId: d.registrationId,
          signedPreKey: {
            keyId: d.signedPreKey.keyId,
            publicKey: b64(d.signedPreKey.publicKey),
            signature: b64(d.signedPreKey.signature),
          },
          ...(preKey ? { preKey: { keyId: preKey.keyId, publicKey: b64(preKey.publicKey) } } : {}),
          kyberPreKey: {
            keyId: kyberKey.keyId,
            publicKey: b64(kyberKey.publicKey),
            signature: b64(kyberKey.signature),
          },
        };
      }),
    );
    return { identityKey: b64(identityKey), devices: bundles };
  }
}
