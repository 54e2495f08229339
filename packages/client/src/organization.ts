/**
 * The organization as one client sees it (docs/organizations.md): the organization key pinned on first use (or
 * inherited when linking), a loud warning when the server later presents another one, the roles it believes (only
 * from certificates that verify under the PINNED key, name the account and are valid now: whatever the server claims
 * without one is a member), the owner's bootstrap (making the key, publishing its public half, certifying itself),
 * granting roles (the owner's devices sign), the member directory, and the admin calls: members, invites, disabling,
 * removing a member's device, retention, the server status, the audit log and its verification (the hash chain, and
 * that the head this device verified before is still in it). It sends no message (notices.ts does).
 */
import {
  PrivateKey,
  PublicKey,
  auditEntryHash,
  equalBytes,
  generateOrganizationKey,
  organizationKeyFingerprint,
  signRoleCertificate,
  validRole,
  verifyAuditChain,
  type OrganizationRole,
} from '@cove/crypto';
import {
  DIRECTORY_QUERY_PATTERN,
  fromBase64,
  type AuditEntry,
  type DirectoryEntry,
  type InviteEntry,
  type MemberEntry,
} from '@cove/protocol';

import { resolveCached } from './contacts.js';
import type { MessengerContext } from './context.js';
import { ClientError, ClientErrorCode, ServerResponseError } from './errors.js';
import { metaPut, readMeta } from './meta.js';
import type { OrganizationRecord } from './tables.js';

/** Certificates the owner signs are valid a year; granting again renews one. */
export const ROLE_CERTIFICATE_LIFETIME_MS = 365 * 24 * 3600 * 1000;

export type { OrganizationRole };

export type OrganizationStatus = {
  /** The pinned key's fingerprint (40 digits in groups of five), null while no organization key is known. */
  fingerprint: string | null;
  /** The server presents a key other than the pinned one: roles under it are not believed. */
  keyChanged: boolean;
  presentedFingerprint: string | null;
  /** This device holds the private half (an owner's device). */
  keyHolder: boolean;
  /** Our own role, as believed from our certificate. */
  role: OrganizationRole;
};

export type MemberView = MemberEntry & {
  /** The role the member's certificate proves under the pinned key (`member` without a valid one). */
  certifiedRole: OrganizationRole;
};

export type AuditVerification = {
  entries: AuditEntry[];
  /** The chain links and hashes hold, and the head this device verified before is still in it. */
  intact: boolean;
  /** Sequence number of the first entry that breaks it (or the earlier head that vanished). */
  brokenAt: number | null;
};

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (text: string): Uint8Array => {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
};

const isForbidden = (error: unknown): boolean =>
  error instanceof ServerResponseError && (error.status === 403 || error.errorCode === 'admin_required');

export class Organization {
  constructor(private readonly ctx: MessengerContext) {}

  private record(): Promise<OrganizationRecord | undefined> {
    return readMeta(this.ctx.platform.storage, 'organization');
  }

  /** What is pinned here, without asking the server. */
  pinned(): Promise<OrganizationRecord | undefined> {
    return this.record();
  }

  /**
   * Asks the server for its organization key: pins it when none is pinned, records a different one as presented
   * (the warning); returns what is pinned now.
   */
  async refresh(): Promise<OrganizationRecord | undefined> {
    const info = await this.ctx.api.info();
    const served = info.organizationKey ? PublicKey.deserialize(fromBase64(info.organizationKey)).serialize() : null;
    const record = await this.record();
    if (!served) return record;
    if (!record) {
      const pinned: OrganizationRecord = {
        pinnedKey: served,
        pinnedAt: this.ctx.platform.clock.now(),
        presentedKey: null,
        privateKey: null,
        auditHead: null,
      };
      await this.ctx.platform.storage.commit([metaPut('organization', pinned)]);
      return pinned;
    }
    const changed = equalBytes(served, record.pinnedKey) ? null : served;
    const known = record.presentedKey;
    if ((changed === null) !== (known === null) || (changed && known && !equalBytes(changed, known))) {
      const updated = { ...record, presentedKey: changed };
      await this.ctx.platform.storage.commit([metaPut('organization', updated)]);
      if (changed) this.ctx.platform.logger.warn('the server presents a different organization key', {});
      return updated;
    }
    return record;
  }

  async status(): Promise<OrganizationStatus> {
    const record = await this.refresh();
    return {
      fingerprint: record ? organizationKeyFingerprint(PublicKey.deserialize(record.pinnedKey)) : null,
      keyChanged: record?.presentedKey != null,
      presentedFingerprint: record?.presentedKey
        ? organizationKeyFingerprint(PublicKey.deserialize(record.presentedKey))
        : null,
      keyHolder: record?.privateKey != null,
      role: record ? await this.roleOf(this.ctx.account.accountId) : 'member',
    };
  }

  /** The role a certificate proves under the pinned key right now; `member` without a pinned key or a valid one. */
  verifyCertificate(
    record: OrganizationRecord | undefined,
    accountId: string,
    certificate: Uint8Array,
    signature: Uint8Array,
  ): OrganizationRole {
    if (!record) return 'member';
    const role = validRole(
      PublicKey.deserialize(record.pinnedKey),
      accountId,
      certificate,
      signature,
      this.ctx.platform.clock.now(),
    );
    return role ?? 'member';
  }

  /** The role the client believes `peer` has (a username or account id), from its certificate on the server. */
  async roleOf(peer: string): Promise<OrganizationRole> {
    const accountId = await resolveCached(this.ctx, peer);
    const record = (await this.record()) ?? (await this.refresh());
    if (!record) return 'member';
    const stored = await this.ctx.api.roleCertificate(accountId);
    if (!stored) return 'member';
    return this.verifyCertificate(record, accountId, fromBase64(stored.certificate), fromBase64(stored.signature));
  }

  /**
   * The owner's first step, right after registering with the owner invite: makes the organization key, publishes its
   * public half, certifies this account as owner and keeps the private half (and the pin). Returns false when this
   * account is not the server's owner (nothing is kept) or an organization key exists already.
   */
  async bootstrap(): Promise<boolean> {
    const existing = await this.record();
    if (existing?.privateKey) return false;
    const info = await this.ctx.api.info();
    if (info.organizationKey) {
      await this.refresh();
      return false;
    }
    const key = generateOrganizationKey();
    try {
      await this.ctx.api.setOrganizationKey(key.getPublicKey().serialize());
    } catch (error) {
      if (isForbidden(error) || (error instanceof ServerResponseError && error.status === 409)) return false;
      throw error;
    }
    const record: OrganizationRecord = {
      pinnedKey: key.getPublicKey().serialize(),
      pinnedAt: this.ctx.platform.clock.now(),
      presentedKey: null,
      privateKey: key.serialize(),
      auditHead: null,
    };
    // Kept before the certificate goes out: the key must never exist on the server without its holder.
    await this.ctx.platform.storage.commit([metaPut('organization', record)]);
    await this.certify(key, this.ctx.account.accountId, 'owner');
    return true;
  }

  private async certify(key: PrivateKey, accountId: string, role: OrganizationRole): Promise<void> {
    const now = this.ctx.platform.clock.now();
    const { body, signature } = signRoleCertificate(
      key,
      { accountId, role, issuedAt: now, expiresAt: now + ROLE_CERTIFICATE_LIFETIME_MS },
      (n) => this.ctx.platform.random.bytes(n),
    );
    await this.ctx.api.putRoleCertificate(body, signature);
  }

  /** Grants `role` (admin or member) to `peer`: the owner's device signs a certificate and stores it on the server. */
  async grant(peer: string, role: 'admin' | 'member'): Promise<{ accountId: string; role: OrganizationRole }> {
    const record = await this.refresh();
    if (!record?.privateKey)
      throw new ClientError(ClientErrorCode.OrganizationKey, "granting roles needs the owner's device");
    if (record.presentedKey)
      throw new ClientError(ClientErrorCode.OrganizationKey, 'the server presents a different organization key');
    const accountId = await resolveCached(this.ctx, peer);
    if (accountId === this.ctx.account.accountId)
      throw new ClientError(ClientErrorCode.InvalidInput, "the owner's role is owner");
    try {
      await this.certify(PrivateKey.deserialize(record.privateKey), accountId, role);
    } catch (error) {
      if (error instanceof ServerResponseError && error.status === 404)
        throw new ClientError(ClientErrorCode.UnknownUser, 'no such account');
      throw error;
    }
    return { accountId, role };
  }

  /** Our own certificate, checked, for a notice to carry; throws `not_admin` unless it proves admin or owner. */
  async noticeCredential(): Promise<{ roleCertificate: Uint8Array; roleCertificateSignature: Uint8Array }> {
    const record = await this.refresh();
    const stored = await this.ctx.api.roleCertificate(this.ctx.account.accountId);
    if (!record || !stored) throw new ClientError(ClientErrorCode.NotAdmin, 'only administrators send notices');
    const credential = {
      roleCertificate: fromBase64(stored.certificate),
      roleCertificateSignature: fromBase64(stored.signature),
    };
    const role = this.verifyCertificate(
      record,
      this.ctx.account.accountId,
      credential.roleCertificate,
      credential.roleCertificateSignature,
    );
    if (role === 'member') throw new ClientError(ClientErrorCode.NotAdmin, 'only administrators send notices');
    return credential;
  }

  private async admin<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isForbidden(error)) throw new ClientError(ClientErrorCode.NotAdmin, 'only administrators may do this');
      throw error;
    }
  }

  /** The members with the role each one's certificate proves here (and the one the server enforces). */
  async members(): Promise<MemberView[]> {
    const { members } = await this.admin(() => this.ctx.api.members());
    const record = await this.refresh();
    const { certificates } = await this.ctx.api.roleCertificates();
    const byAccount = new Map(certificates.map((c) => [c.accountId, c]));
    return members.map((member) => {
      const certificate = byAccount.get(member.accountId);
      return {
        ...member,
        certifiedRole: certificate
          ? this.verifyCertificate(
              record,
              member.accountId,
              fromBase64(certificate.certificate),
              fromBase64(certificate.signature),
            )
          : 'member',
      };
    });
  }

  /**
   * The organization directory: enabled members whose username starts with `query` (case-insensitive, at most 20, in
   * username order; this account included). `invalid_input` for a query that is no username prefix,
   * `directory_disabled` when the server has the directory off. Being listed proves nothing about a role.
   */
  async directory(query: string): Promise<DirectoryEntry[]> {
    const prefix = query.trim().replace(/^@/, '');
    if (!DIRECTORY_QUERY_PATTERN.test(prefix))
      throw new ClientError(ClientErrorCode.InvalidInput, 'search with 1-32 letters, digits, "_" or "."');
    try {
      return (await this.ctx.api.directory(prefix.toLowerCase())).entries;
    } catch (error) {
      if (error instanceof ServerResponseError && error.errorCode === 'directory_disabled')
        throw new ClientError(ClientErrorCode.DirectoryDisabled, 'the directory is off on this server');
      throw error;
    }
  }

  createInvite(options: { uses?: number; expiresInSeconds?: number } = {}) {
    return this.admin(() => this.ctx.api.createInvite(options.uses ?? 1, options.expiresInSeconds ?? 7 * 24 * 3600));
  }

  async invites(): Promise<InviteEntry[]> {
    return (await this.admin(() => this.ctx.api.invites())).invites;
  }

  revokeInvite(id: string): Promise<void> {
    return this.admin(() => this.ctx.api.revokeInvite(id));
  }

  async setDisabled(peer: string, disabled: boolean): Promise<string> {
    const accountId = await resolveCached(this.ctx, peer);
    try {
      await this.admin(() => this.ctx.api.setDisabled(accountId, disabled));
    } catch (error) {
      if (error instanceof ServerResponseError && error.status === 404)
        throw new ClientError(ClientErrorCode.UnknownUser, 'no such account');
      throw error;
    }
    return accountId;
  }

  /** Removes one device of a member (a lost laptop): `unknown_user` when the member or device is gone. */
  async removeMemberDevice(peer: string, deviceId: number): Promise<void> {
    const accountId = await resolveCached(this.ctx, peer);
    try {
      await this.admin(() => this.ctx.api.removeMemberDevice(accountId, deviceId));
    } catch (error) {
      if (error instanceof ServerResponseError && error.status === 404)
        throw new ClientError(ClientErrorCode.UnknownUser, 'no such device');
      throw error;
    }
  }

  /** Envelope and attachment lifetimes: applied, the server's default and the administrators' override. */
  retention() {
    return this.admin(() => this.ctx.api.retention());
  }

  /** Sets (seconds) or clears (null) the retention overrides; the server checks the bounds. */
  setRetention(envelopeTtlSeconds: number | null, attachmentTtlSeconds: number | null) {
    return this.admin(() => this.ctx.api.setRetention(envelopeTtlSeconds, attachmentTtlSeconds));
  }

  /** The server's status in counts: connections, job queues, waiting envelopes, accounts, devices. */
  serverStatus() {
    return this.admin(() => this.ctx.api.serverStatus());
  }

  /** One page of the audit log (entries after `after`), unverified: for listing; `audit()` verifies the whole. */
  auditPage(after: number) {
    return this.admin(() => this.ctx.api.auditLog(after));
  }

  /**
   * The whole audit log, verified here: every link and hash, and that the head this device verified last time is
   * still where it was (a log cut short or rewritten before it fails). An intact log's head is remembered.
   */
  async audit(): Promise<AuditVerification> {
    const entries: AuditEntry[] = [];
    for (let after = 0; ;) {
      const page = await this.admin(() => this.ctx.api.auditLog(after));
      entries.push(...page.entries);
      const last = page.entries.at(-1);
      if (!page.more || !last) break;
      after = last.seq;
    }
    const chain = entries.map((e) => ({ ...e, prevHash: fromHex(e.prevHash), hash: fromHex(e.hash) }));
    const { brokenAt } = verifyAuditChain(chain);
    const record = await this.record();
    let vanished: number | null = null;
    if (brokenAt === null && record?.auditHead) {
      const head = record.auditHead;
      const same = entries.find((e) => e.seq === head.seq);
      if (!same || same.hash !== head.hash) vanished = head.seq;
    }
    const intact = brokenAt === null && vanished === null;
    const last = entries.at(-1);
    if (intact && record && last) {
      await this.ctx.platform.storage.commit([
        metaPut('organization', { ...record, auditHead: { seq: last.seq, hash: last.hash } }),
      ]);
    }
    return { entries, intact, brokenAt: brokenAt ?? vanished };
  }
}

/** Recomputes one entry's hash (exported for tests and tools that check a single row). */
export const auditHashOf = (entry: AuditEntry): string =>
  hex(
    auditEntryHash(fromHex(entry.prevHash), {
      at: entry.at,
      event: entry.event,
      actor: entry.actor,
      target: entry.target,
    }),
  );
