/**
 * The admin console's calls over the messenger core: the core's Organization (members, invites, roles, disabling,
 * a member's device, retention, server status, the audit log and its verification) and its notice send, with every
 * failure turned into an AdminError for the view model. Loaded with the core (messenger-adapter.ts); it decides
 * nothing itself: the server enforces roles, the core refuses what this device cannot prove or sign.
 */
import { ClientError, ClientErrorCode, ServerResponseError, type Messenger } from '@cove/client';
import type { AdminError, AdminPort, AdminResult } from './messenger-port.js';

const CLIENT_ERRORS: Partial<Record<ClientErrorCode, AdminError>> = {
  [ClientErrorCode.NotAdmin]: 'forbidden',
  [ClientErrorCode.OrganizationKey]: 'owner-only',
  [ClientErrorCode.UnknownUser]: 'not-found',
  [ClientErrorCode.InvalidInput]: 'invalid',
  [ClientErrorCode.ServerUnreachable]: 'network',
  [ClientErrorCode.RateLimited]: 'network',
};

const adminError = (error: unknown): AdminError => {
  if (error instanceof ClientError) return CLIENT_ERRORS[error.code] ?? 'other';
  if (error instanceof ServerResponseError) {
    if (error.status === 403) return 'forbidden';
    if (error.status === 404) return 'not-found';
    if (error.status === 400 || error.status === 413) return 'invalid';
  }
  if (error instanceof TypeError) return 'network';
  return 'other';
};

/** Drops a call's value: the console only needs to know it worked. */
const done = async (call: Promise<unknown>): Promise<undefined> => {
  await call;
  return undefined;
};

const attempt = async <T>(call: () => Promise<T>): Promise<AdminResult<T>> => {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error: adminError(error) };
  }
};

export class AdminAdapter implements AdminPort {
  constructor(private readonly messenger: Messenger) {}

  private get organization(): Messenger['organization'] {
    return this.messenger.organization;
  }

  async access(): Promise<{ role: 'owner' | 'admin' | 'member'; keyHolder: boolean; keyChanged: boolean }> {
    const status = await this.organization.status();
    // A key the server swapped in proves nothing: no console on its word.
    return {
      role: status.keyChanged ? 'member' : status.role,
      keyHolder: status.keyHolder,
      keyChanged: status.keyChanged,
    };
  }

  members() {
    return attempt(() => this.organization.members());
  }

  setDisabled(accountId: string, disabled: boolean) {
    return attempt(() => done(this.organization.setDisabled(accountId, disabled)));
  }

  removeDevice(accountId: string, deviceId: number) {
    return attempt(() => done(this.organization.removeMemberDevice(accountId, deviceId)));
  }

  invites() {
    return attempt(() => this.organization.invites());
  }

  createInvite(uses: number, expiresInSeconds: number) {
    return attempt(() => this.organization.createInvite({ uses, expiresInSeconds }));
  }

  revokeInvite(id: string) {
    return attempt(() => done(this.organization.revokeInvite(id)));
  }

  grant(accountId: string, role: 'admin' | 'member') {
    return attempt(() => done(this.organization.grant(accountId, role)));
  }

  sendNotice(text: string) {
    return attempt(async () => (await this.messenger.sendNotice(text)).recipients);
  }

  retention() {
    return attempt(() => this.organization.retention());
  }

  setRetention(envelopeSeconds: number | null, attachmentSeconds: number | null) {
    return attempt(() => this.organization.setRetention(envelopeSeconds, attachmentSeconds));
  }

  serverStatus() {
    return attempt(() => this.organization.serverStatus());
  }

  auditPage(after: number) {
    return attempt(() => this.organization.auditPage(after));
  }

  verifyAudit() {
    return attempt(async () => {
      const result = await this.organization.audit();
      return { intact: result.intact, brokenAt: result.brokenAt, entries: result.entries.length };
    });
  }
}
