/**
 * Storage of single sign-on state: sign-ins in progress (a browser's PKCE verifier and nonce, or a command line's
 * device code) and finished sign-ins' single-use grants, all keyed by digests of what the browser or CLI holds and
 * deleted when used or expired. Redeeming deletes in the same statement that reads, so a grant or a browser's state
 * works once even when two requests race. It decides nothing about who may join.
 */
import { Injectable } from '@nestjs/common';

import { type Bytes, DatabaseRepository } from './database.repository.js';

export type WebSignIn = { codeVerifier: string; nonce: string };
export type DeviceSignIn = { deviceCode: string; interval: number; expiresAt: Date };
export type SsoGrant = { username: string; subject: Bytes };

@Injectable()
export class SsoRepository {
  constructor(private readonly db: DatabaseRepository) {}

  private async purgeExpired(): Promise<void> {
    await this.db.sql.query('DELETE FROM sso_transactions WHERE expires_at < now()');
    await this.db.sql.query('DELETE FROM sso_grants WHERE expires_at < now()');
  }

  async saveWebSignIn(keyHash: Bytes, signIn: WebSignIn, expiresAt: Date): Promise<void> {
    await this.purgeExpired();
    await this.db.prisma.ssoTransaction.create({
      data: { keyHash, kind: 'web', codeVerifier: signIn.codeVerifier, nonce: signIn.nonce, expiresAt },
    });
  }

  /** Deletes and returns an unexpired browser sign-in (a state works once). */
  async takeWebSignIn(keyHash: Bytes): Promise<WebSignIn | null> {
    const rows = await this.db.sql.query<{ code_verifier: string; nonce: string }>(
      `DELETE FROM sso_transactions WHERE key_hash = $1 AND kind = 'web' AND expires_at > now()
       RETURNING code_verifier, nonce`,
      [keyHash],
    );
    const row = rows[0];
    return row ? { codeVerifier: row.code_verifier, nonce: row.nonce } : null;
  }

  async saveDeviceSignIn(keyHash: Bytes, signIn: DeviceSignIn): Promise<void> {
    await this.purgeExpired();
    await this.db.prisma.ssoTransaction.create({
      data: {
        keyHash,
        kind: 'device',
        deviceCode: signIn.deviceCode,
        interval: signIn.interval,
        expiresAt: signIn.expiresAt,
      },
    });
  }

  async deviceSignIn(keyHash: Bytes): Promise<DeviceSignIn | null> {
    const row = await this.db.prisma.ssoTransaction.findUnique({ where: { keyHash } });
    if (!row || row.kind !== 'device' || !row.deviceCode || row.expiresAt.getTime() <= Date.now()) return null;
    return { deviceCode: row.deviceCode, interval: row.interval ?? 5, expiresAt: row.expiresAt };
  }

  async slowDownDeviceSignIn(keyHash: Bytes, interval: number): Promise<void> {
    await this.db.prisma.ssoTransaction.updateMany({ where: { keyHash }, data: { interval } });
  }

  /** Ends a device sign-in; true for the one request that ended it (a finished grant is handed out once). */
  async endDeviceSignIn(keyHash: Bytes): Promise<boolean> {
    const ended = await this.db.prisma.ssoTransaction.deleteMany({ where: { keyHash, kind: 'device' } });
    return ended.count === 1;
  }

  async saveGrant(tokenHash: Bytes, grant: SsoGrant, expiresAt: Date): Promise<void> {
    await this.db.prisma.ssoGrant.create({
      data: { tokenHash, username: grant.username, subject: grant.subject, expiresAt },
    });
  }

  /** Deletes and returns an unexpired grant (single use). */
  async takeGrant(tokenHash: Bytes): Promise<SsoGrant | null> {
    const rows = await this.db.sql.query<{ username: string; subject: Bytes }>(
      'DELETE FROM sso_grants WHERE token_hash = $1 AND expires_at > now() RETURNING username, subject',
      [tokenHash],
    );
    const row = rows[0];
    return row ? { username: row.username, subject: new Uint8Array(row.subject) } : null;
  }

  /** The account a person (by their subject digest) registered, if any. */
  async accountOf(subject: Bytes): Promise<string | null> {
    const row = await this.db.prisma.account.findUnique({ where: { ssoSubject: subject }, select: { id: true } });
    return row?.id ?? null;
  }

  async subjectOf(accountId: string): Promise<Bytes | null> {
    const row = await this.db.prisma.account.findUnique({ where: { id: accountId }, select: { ssoSubject: true } });
    return row?.ssoSubject ?? null;
  }
}
