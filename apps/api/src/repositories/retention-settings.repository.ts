/**
 * The retention overrides administrators set in the admin console (one row): envelope and attachment lifetimes in
 * milliseconds, null where the environment's value applies. It stores durations only and decides nothing: bounds
 * and who may write are the organization service's rules, falling back to the environment is the retention service's.
 */
import { Injectable } from '@nestjs/common';

import { DatabaseRepository } from './database.repository.js';

export type RetentionOverrides = { envelopeTtlMs: number | null; attachmentTtlMs: number | null };

@Injectable()
export class RetentionSettingsRepository {
  constructor(private readonly db: DatabaseRepository) {}

  async read(): Promise<RetentionOverrides> {
    const row = await this.db.prisma.retentionSetting.findUnique({ where: { id: 1 } });
    return {
      envelopeTtlMs: row?.envelopeTtlMs == null ? null : Number(row.envelopeTtlMs),
      attachmentTtlMs: row?.attachmentTtlMs == null ? null : Number(row.attachmentTtlMs),
    };
  }

  async write(overrides: RetentionOverrides, at: Date): Promise<void> {
    const data = {
      envelopeTtlMs: overrides.envelopeTtlMs === null ? null : BigInt(overrides.envelopeTtlMs),
      attachmentTtlMs: overrides.attachmentTtlMs === null ? null : BigInt(overrides.attachmentTtlMs),
      updatedAt: at,
    };
    await this.db.prisma.retentionSetting.upsert({ where: { id: 1 }, create: { id: 1, ...data }, update: data });
  }
}
