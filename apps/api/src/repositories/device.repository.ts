/**
 * Devices, their credentials and signed keys, provisioning codes and WebSocket tickets in the database. Removing a
 * device removes its keys, queued envelopes and tickets with it (the envelopes first, in their lock order; the rest
 * by foreign-key cascade). Rules (who may remove whom,
 * how many devices) live in the device service.
 */
import { Injectable } from '@nestjs/common';
import { type Bytes, DatabaseRepository } from './database.repository.js';
import { deleteDeviceQueues } from './envelope.repository.js';
import { insertDeviceKeys, type StoredPreKey, type StoredSignedPreKey } from './prekey.repository.js';

export type NewDevice = {
  registrationId: number;
  credentialHash: Bytes;
  signedPreKey: StoredSignedPreKey;
  kyberLastResortPreKey: StoredSignedPreKey;
  preKeys: StoredPreKey[];
  kyberPreKeys: StoredSignedPreKey[];
  /** The encrypted name (opaque to the server). */
  name?: Bytes | undefined;
};

export type DeviceRecord = {
  accountId: string;
  deviceId: number;
  registrationId: number;
  createdAt: Date;
  lastSeenAt: Date;
  name: Bytes | null;
};

export type DeviceKeys = {
  deviceId: number;
  registrationId: number;
  signedPreKey: StoredSignedPreKey;
  kyberLastResortPreKey: StoredSignedPreKey;
};

/** Device ids and registration ids of several accounts, keyed by account id. */
export type DeviceMap = Map<string, Map<number, number>>;

@Injectable()
export class DeviceRepository {
  constructor(private readonly db: DatabaseRepository) {}

  async credential(accountId: string, deviceId: number): Promise<{ credentialHash: Bytes; lastSeenAt: Date } | null> {
    return this.db.prisma.device.findUnique({
      where: { accountId_id: { accountId, id: deviceId } },
      select: { credentialHash: true, lastSeenAt: true },
    });
  }

  async touch(accountId: string, deviceId: number): Promise<void> {
    await this.db.prisma.device.updateMany({ where: { accountId, id: deviceId }, data: { lastSeenAt: new Date() } });
  }

  async list(accountId: string): Promise<DeviceRecord[]> {
    const rows = await this.db.prisma.device.findMany({
      where: { accountId },
      orderBy: { id: 'asc' },
      select: { id: true, registrationId: true, createdAt: true, lastSeenAt: true, name: true },
    });
    return rows.map((r) => ({
      accountId,
      deviceId: r.id,
      registrationId: r.registrationId,
      createdAt: r.createdAt,
      lastSeenAt: r.lastSeenAt,
      name: r.name,
    }));
  }

  /** Public signed keys of one device, or of every device when `deviceId` is null. */
  async keys(accountId: string, deviceId: number | null): Promise<DeviceKeys[]> {
    const rows = await this.db.prisma.device.findMany({
      where: deviceId === null ? { accountId } : { accountId, id: deviceId },
      orderBy: { id: 'asc' },
    });
    return rows.map((r) => ({
      deviceId: r.id,
      registrationId: r.registrationId,
      signedPreKey: { keyId: r.signedPreKeyId, publicKey: r.signedPreKey, signature: r.signedPreKeySignature },
      kyberLastResortPreKey: {
        keyId: r.kyberLastResortKeyId,
        publicKey: r.kyberLastResortKey,
        signature: r.kyberLastResortSignature,
      },
    }));
  }

  /** One statement for the device lists of every destination in a group-committed batch of sends. */
  async deviceMap(accountIds: string[]): Promise<DeviceMap> {
    const map: DeviceMap = new Map();
    if (!accountIds.length) return map;
    const params = accountIds.map((_, i) => `$${i + 1}::uuid`).join(',');
    const rows = await this.db.sql.query<{ account_id: string; id: number; registration_id: number }>(
      `SELECT account_id, id, registration_id FROM devices WHERE account_id IN (${params})`,
      accountIds,
    );
    for (const id of accountIds) map.set(id, new Map());
    for (const row of rows) map.get(row.account_id)?.set(row.id, row.registration_id);
    return map;
  }

  /**
   * Consumes a provisioning code and adds a device with the next free id, in one transaction that holds the account
   * row locked from before the device count to the insert, so concurrent links never exceed `maxDevices`. Returns
   * the new device id, or `invalid_code` / `limit_reached`.
   */
  async link(
    codeHash: Bytes,
    device: NewDevice,
    maxDevices: number,
    maxDeviceId: number,
  ): Promise<{ accountId: string; deviceId: number } | 'invalid_code' | 'limit_reached'> {
    return this.db.prisma
      .$transaction(async (tx) => {
        const codes = await tx.provisioningCode.findMany({ where: { codeHash, expiresAt: { gt: new Date() } } });
        const code = codes[0];
        if (!code) throw new Refusal('invalid_code');
        /** Deleting locks the code: of two links presenting it at once, the second finds it gone. */
        const used = await tx.provisioningCode.deleteMany({ where: { codeHash } });
        if (used.count !== 1) throw new Refusal('invalid_code');
        /**
         * Lock the account before counting its devices: concurrent links (each with its own code) would otherwise all
         * count the same devices and together pass the limit. The lock is held until this transaction ends.
         */
        await tx.$queryRawUnsafe('SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE', code.accountId);
        const count = await tx.device.count({ where: { accountId: code.accountId } });
        const account = await tx.account.update({
          where: { id: code.accountId },
          data: { nextDeviceId: { increment: 1 } },
          select: { nextDeviceId: true },
        });
        const deviceId = account.nextDeviceId - 1;
        if (count >= maxDevices || deviceId > maxDeviceId) throw new Refusal('limit_reached');
        await tx.device.create({
          data: {
            accountId: code.accountId,
            id: deviceId,
            registrationId: device.registrationId,
            credentialHash: device.credentialHash,
            signedPreKeyId: device.signedPreKey.keyId,
            signedPreKey: device.signedPreKey.publicKey,
            signedPreKeySignature: device.signedPreKey.signature,
            kyberLastResortKeyId: device.kyberLastResortPreKey.keyId,
            kyberLastResortKey: device.kyberLastResortPreKey.publicKey,
            kyberLastResortSignature: device.kyberLastResortPreKey.signature,
            name: device.name ?? null,
          },
        });
        await insertDeviceKeys(tx, code.accountId, deviceId, device.preKeys, device.kyberPreKeys);
        return { accountId: code.accountId, deviceId };
      })
      .catch((error: unknown) => {
        if (error instanceof Refusal) return error.reason;
        throw error;
      });
  }

  /**
   * Removes a device with its queued envelopes (deleted first, in the order every deletion of envelopes locks them:
   * {@link deleteDeviceQueues}) and (by cascade) its keys and tickets; false when it did not exist.
   */
  async remove(accountId: string, deviceId: number): Promise<boolean> {
    return this.db.prisma.$transaction(async (tx) => {
      await deleteDeviceQueues(tx, accountId, deviceId);
      const result = await tx.device.deleteMany({ where: { accountId, id: deviceId } });
      return result.count > 0;
    });
  }

  /**
   * Which of `devices` still exist, as `${accountId}.${deviceId}` keys (ids in canonical lower case). One statement
   * for any number of devices: the revocation sweep over every live socket of an instance.
   */
  async existing(devices: Array<{ accountId: string; deviceId: number }>): Promise<Set<string>> {
    if (!devices.length) return new Set();
    const rows = await this.db.sql.query<{ account_id: string; id: number }>(
      `SELECT d.account_id::text AS account_id, d.id FROM devices d
       JOIN unnest(string_to_array($1::text, ',')::uuid[], string_to_array($2::text, ',')::smallint[]) AS v(account_id, id)
         ON d.account_id = v.account_id AND d.id = v.id`,
      [devices.map((d) => d.accountId).join(','), devices.map((d) => d.deviceId).join(',')],
    );
    return new Set(rows.map((r) => `${r.account_id}.${r.id}`));
  }

  /** The account a live provisioning code belongs to (the code stays valid). */
  async provisioningAccount(codeHash: Bytes): Promise<string | null> {
    const code = await this.db.prisma.provisioningCode.findFirst({
      where: { codeHash, expiresAt: { gt: new Date() } },
      select: { accountId: true },
    });
    return code?.accountId ?? null;
  }

  async createProvisioningCode(accountId: string, codeHash: Bytes, expiresAt: Date): Promise<void> {
    await this.db.prisma.provisioningCode.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    await this.db.prisma.provisioningCode.create({ data: { codeHash, accountId, expiresAt } });
  }

  async createTicket(ticketHash: Bytes, accountId: string, deviceId: number, expiresAt: Date): Promise<void> {
    await this.db.prisma.webSocketTicket.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    await this.db.prisma.webSocketTicket.create({ data: { ticketHash, accountId, deviceId, expiresAt } });
  }

  /** Deletes the ticket and returns its device if it existed and had not expired (single use). */
  async redeemTicket(ticketHash: Bytes): Promise<{ accountId: string; deviceId: number } | null> {
    const rows = await this.db.sql.query<{ account_id: string; device_id: number }>(
      'DELETE FROM websocket_tickets WHERE ticket_hash = $1 AND expires_at > now() RETURNING account_id, device_id',
      [ticketHash],
    );
    const row = rows[0];
    return row ? { accountId: row.account_id, deviceId: row.device_id } : null;
  }
}

/** Rolls a transaction back with a refusal the caller maps to a result. */
class Refusal extends Error {
  constructor(readonly reason: 'invalid_code' | 'limit_reached') {
    super(reason);
  }
}
