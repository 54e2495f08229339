/**
 * Organizations (docs/organizations.md): the roles the server enforces for its own admin endpoints, the organization
 * key (published once by the owner), role certificates (stored only when they verify under that key, so the server's
 * enforced roles follow the owner's signatures), invites (random codes stored hashed, with uses and an expiry), the
 * member list, the member directory (`ORG_DIRECTORY`), disabling and enabling accounts, the audit log, and the owner
 * invite the local admin socket asks for.
 * Clients never take the server's word for a role: they verify the certificates themselves. It holds no key that
 * could make a certificate.
 */
import { Injectable } from '@nestjs/common';
import { PublicKey, verifyRoleCertificate } from '@cove/crypto';
import {
  ErrorCode,
  MAX_DIRECTORY_RESULTS,
  type AuditListResponse,
  type CreateInviteRequest,
  type CreateInviteResponse,
  type DirectoryResponse,
  type InviteEntry,
  type MemberListResponse,
  type OrganizationRole,
  type RoleCertificateResponse,
} from '@cove/protocol';

import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { OrganizationRepository, type StoredInvite } from '../repositories/organization.repository.js';
import { ApiError } from './api-error.js';
import { AuditEvent, AuditService, OPERATOR } from './audit.service.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { DeliveryService } from './delivery.service.js';

/** Invite codes: 16 random bytes (128 bits), base64url, so a hash of them needs no salt or slowness. */
const INVITE_CODE_BYTES = 16;
/** The owner invite lives a day: long enough to register on the same day, short if it leaks from a terminal log. */
const OWNER_INVITE_TTL_MS = 24 * 3600 * 1000;
/** Audit pages: at most this many entries per request. */
const AUDIT_PAGE = 500;

const adminRequired = (what: string): ApiError => new ApiError(403, ErrorCode.AdminRequired, what);

@Injectable()
export class OrganizationService {
  constructor(
    private readonly organization: OrganizationRepository,
    private readonly crypto: CryptoRepository,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly delivery: DeliveryService,
    private readonly config: ConfigRepository,
  ) {}

  /**
   * The role the server enforces: `owner` for the account registered with the owner invite, else the role of its
   * stored (verified on upload) certificate while it is unexpired, else `member`.
   */
  async enforcedRole(accountId: string): Promise<OrganizationRole> {
    const account = await this.organization.account(accountId);
    if (!account || account.disabledAt) return 'member';
    if (account.role === 'owner') return 'owner';
    const certificate = await this.organization.certificate(accountId);
    if (!certificate || certificate.expiresAt.getTime() <= this.clock.now()) return 'member';
    return certificate.role === 'admin' ? 'admin' : 'member';
  }

  /** Whether the account may send organization notices (an admin or the owner). */
  async maySendNotices(accountId: string): Promise<boolean> {
    return (await this.enforcedRole(accountId)) !== 'member';
  }

  /** Refuses (`403 admin_required`) unless the device's account is an admin or the owner; returns its role. */
  async requireAdmin(device: AuthenticatedDevice): Promise<OrganizationRole> {
    const role = await this.enforcedRole(device.accountId);
    if (role === 'member') throw adminRequired('only administrators may do this');
    return role;
  }

  private async requireOwner(device: AuthenticatedDevice): Promise<void> {
    if ((await this.enforcedRole(device.accountId)) !== 'owner') throw adminRequired('only the owner may do this');
  }

  async organizationKey(): Promise<string | null> {
    const key = await this.organization.organizationKey();
    return key ? Buffer.from(key).toString('base64') : null;
  }

  async setOrganizationKey(device: AuthenticatedDevice, publicKey: string): Promise<void> {
    await this.requireOwner(device);
    const bytes = Buffer.from(publicKey, 'base64');
    if (!this.crypto.isEcPublicKey(bytes)) throw new ApiError(400, ErrorCode.InvalidKey, 'not an EC public key');
    if (!(await this.organization.setOrganizationKey(bytes))) {
      throw new ApiError(409, ErrorCode.OrganizationKeyExists, 'the organization key is already published');
    }
    await this.audit.record(AuditEvent.OrganizationKeyPublished, device.accountId, null);
  }

  /**
   * Stores a certificate the owner signed: it must verify under the published organization key, be unexpired and
   * name an existing, enabled account; the owner's own role is never changed by one.
   */
  async putCertificate(device: AuthenticatedDevice, body: string, signature: string): Promise<void> {
    await this.requireOwner(device);
    const key = await this.organization.organizationKey();
    if (!key) throw new ApiError(404, ErrorCode.NotFound, 'no organization key is published yet');
    const bodyBytes = Buffer.from(body, 'base64');
    const signatureBytes = Buffer.from(signature, 'base64');
    const certificate = verifyRoleCertificate(PublicKey.deserialize(key), bodyBytes, signatureBytes);
    if (!certificate || certificate.expiresAt <= this.clock.now()) {
      throw new ApiError(400, ErrorCode.InvalidSignature, 'not a valid certificate under the organization key');
    }
    const account = await this.organization.account(certificate.accountId);
    if (!account || account.disabledAt) throw new ApiError(404, ErrorCode.NotFound, 'no such account');
    const isOwner = account.role === 'owner';
    if (isOwner !== (certificate.role === 'owner')) {
      throw new ApiError(403, ErrorCode.Forbidden, "the owner's role is owner, and only the owner's");
    }
    await this.organization.putCertificate({
      accountId: certificate.accountId,
      role: certificate.role,
      body: bodyBytes,
      signature: signatureBytes,
      expiresAt: new Date(certificate.expiresAt),
    });
    const event =
      certificate.role === 'owner'
        ? AuditEvent.RoleOwner
        : certificate.role === 'admin'
          ? AuditEvent.RoleAdmin
          : AuditEvent.RoleMember;
    await this.audit.record(event, device.accountId, certificate.accountId);
  }

  async certificate(accountId: string): Promise<RoleCertificateResponse> {
    const stored = await this.organization.certificate(accountId);
    if (!stored) throw new ApiError(404, ErrorCode.NotFound, 'the account has no role certificate');
    return toCertificate(stored);
  }

  async certificates(): Promise<{ certificates: RoleCertificateResponse[] }> {
    return { certificates: (await this.organization.certificates()).map(toCertificate) };
  }

  async createInvite(device: AuthenticatedDevice, request: CreateInviteRequest): Promise<CreateInviteResponse> {
    await this.requireAdmin(device);
    const { code, invite } = await this.newInvite(
      'member',
      request.uses,
      request.expiresInSeconds * 1000,
      device.accountId,
    );
    await this.audit.record(AuditEvent.InviteCreated, device.accountId, invite.id);
    return { ...toInvite(invite, this.clock.now()), code };
  }

  /** The single-use owner invite (local admin socket); refused once an owner exists. */
  async createOwnerInvite(): Promise<string> {
    if (await this.organization.ownerExists()) {
      throw new ApiError(409, ErrorCode.Forbidden, 'this server already has an owner');
    }
    const { code, invite } = await this.newInvite('owner', 1, OWNER_INVITE_TTL_MS, null);
    await this.audit.record(AuditEvent.OwnerInviteCreated, OPERATOR, invite.id);
    return code;
  }

  private async newInvite(
    role: 'owner' | 'member',
    uses: number,
    lifetimeMs: number,
    createdBy: string | null,
  ): Promise<{ code: string; invite: StoredInvite }> {
    const raw = this.crypto.randomBytes(INVITE_CODE_BYTES);
    const invite = await this.organization.createInvite({
      id: this.crypto.randomUUID(),
      codeHash: this.crypto.hash(raw),
      role,
      uses,
      expiresAt: new Date(this.clock.now() + lifetimeMs),
      createdBy,
    });
    return { code: raw.toString('base64url'), invite };
  }

  async invites(device: AuthenticatedDevice): Promise<{ invites: InviteEntry[] }> {
    await this.requireAdmin(device);
    const now = this.clock.now();
    return { invites: (await this.organization.invites()).map((i) => toInvite(i, now)) };
  }

  async revokeInvite(device: AuthenticatedDevice, id: string): Promise<void> {
    await this.requireAdmin(device);
    if (!(await this.organization.revokeInvite(id, new Date(this.clock.now())))) {
      throw new ApiError(404, ErrorCode.NotFound, 'no such invite');
    }
    await this.audit.record(AuditEvent.InviteRevoked, device.accountId, id);
  }

  /**
   * Takes one use of the invite `code` for a registration: its id and role (`owner` or `member`), or null when the
   * code is not a live invite. Codes are looked up by hash: the lookup reveals nothing about other codes.
   */
  async redeemInvite(code: string): Promise<{ id: string; role: string } | null> {
    const raw = Buffer.from(code, 'base64url');
    if (raw.length !== INVITE_CODE_BYTES || raw.toString('base64url') !== code) return null;
    return this.organization.consumeInvite(this.crypto.hash(raw), new Date(this.clock.now()));
  }

  returnInvite(id: string): Promise<void> {
    return this.organization.returnInvite(id);
  }

  /** After a registration with the owner invite: the account is the owner. */
  async registered(accountId: string, invite: { id: string; role: string } | null): Promise<void> {
    if (invite?.role === 'owner') await this.organization.setOwner(accountId);
    await this.audit.record(AuditEvent.Registered, accountId, invite?.id ?? null);
    if (invite?.role === 'owner') await this.audit.record(AuditEvent.RoleOwner, OPERATOR, accountId);
  }

  usernameDisabled(username: string): Promise<boolean> {
    return this.organization.usernameDisabled(username.toLowerCase());
  }

  /**
   * The organization directory (`ORG_DIRECTORY`): any member finds enabled members by username prefix (lower case,
   * validated by the caller). Off: `404 directory_disabled`, so a client can tell "off" from "no match".
   */
  async directory(prefix: string): Promise<DirectoryResponse> {
    if (!this.config.config.directory)
      throw new ApiError(404, ErrorCode.DirectoryDisabled, 'the directory is off on this server');
    return { entries: await this.organization.directory(prefix, MAX_DIRECTORY_RESULTS) };
  }

  async members(device: AuthenticatedDevice): Promise<MemberListResponse> {
    await this.requireAdmin(device);
    const now = this.clock.now();
    const certificates = new Map((await this.organization.certificates()).map((c) => [c.accountId, c]));
    const rows = await this.organization.members();
    return {
      members: rows.map((row) => {
        const certificate = certificates.get(row.accountId);
        const role: OrganizationRole =
          row.role === 'owner'
            ? 'owner'
            : certificate && certificate.role === 'admin' && certificate.expiresAt.getTime() > now && !row.disabledAt
              ? 'admin'
              : 'member';
        return {
          accountId: row.accountId,
          username: row.username,
          role,
          joinedAt: row.createdAt.getTime(),
          lastActiveDay: row.lastSeenAt ? row.lastSeenAt.toISOString().slice(0, 10) : null,
          devices: row.devices,
          deviceList: row.deviceList.map((d) => ({
            deviceId: d.deviceId,
            createdAt: d.createdAt.getTime(),
            lastActiveDay: d.lastSeenAt.toISOString().slice(0, 10),
          })),
          disabled: row.disabledAt !== null,
        };
      }),
    };
  }

  /**
   * Disables an account: marks it, removes its devices (queues, keys, tickets with them) and closes their sockets on
   * every instance. The owner cannot be disabled; an admin can be disabled by the owner only.
   */
  async disable(device: AuthenticatedDevice, accountId: string): Promise<void> {
    const actorRole = await this.requireAdmin(device);
    if (accountId === device.accountId) throw new ApiError(403, ErrorCode.Forbidden, 'you cannot disable yourself');
    const targetRole = await this.enforcedRole(accountId);
    if (targetRole === 'owner') throw new ApiError(403, ErrorCode.Forbidden, 'the owner cannot be disabled');
    if (targetRole === 'admin' && actorRole !== 'owner') throw adminRequired('only the owner disables an admin');
    const devices = await this.organization.disable(accountId, new Date(this.clock.now()));
    if (devices === null) throw new ApiError(404, ErrorCode.NotFound, 'no such account');
    for (const deviceId of devices) this.delivery.disconnectDevice(accountId, deviceId);
    await this.audit.record(AuditEvent.AccountDisabled, device.accountId, accountId);
  }

  /** Enables a disabled account: its row goes, so its username may register anew (with an invite where required). */
  async enable(device: AuthenticatedDevice, accountId: string): Promise<void> {
    await this.requireAdmin(device);
    if (!(await this.organization.enable(accountId))) {
      throw new ApiError(404, ErrorCode.NotFound, 'no such disabled account');
    }
    await this.audit.record(AuditEvent.AccountEnabled, device.accountId, accountId);
  }

  async auditLog(device: AuthenticatedDevice, after: number): Promise<AuditListResponse> {
    await this.requireAdmin(device);
    const rows = await this.organization.audit(after, AUDIT_PAGE + 1);
    return {
      entries: rows.slice(0, AUDIT_PAGE).map((r) => ({
        seq: r.seq,
        at: r.at.getTime(),
        event: r.event,
        actor: r.actor,
        target: r.target,
        prevHash: Buffer.from(r.prevHash).toString('hex'),
        hash: Buffer.from(r.hash).toString('hex'),
      })),
      more: rows.length > AUDIT_PAGE,
    };
  }
}

const toCertificate = (stored: {
  accountId: string;
  body: Uint8Array;
  signature: Uint8Array;
}): RoleCertificateResponse => ({
  accountId: stored.accountId,
  certificate: Buffer.from(stored.body).toString('base64'),
  signature: Buffer.from(stored.signature).toString('base64'),
});

const toInvite = (invite: StoredInvite, now: number): InviteEntry => ({
  id: invite.id,
  uses: invite.uses,
  usesLeft: invite.expiresAt.getTime() <= now || invite.revokedAt ? 0 : invite.usesLeft,
  expiresAt: invite.expiresAt.getTime(),
  createdAt: invite.createdAt.getTime(),
  revoked: invite.revokedAt !== null,
});
