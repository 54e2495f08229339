/**
 * The admin console's view model: whether this account may see the console (a certificate proving admin or owner
 * under the pinned organization key; the server's word alone is not enough), and the console's actions mapped to
 * plain view data — members with their devices, invites (a created code with its link), roles (signing needs the
 * owner's device), notices, retention in days, the server status and the audit log with account ids named by the
 * member list. It renders nothing and touches no browser API; the server enforces every role again.
 */
import type { AppSession } from '../app-session.js';
import type {
  AdminAccess,
  AdminAuditCheck,
  AdminAuditPage,
  AdminCreatedInvite,
  AdminInviteView,
  AdminMemberView,
  AdminOutcome,
  AdminRetentionView,
  AdminScreen,
  AdminStatusView,
} from '../model.js';
import type { AdminPort, AdminResult } from '../messenger-port.js';

const DAY_SECONDS = 24 * 3600;
/** Account ids are shown shortened where no username is known: enough to tell accounts apart in a list. */
const SHORT_ID_CHARS = 8;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const days = (seconds: number): number => Math.round((seconds / DAY_SECONDS) * 100) / 100;
const seconds = (value: number | null): number | null => (value === null ? null : Math.round(value * DAY_SECONDS));

export class AdminViewModel implements AdminScreen {
  /** Usernames by account id, from the last member list (to name audit entries). */
  private names = new Map<string, string>();

  constructor(
    private readonly session: AppSession,
    private readonly serverUrl: string,
    private readonly now: () => number = () => Date.now(),
  ) {}

  private async port(): Promise<AdminPort> {
    return (await this.session.requireMessenger()).admin;
  }

  private async run<T, U>(
    call: (port: AdminPort) => Promise<AdminResult<T>>,
    map: (value: T) => U,
  ): Promise<AdminOutcome<U>> {
    let result: AdminResult<T>;
    try {
      result = await call(await this.port());
    } catch {
      return { ok: false, error: 'other' };
    }
    return result.ok ? { ok: true, value: map(result.value) } : result;
  }

  async access(): Promise<AdminAccess | null> {
    const messenger = this.session.messenger() ?? (await this.session.requireMessenger().catch(() => null));
    if (!messenger) return null;
    const access = await messenger.admin.access();
    // A key the server swapped in proves nothing: no console on its word.
    if (access.role === 'member' || access.keyChanged) return null;
    return { role: access.role, canGrant: access.keyHolder };
  }

  async members(): Promise<AdminOutcome<AdminMemberView[]>> {
    const me = (await this.session.requireMessenger().catch(() => null))?.username ?? null;
    return this.run(
      (port) => port.members(),
      (members) => {
        this.names = new Map(members.flatMap((m) => (m.username ? [[m.accountId, m.username] as const] : [])));
        return members.map((m) => ({
          accountId: m.accountId,
          name: m.username ?? m.accountId.slice(0, SHORT_ID_CHARS),
          role: m.certifiedRole,
          uncertified: m.role !== m.certifiedRole,
          joinedAt: m.joinedAt,
          lastActiveDay: m.lastActiveDay,
          devices: m.deviceList,
          disabled: m.disabled,
          me: me !== null && m.username?.toLowerCase() === me.toLowerCase(),
        }));
      },
    );
  }

  async setDisabled(accountId: string, disabled: boolean): Promise<AdminOutcome> {
    const result = await this.run(
      (port) => port.setDisabled(accountId, disabled),
      () => undefined,
    );
    this.session.store.bump();
    return result;
  }

  async removeDevice(accountId: string, deviceId: number): Promise<AdminOutcome> {
    const result = await this.run(
      (port) => port.removeDevice(accountId, deviceId),
      () => undefined,
    );
    this.session.store.bump();
    return result;
  }

  async grant(accountId: string, role: 'admin' | 'member'): Promise<AdminOutcome> {
    const result = await this.run(
      (port) => port.grant(accountId, role),
      () => undefined,
    );
    this.session.store.bump();
    return result;
  }

  invites(): Promise<AdminOutcome<AdminInviteView[]>> {
    return this.run(
      (port) => port.invites(),
      (invites) => {
        const now = this.now();
        return invites
          .map((i) => ({ ...i, live: !i.revoked && i.usesLeft > 0 && i.expiresAt > now }))
          .sort((a, b) => b.createdAt - a.createdAt);
      },
    );
  }

  async createInvite(uses: number, lifetimeDays: number): Promise<AdminOutcome<AdminCreatedInvite>> {
    if (!Number.isInteger(uses) || uses < 1 || !(lifetimeDays > 0)) return { ok: false, error: 'invalid' };
    const lifetime = Math.round(lifetimeDays * DAY_SECONDS);
    const result = await this.run(
      (port) => port.createInvite(uses, lifetime),
      (created) => ({
        code: created.code,
        link: `${this.serverUrl.replace(/\/+$/, '')}/?invite=${encodeURIComponent(created.code)}`,
        uses: created.uses,
        expiresAt: created.expiresAt,
      }),
    );
    this.session.store.bump();
    return result;
  }

  async revokeInvite(id: string): Promise<AdminOutcome> {
    const result = await this.run(
      (port) => port.revokeInvite(id),
      () => undefined,
    );
    this.session.store.bump();
    return result;
  }

  sendNotice(text: string): Promise<AdminOutcome<number>> {
    if (text.trim().length === 0) return Promise.resolve({ ok: false, error: 'invalid' });
    return this.run(
      (port) => port.sendNotice(text),
      (n) => n,
    );
  }

  retention(): Promise<AdminOutcome<AdminRetentionView>> {
    return this.run((port) => port.retention(), toRetentionView);
  }

  setRetention(envelopeDays: number | null, attachmentDays: number | null): Promise<AdminOutcome<AdminRetentionView>> {
    return this.run((port) => port.setRetention(seconds(envelopeDays), seconds(attachmentDays)), toRetentionView);
  }

  status(): Promise<AdminOutcome<AdminStatusView>> {
    return this.run(
      (port) => port.serverStatus(),
      (status) => status,
    );
  }

  audit(after: number): Promise<AdminOutcome<AdminAuditPage>> {
    return this.run(
      (port) => port.auditPage(after),
      (page) => ({
        entries: page.entries.map((e) => ({
          seq: e.seq,
          at: e.at,
          event: e.event,
          actor: this.nameOf(e.actor),
          target: this.targetOf(e.target),
        })),
        more: page.more,
        next: page.entries.at(-1)?.seq ?? after,
      }),
    );
  }

  verifyAudit(): Promise<AdminOutcome<AdminAuditCheck>> {
    return this.run(
      (port) => port.verifyAudit(),
      (check) => check,
    );
  }

  copy(text: string): Promise<boolean> {
    return this.session.platform.capabilities.copyText(text);
  }

  /** An account id as its username when known; anything else (`operator`, an invite id) as it is. */
  private nameOf(id: string | null): string {
    if (id === null) return '—';
    const name = this.names.get(id);
    if (name) return name;
    // An invite id or an account the list no longer has: shortened, enough to tell them apart.
    return UUID.test(id) ? `${id.slice(0, SHORT_ID_CHARS)}…` : id;
  }

  /** A target: an account, `account.device` (named, with the device number), an invite id or retention values. */
  private targetOf(target: string | null): string {
    if (target === null) return '—';
    const device = /^([0-9a-f-]{36})\.(\d+)$/.exec(target);
    if (device?.[1] && device[2]) return `${this.nameOf(device[1])} #${device[2]}`;
    return this.nameOf(target);
  }
}

const toRetentionView = (r: {
  envelope: { effectiveSeconds: number; defaultSeconds: number; overrideSeconds: number | null };
  attachment: { effectiveSeconds: number; defaultSeconds: number; overrideSeconds: number | null };
}): AdminRetentionView => ({
  envelopeDays: days(r.envelope.effectiveSeconds),
  attachmentDays: days(r.attachment.effectiveSeconds),
  envelopeDefaultDays: days(r.envelope.defaultSeconds),
  attachmentDefaultDays: days(r.attachment.defaultSeconds),
  envelopeOverridden: r.envelope.overrideSeconds !== null,
  attachmentOverridden: r.attachment.overrideSeconds !== null,
});
