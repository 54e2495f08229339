/**
 * Encrypted profiles in the database: one row per account holding the ciphertext of its fields under the version of
 * its current profile key. Stores and reads bytes only; it cannot read a profile and decides nothing (the profile
 * service checks sizes and versions).
 */
import { Injectable } from '@nestjs/common';

import { type Bytes, DatabaseRepository } from './database.repository.js';

export type StoredProfile = {
  version: string;
  name: Bytes | null;
  about: Bytes | null;
  avatar: Bytes | null;
};

@Injectable()
export class ProfileRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Replaces the account's profile (any earlier version is gone). */
  async put(accountId: string, profile: StoredProfile): Promise<void> {
    const data = { ...profile, updatedAt: new Date() };
    await this.db.prisma.profile.upsert({ where: { accountId }, create: { accountId, ...data }, update: data });
  }

  async get(accountId: string): Promise<StoredProfile | null> {
    return this.db.prisma.profile.findUnique({
      where: { accountId },
      select: { version: true, name: true, about: true, avatar: true },
    });
  }
}
