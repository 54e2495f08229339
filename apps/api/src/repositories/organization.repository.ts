/**
 * Organization state in the database: the organization key (one row), role certificates, the enforced owner mark and
 * the disabled mark on accounts, hashed invites (consumed atomically, one use per statement) and the hash-chained
 * audit log (appended with a unique predecessor, so two instances appending at once cannot fork it; the loser
 * retries). No rules live here: the organization service decides who may do what.
 */
import { Injectable } from '@nestjs/common';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '@cove/crypto';

import { type Bytes, DatabaseRepository, SqlState, sqlState } from './database.repository.js';
import { deleteDeviceQueues } from './envelope.repository.js';

export type StoredCertificate = { accountId: string; role: string; body: Bytes; signature: Bytes; expiresAt: Date };
export type StoredInvite = {
  id: string;
  role: string;
  uses: number;
  usesLeft: number;
  expiresAt: Date;
  createdAt: Date;
  revokedAt: Date | null;
};
export type StoredAuditEntry = {
  seq: number;
  at: Date;
  event: string;
  actor: string | null;
  target: string | null;
  prevHash: Bytes;
  hash: Bytes;
};
export type MemberRow = {
  accountId: string;
  username: string | null;
  role: string;
  createdAt: Date;
  disabledAt: Date | null;
  devices: number;
  lastSeenAt: Date | null;
  deviceList: Array<{ deviceId: number; createdAt: Date; lastSeenAt: Date }>;
};

/** Appends racing on one predecessor retry this often before giving up (each retry reads the new head). */
const AUDIT_APPEND_ATTEMPTS = 20;

@Injectable()
export class OrganizationRepository {
  constructor(private readonly db: DatabaseRepository) {}

  async organizationKey(): Promise<Bytes | null> {
    const row = await this.db.prisma.organization.findUnique({ where: { id: 1 }, select: { publicKey: true } });
    return row?.publicKey ?? null;
  }

  /** Stores the key; false when one exists already (it is never replaced through here). */
  async setOrganizationKey(publicKey: Bytes): Promise<boolean> {
    try {
      await this.db.prisma.organization.create({ data: { id: 1, publicKey } });
      return true;
    } catch (error) {
      if (sqlState(error) === SqlState.UniqueViolation) return false;
      throw error;
    }
  }

  async account(accountId: string): Promise<{ role: string; disabledAt: Date | null; username: string | null } | null> {
    return this.db.prisma.account.findUnique({
      where: { id: accountId },
      select: { role: true, disabledAt: true, username: true },
    });
  }

  async ownerExists(): Promise<boolean> {
    return (await this.db.prisma.account.count({ where: { role: 'owner' } })) > 0;
  }

  async setOwner(accountId: string): Promise<void> {
    await this.db.prisma.account.update({ where: { id: accountId }, data: { role: 'owner' } });
  }

  async putCertificate(certificate: StoredCertificate): Promise<void> {
    const { accountId, ...rest } = certificate;
    await this.db.prisma.roleCertificate.upsert({ where: { accountId }, create: certificate, update: rest });
  }

  async certificate(accountId: string): Promise<StoredCertificate | null> {
    return this.db.prisma.roleCertificate.findUnique({ where: { accountId } });
  }

  async certificates(): Promise<StoredCertificate[]> {
    return this.db.prisma.roleCertificate.findMany({ orderBy: { accountId: 'asc' } });
  }

  async createInvite(invite: {
    id: string;
    codeHash: Bytes;
    role: string;
    uses: number;
    expiresAt: Date;
    createdBy: string | null;
  }): Promise<StoredInvite> {
    return this.db.prisma.invite.create({
      data: { ...invite, usesLeft: invite.uses },
      select: inviteSelect,
    });
  }

  async invites(): Promise<StoredInvite[]> {
    return this.db.prisma.invite.findMany({
      where: { role: 'member' },
      orderBy: { createdAt: 'desc' },
      select: inviteSelect,
    });
  }

  async revokeInvite(id: string, at: Date): Promise<boolean> {
    const result = await this.db.prisma.invite.updateMany({
      where: { id, role: 'member', revokedAt: null },
      data: { revokedAt: at },
    });
    return result.count > 0;
  }

  /** Takes one use of a live invite (one statement: concurrent registrations cannot overdraw it); its id and role. */
  async consumeInvite(codeHash: Bytes, now: Date): Promise<{ id: string; role: string } | null> {
    const rows = await this.db.sql.query<{ id: string; role: string }>(
      `UPDATE invites SET uses_left = uses_left - 1
       WHERE code_hash = $1 AND uses_left > 0 AND revoked_at IS NULL AND expires_at > $2
       RETURNING id::text AS id, role`,
      [codeHash, now],
    );
    return rows[0] ?? null;
  }

  /** Gives a use back (the registration it was taken for failed). */
  async returnInvite(id: string): Promise<void> {
    await this.db.sql.query(`UPDATE invites SET uses_left = uses_left + 1 WHERE id = $1::uuid`, [id]);
  }

  async members(): Promise<MemberRow[]> {
    const rows = await this.db.sql.query<{
      id: string;
      username: string | null;
      role: string;
      created_at: Date;
      disabled_at: Date | null;
      devices: number;
      last_seen_at: Date | null;
    }>(
      `SELECT a.id::text AS id, a.username, a.role, a.created_at, a.disabled_at,
              COUNT(d.id)::int AS devices, MAX(d.last_seen_at) AS last_seen_at
       FROM accounts a LEFT JOIN devices d ON d.account_id = a.id
       GROUP BY a.id ORDER BY a.created_at, a.id`,
    );
    const devices = await this.db.sql.query<{ account_id: string; id: number; created_at: Date; last_seen_at: Date }>(
      `SELECT account_id::text AS account_id, id, created_at, last_seen_at FROM devices ORDER BY account_id, id`,
    );
    const byAccount = new Map<string, MemberRow['deviceList']>();
    for (const d of devices) {
      const list = byAccount.get(d.account_id) ?? [];
      list.push({ deviceId: Number(d.id), createdAt: new Date(d.created_at), lastSeenAt: new Date(d.last_seen_at) });
      byAccount.set(d.account_id, list);
    }
    return rows.map((r) => ({
      deviceList: byAccount.get(r.id) ?? [],
      accountId: r.id,
      username: r.username,
      role: r.role,
      createdAt: new Date(r.created_at),
      disabledAt: r.disabled_at ? new Date(r.disabled_at) : null,
      devices: Number(r.devices),
      lastSeenAt: r.last_seen_at ? new Date(r.last_seen_at) : null,
    }));
  }

  /**
   * The organization directory: enabled accounts with a username starting with `prefix` (lower case) and at least one
   * device (a deleted or device-less account is nobody to write to), in username order, at most `limit`.
   */
  async directory(prefix: string, limit: number): Promise<Array<{ accountId: string; username: string }>> {
    const rows = await this.db.sql.query<{ id: string; username: string }>(
      `SELECT a.id::text AS id, a.username
       FROM accounts a
       WHERE a.disabled_at IS NULL AND a.username IS NOT NULL AND starts_with(a.username_key, $1)
         AND EXISTS (SELECT 1 FROM devices d WHERE d.account_id = a.id)
       ORDER BY a.username_key LIMIT $2`,
      [prefix, limit],
    );
    return rows.map((r) => ({ accountId: r.id, username: r.username }));
  }

  /**
   * Marks the account disabled and deletes its devices (their queued envelopes first, in their lock order:
   * {@link deleteDeviceQueues}; their keys and tickets cascade), its
   * provisioning codes, its password (record and backup) and its role certificate, in one transaction; the device ids it had, or null when there is no such account.
   */
  async disable(accountId: string, at: Date): Promise<number[] | null> {
    return this.db.prisma.$transaction(async (tx) => {
      const updated = await tx.account.updateMany({ where: { id: accountId }, data: { disabledAt: at } });
      if (updated.count === 0) return null;
      // The account row is held (updated above); the devices' queues go first, in their lock order.
      await deleteDeviceQueues(tx, accountId, null);
      const devices = await tx.device.findMany({ where: { accountId }, select: { id: true } });
      await tx.device.deleteMany({ where: { accountId } });
      await tx.provisioningCode.deleteMany({ where: { accountId } });
      // Its password goes too: a password login would otherwise link a new device to the disabled account.
      await tx.accountPassword.deleteMany({ where: { accountId } });
      await tx.roleCertificate.deleteMany({ where: { accountId } });
      return devices.map((d) => d.id);
    });
  }

  /**
   * Lifts the disabled mark by deleting the (device-less) account row, so its username is free to register anew.
   * False when the account does not exist or is not disabled.
   */
  async enable(accountId: string): Promise<boolean> {
    const result = await this.db.prisma.account.deleteMany({ where: { id: accountId, disabledAt: { not: null } } });
    return result.count > 0;
  }

  /** Whether `usernameKey` (lower case) belongs to a disabled account. */
  async usernameDisabled(usernameKey: string): Promise<boolean> {
    const row = await this.db.prisma.account.findUnique({ where: { usernameKey }, select: { disabledAt: true } });
    return row?.disabledAt != null;
  }

  /** Appends one audit entry after the current head (retrying when another append took that head first). */
  async appendAudit(entry: { at: Date; event: string; actor: string | null; target: string | null }): Promise<void> {
    for (let attempt = 0; attempt < AUDIT_APPEND_ATTEMPTS; attempt++) {
      const head = await this.db.prisma.auditEntry.findFirst({ orderBy: { seq: 'desc' }, select: { hash: true } });
      const prevHash = head?.hash ?? AUDIT_GENESIS_HASH;
      const hash = auditEntryHash(prevHash, { ...entry, at: entry.at.getTime() });
      try {
        await this.db.prisma.auditEntry.create({
          data: { ...entry, prevHash: Buffer.from(prevHash), hash: Buffer.from(hash) },
        });
        return;
      } catch (error) {
        if (sqlState(error) !== SqlState.UniqueViolation) throw error;
      }
    }
    throw new Error('audit log append kept racing');
  }

  async audit(afterSeq: number, limit: number): Promise<StoredAuditEntry[]> {
    const rows = await this.db.prisma.auditEntry.findMany({
      where: { seq: { gt: BigInt(afterSeq) } },
      orderBy: { seq: 'asc' },
      take: limit,
    });
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }
}

const inviteSelect = {
  id: true,
  role: true,
  uses: true,
  usesLeft: true,
  expiresAt: true,
  createdAt: true,
  revokedAt: true,
} as const;
