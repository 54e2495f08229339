/**
 * One-time prekeys (EC and Kyber) in the database: upload (replacing a key with the same id), counting, and the
 * atomic claim that hands each key out at most once. A claim is one `DELETE ... RETURNING` on a row picked with
 * `FOR UPDATE SKIP LOCKED`, so concurrent fetches never share a key and never wait on each other. Signature checks
 * and caps are the prekey service's job.
 */
import { Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client.js';
import { type Bytes, DatabaseRepository, isMissingDevice } from './database.repository.js';

export type StoredPreKey = { keyId: number; publicKey: Bytes };
export type StoredSignedPreKey = { keyId: number; publicKey: Bytes; signature: Bytes };

type Tx = Prisma.TransactionClient;

/** Inserts or replaces one-time keys of a device inside a transaction. */
export async function insertDeviceKeys(
  tx: Tx,
  accountId: string,
  deviceId: number,
  preKeys: StoredPreKey[],
  kyberPreKeys: StoredSignedPreKey[],
): Promise<void> {
  if (preKeys.length) {
    const ids = preKeys.map((k) => k.keyId);
    await tx.preKey.deleteMany({ where: { accountId, deviceId, keyId: { in: ids } } });
    await tx.preKey.createMany({
      data: preKeys.map((k) => ({ accountId, deviceId, keyId: k.keyId, publicKey: k.publicKey })),
    });
  }
  if (kyberPreKeys.length) {
    const ids = kyberPreKeys.map((k) => k.keyId);
    await tx.kyberPreKey.deleteMany({ where: { accountId, deviceId, keyId: { in: ids } } });
    await tx.kyberPreKey.createMany({
      data: kyberPreKeys.map((k) => ({
        accountId,
        deviceId,
        keyId: k.keyId,
        publicKey: k.publicKey,
        signature: k.signature,
      })),
    });
  }
}

const CLAIM_PRE_KEY = `
  DELETE FROM pre_keys p
  USING (
    SELECT account_id, device_id, key_id FROM pre_keys
    WHERE account_id = $1::uuid AND device_id = $2::smallint
    ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED
  ) c
  WHERE p.account_id = c.account_id AND p.device_id = c.device_id AND p.key_id = c.key_id
  RETURNING p.key_id, p.public_key`;

const CLAIM_KYBER_PRE_KEY = `
  DELETE FROM kyber_pre_keys p
  USING (
    SELECT account_id, device_id, key_id FROM kyber_pre_keys
    WHERE account_id = $1::uuid AND device_id = $2::smallint
    ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED
  ) c
  WHERE p.account_id = c.account_id AND p.device_id = c.device_id AND p.key_id = c.key_id
  RETURNING p.key_id, p.public_key, p.signature`;

@Injectable()
export class PreKeyRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Stores keys and replaces the signed / last-resort keys given, in one transaction. */
  async upload(
    accountId: string,
    deviceId: number,
    keys: {
      preKeys: StoredPreKey[];
      kyberPreKeys: StoredSignedPreKey[];
      signedPreKey?: StoredSignedPreKey;
      kyberLastResortPreKey?: StoredSignedPreKey;
    },
    caps: { maxStored: number },
  ): Promise<'ok' | 'limit_reached' | 'device_gone'> {
    return this.db.prisma
      .$transaction(async (tx) => {
        await insertDeviceKeys(tx, accountId, deviceId, keys.preKeys, keys.kyberPreKeys);
        const [ec, kyber] = await Promise.all([
          tx.preKey.count({ where: { accountId, deviceId } }),
          tx.kyberPreKey.count({ where: { accountId, deviceId } }),
        ]);
        if (ec > caps.maxStored || kyber > caps.maxStored) {
          throw new LimitReached();
        }
        const data: Prisma.DeviceUpdateInput = {};
        if (keys.signedPreKey) {
          data.signedPreKeyId = keys.signedPreKey.keyId;
          data.signedPreKey = keys.signedPreKey.publicKey;
          data.signedPreKeySignature = keys.signedPreKey.signature;
        }
        if (keys.kyberLastResortPreKey) {
          data.kyberLastResortKeyId = keys.kyberLastResortPreKey.keyId;
          data.kyberLastResortKey = keys.kyberLastResortPreKey.publicKey;
          data.kyberLastResortSignature = keys.kyberLastResortPreKey.signature;
        }
        if (Object.keys(data).length) {
          await tx.device.update({ where: { accountId_id: { accountId, id: deviceId } }, data });
        }
        return 'ok' as const;
      })
      .catch((error: unknown) => {
        if (error instanceof LimitReached) return 'limit_reached' as const;
        /** The device was removed after its request was authenticated: its keys have nowhere to go. */
        if (isMissingDevice(error)) return 'device_gone' as const;
        throw error;
      });
  }

  async counts(accountId: string, deviceId: number): Promise<{ preKeyCount: number; kyberPreKeyCount: number }> {
    const [preKeyCount, kyberPreKeyCount] = await Promise.all([
      this.db.prisma.preKey.count({ where: { accountId, deviceId } }),
      this.db.prisma.kyberPreKey.count({ where: { accountId, deviceId } }),
    ]);
    return { preKeyCount, kyberPreKeyCount };
  }

  /** Removes and returns one one-time EC prekey of the device, or null when none is left. */
  async claimPreKey(accountId: string, deviceId: number): Promise<StoredPreKey | null> {
    const rows = await this.db.sql.query<{ key_id: number; public_key: Bytes }>(CLAIM_PRE_KEY, [accountId, deviceId]);
    const row = rows[0];
    return row ? { keyId: row.key_id, publicKey: row.public_key } : null;
  }

  /** Removes and returns one one-time Kyber prekey of the device, or null when none is left. */
  async claimKyberPreKey(accountId: string, deviceId: number): Promise<StoredSignedPreKey | null> {
    const rows = await this.db.sql.query<{ key_id: number; public_key: Bytes; signature: Bytes }>(CLAIM_KYBER_PRE_KEY, [
      accountId,
      deviceId,
    ]);
    const row = rows[0];
    return row ? { keyId: row.key_id, publicKey: row.public_key, signature: row.signature } : null;
  }
}

class LimitReached extends Error {}
