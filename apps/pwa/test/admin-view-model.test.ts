/**
 * The admin console's view model with a recording admin port: the console is hidden unless the certificate proves
 * admin or owner (never on a changed organization key), members carry their devices and a warning where the server
 * claims a role no certificate proves, invites come with a link carrying the code, bad input never reaches the
 * server, retention days become whole seconds (null: the default), audit entries name accounts and devices, and the
 * port's refusals come through as failures.
 */
import { describe, expect, it } from '@jest/globals';
import type { MemberView } from '@cove/client';
import type { AppPlatform } from '../src/app/app-platform.js';
import type { AppSession } from '../src/app/app-session.js';
import { AppStateStore } from '../src/app/app-state-store.js';
import type { AdminPort, MessengerPort } from '../src/app/messenger-port.js';
import type { AppState } from '../src/app/model.js';
import { AdminViewModel } from '../src/app/view-models/admin-view-model.js';

const OWNER = '11111111-1111-4111-8111-111111111111';
const MEMBER = '22222222-2222-4222-8222-222222222222';
const INVITE = '33333333-3333-4333-8333-333333333333';
const DAY = 86_400;
const NOW = 1_800_000_000_000;

const member = (accountId: string, username: string, role: MemberView['role'], certifiedRole = role): MemberView => ({
  accountId,
  username,
  role,
  certifiedRole,
  joinedAt: NOW - 1000,
  lastActiveDay: '2027-01-15',
  devices: 1,
  deviceList: [{ deviceId: 1, createdAt: NOW - 1000, lastActiveDay: '2027-01-15' }],
  disabled: false,
});

function setup(access: Awaited<ReturnType<AdminPort['access']>>) {
  const calls: string[] = [];
  const ok = <T>(value: T) => Promise.resolve({ ok: true as const, value });
  const retention = {
    envelope: { effectiveSeconds: 14 * DAY, defaultSeconds: 30 * DAY, overrideSeconds: 14 * DAY },
    attachment: { effectiveSeconds: 30 * DAY, defaultSeconds: 30 * DAY, overrideSeconds: null },
  };
  const admin: AdminPort = {
    access: () => Promise.resolve(access),
    members: () => ok([member(OWNER, 'boss', 'owner'), member(MEMBER, 'mallory', 'admin', 'member')]),
    setDisabled: (id, disabled) => {
      calls.push(`disable ${id} ${disabled}`);
      return ok(undefined);
    },
    removeDevice: (id, device) => {
      calls.push(`remove ${id}.${device}`);
      return Promise.resolve({ ok: false, error: 'forbidden' });
    },
    invites: () =>
      ok([
        { id: INVITE, uses: 2, usesLeft: 1, expiresAt: NOW + 1000, createdAt: NOW - 5, revoked: false },
        { id: MEMBER, uses: 1, usesLeft: 1, expiresAt: NOW - 1, createdAt: NOW - 10, revoked: false },
      ]),
    createInvite: (uses, seconds) => {
      calls.push(`invite ${uses} ${seconds}`);
      return ok({ id: INVITE, uses, usesLeft: uses, expiresAt: NOW, createdAt: NOW, revoked: false, code: 'c0de_-x' });
    },
    revokeInvite: () => ok(undefined),
    grant: (id, role) => {
      calls.push(`grant ${id} ${role}`);
      return Promise.resolve({ ok: false, error: 'owner-only' });
    },
    sendNotice: (text) => {
      calls.push(`notice ${text}`);
      return ok(3);
    },
    retention: () => ok(retention),
    setRetention: (e, a) => {
      calls.push(`retention ${e} ${a}`);
      return ok(retention);
    },
    serverStatus: () => Promise.resolve({ ok: false, error: 'network' }),
    auditPage: (after) =>
      ok({
        entries: [
          {
            seq: after + 1,
            at: NOW,
            event: 'device_removed',
            actor: OWNER,
            target: `${MEMBER}.2`,
            prevHash: '',
            hash: '',
          },
          {
            seq: after + 2,
            at: NOW,
            event: 'invite_created',
            actor: 'operator',
            target: INVITE,
            prevHash: '',
            hash: '',
          },
        ],
        more: true,
      }),
    verifyAudit: () => ok({ intact: false, brokenAt: 3, entries: 9 }),
  };
  const messenger = { username: 'boss', admin } as unknown as MessengerPort;
  const state = { revision: 0 } as AppState;
  const session: AppSession = {
    store: new AppStateStore(state),
    platform: { capabilities: { copyText: () => Promise.resolve(true) } } as unknown as AppPlatform,
    vault: () => null,
    profile: () => null,
    reader: () => null,
    messenger: () => messenger,
    requireMessenger: () => Promise.resolve(messenger),

    firstScreenShown: () => undefined,
  };
  return { calls, model: new AdminViewModel(session, 'https://cove.example/', () => NOW) };
}

describe('AdminViewModel', () => {
  it('should open the console only for a certified admin or owner, never on a changed key', async () => {
    expect(await setup({ role: 'member', keyHolder: false, keyChanged: false }).model.access()).toBeNull();
    expect(await setup({ role: 'owner', keyHolder: true, keyChanged: true }).model.access()).toBeNull();
    expect(await setup({ role: 'admin', keyHolder: false, keyChanged: false }).model.access()).toEqual({
      role: 'admin',
      canGrant: false,
    });
    expect(await setup({ role: 'owner', keyHolder: true, keyChanged: false }).model.access()).toEqual({
      role: 'owner',
      canGrant: true,
    });
  });

  it('should list members with devices, mark an uncertified server role, and pass refusals through', async () => {
    const { model, calls } = setup({ role: 'owner', keyHolder: true, keyChanged: false });
    const members = await model.members();
    expect(members.ok && members.value).toEqual([
      expect.objectContaining({ name: 'boss', role: 'owner', uncertified: false, me: true }),
      expect.objectContaining({
        name: 'mallory',
        role: 'member',
        uncertified: true,
        me: false,
        devices: [{ deviceId: 1, createdAt: NOW - 1000, lastActiveDay: '2027-01-15' }],
      }),
    ]);
    expect(await model.grant(MEMBER, 'admin')).toEqual({ ok: false, error: 'owner-only' });
    expect(await model.removeDevice(MEMBER, 2)).toEqual({ ok: false, error: 'forbidden' });
    expect(await model.status()).toEqual({ ok: false, error: 'network' });
    expect(calls).toEqual([`grant ${MEMBER} admin`, `remove ${MEMBER}.2`]);
  });

  it('should create invites with a link, refuse bad input locally, and mark live invites', async () => {
    const { model, calls } = setup({ role: 'admin', keyHolder: false, keyChanged: false });
    expect(await model.createInvite(2, 7)).toEqual({
      ok: true,
      value: { code: 'c0de_-x', link: 'https://cove.example/?invite=c0de_-x', uses: 2, expiresAt: NOW },
    });
    expect(await model.createInvite(0, 7)).toEqual({ ok: false, error: 'invalid' });
    expect(await model.createInvite(1.5, 7)).toEqual({ ok: false, error: 'invalid' });
    expect(await model.createInvite(1, Number.NaN)).toEqual({ ok: false, error: 'invalid' });
    expect(await model.sendNotice('   ')).toEqual({ ok: false, error: 'invalid' });
    expect(await model.sendNotice('drill at 3')).toEqual({ ok: true, value: 3 });
    const invites = await model.invites();
    expect(invites.ok && invites.value.map((i) => i.live)).toEqual([true, false]);
    expect(calls).toEqual([`invite 2 ${7 * DAY}`, 'notice drill at 3']);
  });

  it('should show retention in days and send whole seconds, null for the default', async () => {
    const { model, calls } = setup({ role: 'admin', keyHolder: false, keyChanged: false });
    expect(await model.retention()).toEqual({
      ok: true,
      value: {
        envelopeDays: 14,
        attachmentDays: 30,
        envelopeDefaultDays: 30,
        attachmentDefaultDays: 30,
        envelopeOverridden: true,
        attachmentOverridden: false,
      },
    });
    await model.setRetention(1 / 24, null);
    await model.setRetention(14, 2.5);
    expect(calls).toEqual(['retention 3600 null', `retention ${14 * DAY} ${2.5 * DAY}`]);
  });

  it('should name accounts and devices in the audit log and page on from the last entry', async () => {
    const { model } = setup({ role: 'admin', keyHolder: false, keyChanged: false });
    await model.members();
    const page = await model.audit(0);
    expect(page).toEqual({
      ok: true,
      value: {
        entries: [
          { seq: 1, at: NOW, event: 'device_removed', actor: 'boss', target: 'mallory #2' },
          { seq: 2, at: NOW, event: 'invite_created', actor: 'operator', target: '33333333…' },
        ],
        more: true,
        next: 2,
      },
    });
    expect(await model.verifyAudit()).toEqual({ ok: true, value: { intact: false, brokenAt: 3, entries: 9 } });
  });
});
