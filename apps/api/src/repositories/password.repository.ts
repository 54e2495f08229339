/**
 * Password login's rows (`account_passwords`): per account, the OPAQUE registration record and the sealed account
 * backup, written and deleted together. Stores and reads bytes only: it runs no OPAQUE and cannot open a backup
 * (the password service does the protocol; only clients hold the backup key).
 */
import { Injectable } from '@nestjs/common';

import { type Bytes, DatabaseRepository } from './database.repository.js';

export type StoredPassword = { record: Bytes; backup: Bytes; updatedAt: Date };

@Injectable()
export class PasswordRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Sets (or replaces) the account's record and backup in one statement. */
  async put(accountId: string, record: Bytes, backup: Bytes, now: Date): Promise<void> {
    const data = { record, backup, updatedAt: now };
    await this.db.prisma.accountPassword.upsert({ where: { accountId }, create: { accountId, ...data }, update: data });
  }

  /** Replaces the backup of an account that has a password; false when it has none. */
  async putBackup(accountId: string, backup: Bytes, now: Date): Promise<boolean> {
    const { count } = await this.db.prisma.accountPassword.updateMany({
      where: { accountId },
      data: { backup, updatedAt: now },
    });
    return count > 0;
  }

  async get(accountId: string): Promise<StoredPassword | null> {
    return this.db.prisma.accountPassword.findUnique({
      where: { accountId },
      select: { record: true, backup: true, updatedAt: true },
    });
  }

  /** Deletes the record and the backup; false when there was none. */
  async remove(accountId: string): Promise<boolean> {
    const { count } = await this.db.prisma.accountPassword.deleteMany({ where: { accountId } });
    return count > 0;
  }
}
