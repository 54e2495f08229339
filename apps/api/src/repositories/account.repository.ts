/**
 * Accounts and their usernames in the database. Creation inserts the account, its primary device and the device's
 * keys in one transaction. Usernames are unique through the lower-cased `username_key`. No rules live here: the
 * account service decides who may do what.
 */
import { Injectable } from '@nestjs/common';
import { type Bytes, DatabaseRepository, SqlState, sqlState } from './database.repository.js';
import type { NewDevice } from './device.repository.js';
import { deleteDeviceQueues } from './envelope.repository.js';
import { insertDeviceKeys } from './prekey.repository.js';

export type NewAccount = {
  id: string;
  identityKey: Bytes;
  username?: string;
  /** Single sign-on: the digest of the person's issuer and subject (unique). */
  ssoSubject?: Bytes;
  device: NewDevice;
};

@Injectable()
export class AccountRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Creates the account and device 1; returns false when the username is taken. */
  async create(account: NewAccount): Promise<boolean> {
    const d = account.device;
    try {
      await this.db.prisma.$transaction(async (tx) => {
        await tx.account.create({
          data: {
            id: account.id,
            identityKey: account.identityKey,
            username: account.username ?? null,
            usernameKey: account.username?.toLowerCase() ?? null,
            ssoSubject: account.ssoSubject ?? null,
            devices: {
              create: {
                id: 1,
                registrationId: d.registrationId,
                credentialHash: d.credentialHash,
                signedPreKeyId: d.signedPreKey.keyId,
                signedPreKey: d.signedPreKey.publicKey,
                signedPreKeySignature: d.signedPreKey.signature,
                kyberLastResortKeyId: d.kyberLastResortPreKey.keyId,
                kyberLastResortKey: d.kyberLastResortPreKey.publicKey,
                kyberLastResortSignature: d.kyberLastResortPreKey.signature,
                name: d.name ?? null,
              },
            },
          },
        });
        await insertDeviceKeys(tx, account.id, 1, d.preKeys, d.kyberPreKeys);
      });
      return true;
    } catch (error) {
      if (sqlState(error) === SqlState.UniqueViolation) return false;
      throw error;
    }
  }

  async identityKey(accountId: string): Promise<Bytes | null> {
    const row = await this.db.prisma.account.findUnique({ where: { id: accountId }, select: { identityKey: true } });
    return row?.identityKey ?? null;
  }

  /** Sets the username; returns false when another account holds it (case-insensitively). */
  async setUsername(accountId: string, username: string): Promise<boolean> {
    try {
      await this.db.prisma.account.update({
        where: { id: accountId },
        data: { username, usernameKey: username.toLowerCase() },
      });
      return true;
    } catch (error) {
      if (sqlState(error) === SqlState.UniqueViolation) return false;
      throw error;
    }
  }

  async clearUsername(accountId: string): Promise<void> {
    await this.db.prisma.account.update({ where: { id: accountId }, data: { username: null, usernameKey: null } });
  }

  /** Whether unidentified (sealed) sends may reach it: its access key (null when unset) and its open setting. */
  async unidentifiedAccess(
    accountIds: string[],
  ): Promise<Map<string, { accessKey: Bytes | null; unrestricted: boolean }>> {
    if (!accountIds.length) return new Map();
    const rows = await this.db.prisma.account.findMany({
      where: { id: { in: accountIds } },
      select: { id: true, unidentifiedAccessKey: true, unrestrictedUnidentifiedAccess: true },
    });
    return new Map(
      rows.map((r) => [r.id, { accessKey: r.unidentifiedAccessKey, unrestricted: r.unrestrictedUnidentifiedAccess }]),
    );
  }

  /** Sets the account's sealed-sender attributes; `undefined` leaves a field as it is. */
  async setUnidentifiedAccess(
    accountId: string,
    attributes: { accessKey?: Bytes | null; unrestricted?: boolean },
  ): Promise<void> {
    await this.db.prisma.account.update({
      where: { id: accountId },
      data: {
        ...(attributes.accessKey === undefined ? {} : { unidentifiedAccessKey: attributes.accessKey }),
        ...(attributes.unrestricted === undefined ? {} : { unrestrictedUnidentifiedAccess: attributes.unrestricted }),
      },
    });
  }

  async findByUsername(username: string): Promise<{ id: string; username: string } | null> {
    const row = await this.db.prisma.account.findUnique({
      where: { usernameKey: username.toLowerCase() },
      select: { id: true, username: true },
    });
    return row?.username ? { id: row.id, username: row.username } : null;
  }

  /**
   * Deletes the account in one transaction and returns the ids its devices had (null when there was no such account).
   * Its devices' queued envelopes are deleted first, in the order every deletion of envelopes locks them
   * ({@link deleteDeviceQueues}; their shared payloads follow by trigger); foreign keys cascade from the account row to
   * its devices, their one-time and signed keys, WebSocket tickets, push subscriptions and provisioning codes; the username
   * lives on the row and is free again at commit. Attachment rows have no foreign key: the caller removes them.
   */
  async remove(accountId: string): Promise<number[] | null> {
    return this.db.prisma.$transaction(async (tx) => {
      // The account row first, as its deletion would take it; then the devices' queues in their lock order.
      await tx.$queryRawUnsafe('SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE', accountId);
      await deleteDeviceQueues(tx, accountId, null);
      const devices = await tx.device.findMany({ where: { accountId }, select: { id: true } });
      const deleted = await tx.account.deleteMany({ where: { id: accountId } });
      return deleted.count ? devices.map((d) => d.id) : null;
    });
  }
}
