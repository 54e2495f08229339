/**
 * Attachment rows in the database: who uploaded which blob id, its declared size, when it was created and when it
 * was finished. Reserving a row checks the account's quota under a per-account transaction lock, so concurrent
 * uploads cannot overshoot it together. It stores no bytes (see `attachment-store.repository.ts`) and decides no
 * limits: the caller passes them in.
 */
import { Injectable } from '@nestjs/common';

import { DatabaseRepository } from './database.repository.js';

export type AttachmentRecord = {
  id: string;
  accountId: string;
  deviceId: number;
  size: number;
  createdAt: Date;
  completedAt: Date | null;
};

export type ReserveOutcome = { reserved: true } | { reserved: false; usedBytes: number };

@Injectable()
export class AttachmentRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /**
   * Inserts the row for a new upload of `size` bytes unless the account's rows (finished and in progress) plus it
   * would pass `quotaBytes`. The advisory lock serializes reservations of one account until commit; each statement
   * after it sees every reservation committed before.
   */
  async reserve(
    row: { id: string; accountId: string; deviceId: number; size: number; createdAt: Date },
    quotaBytes: number,
  ): Promise<ReserveOutcome> {
    return this.db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`attachments:${row.accountId}`}, 0))`;
      const used = await tx.attachment.aggregate({ where: { accountId: row.accountId }, _sum: { size: true } });
      const usedBytes = Number(used._sum.size ?? 0n);
      if (usedBytes + row.size > quotaBytes) return { reserved: false, usedBytes };
      await tx.attachment.create({
        data: {
          id: row.id,
          accountId: row.accountId,
          deviceId: row.deviceId,
          size: BigInt(row.size),
          createdAt: row.createdAt,
        },
      });
      return { reserved: true };
    });
  }

  async find(id: string): Promise<AttachmentRecord | null> {
    const row = await this.db.prisma.attachment.findUnique({ where: { id } });
    return row ? { ...row, size: Number(row.size) } : null;
  }

  /** Marks the upload finished; false when the row is gone (expired or deleted meanwhile). */
  async complete(id: string, at: Date): Promise<boolean> {
    const result = await this.db.prisma.attachment.updateMany({
      where: { id, completedAt: null },
      data: { completedAt: at },
    });
    return result.count === 1;
  }

  /** Bytes the account holds (declared sizes of finished and unfinished uploads). */
  async usedBytes(accountId: string): Promise<number> {
    const used = await this.db.prisma.attachment.aggregate({ where: { accountId }, _sum: { size: true } });
    return Number(used._sum.size ?? 0n);
  }

  /**
   * Up to `limit` rows to purge: finished before `finishedBefore`, or unfinished and created before
   * `abandonedBefore`.
   */
  async listPurgeable(finishedBefore: Date, abandonedBefore: Date, limit: number): Promise<AttachmentRecord[]> {
    const rows = await this.db.prisma.attachment.findMany({
      where: {
        OR: [{ completedAt: { lt: finishedBefore } }, { completedAt: null, createdAt: { lt: abandonedBefore } }],
      },
      orderBy: { createdAt: 'asc' },
      take: limit,
    });
    return rows.map((row) => ({ ...row, size: Number(row.size) }));
  }

  /** Which of `ids` have a row. */
  async existing(ids: string[]): Promise<string[]> {
    const rows = await this.db.prisma.attachment.findMany({ where: { id: { in: ids } }, select: { id: true } });
    return rows.map((row) => row.id);
  }

  /** Ids of every attachment row of one account, finished or not. */
  async idsOfAccount(accountId: string): Promise<string[]> {
    const rows = await this.db.prisma.attachment.findMany({ where: { accountId }, select: { id: true } });
    return rows.map((r) => r.id);
  }

  async remove(id: string): Promise<void> {
    await this.db.prisma.attachment.deleteMany({ where: { id } });
  }
}
