/**
 * The admin console's server endpoints against the running server, on PGlite and PostgreSQL: removing one device of
 * a member (its socket closes at once, audited; never the primary, never an admin's device by an admin), the
 * retention overrides (bounds, clearing, audited, and the retention service purging by them), the server status
 * (counts only: no push endpoint, address or content), the member list's devices, and every route refused to members
 * (403 admin_required) and without credentials (401), with hostile values answered 4xx, never 500.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateOrganizationKey, signRoleCertificate, type PrivateKey } from '@cove/crypto';

import { RetentionService } from '../../src/services/retention.service.js';
import { answer } from '../support/admin-socket.js';
import {
  link,
  messagesFor,
  request,
  startServer,
  TestDevice,
  TestIdentity,
  type Backend,
  type TestServer,
} from '../support/harness.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

describe.each<Backend>(['pglite', 'postgres'])('admin console endpoints (%s)', (backend) => {
  let server: TestServer;
  let dir: string;
  let owner: TestDevice;
  let admin: TestDevice;
  let member: TestDevice;
  let memberLaptop: TestDevice;
  let key: PrivateKey;

  const certify = async (accountId: string, role: 'owner' | 'admin' | 'member'): Promise<void> => {
    const now = Date.now() - 1000;
    const signed = signRoleCertificate(key, { accountId, role, issuedAt: now, expiresAt: now + 3600_000 });
    const res = await owner.request('PUT', '/v1/org/certificates', {
      certificate: b64(signed.body),
      signature: b64(signed.signature),
    });
    expect(res.status).toBe(204);
  };

  const registerWith = async (code: string): Promise<TestDevice> => {
    const identity = new TestIdentity();
    const body = identity.registration({ inviteCode: code });
    const created = await request(server, 'POST', '/v1/accounts', body);
    expect(created.status).toBe(201);
    return new TestDevice(server, created.body.accountId, 1, body.secret, body.registrationId as number, identity);
  };

  const invite = async (): Promise<string> => {
    const res = await owner.request('POST', '/v1/org/invites', { uses: 1 });
    expect(res.status).toBe(201);
    return res.body.code as string;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cove-admin-console-spec-'));
    const socket = join(dir, 'admin.sock');
    server = await startServer(backend, { REGISTRATION: 'invite', ADMIN_SOCKET: socket });
    const ownerInvite = await answer(socket, { command: 'owner-invite' });
    owner = await registerWith(ownerInvite.code as string);
    key = generateOrganizationKey();
    expect((await owner.request('PUT', '/v1/org/key', { publicKey: b64(key.getPublicKey().serialize()) })).status).toBe(
      204,
    );
    await certify(owner.accountId, 'owner');
    admin = await registerWith(await invite());
    await certify(admin.accountId, 'admin');
    member = await registerWith(await invite());
    memberLaptop = await link(member);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('should refuse the console routes to members (403) and without credentials (401)', async () => {
    const routes = [
      ['GET', '/v1/org/retention'],
      ['PUT', '/v1/org/retention', { envelopeTtlSeconds: DAY_S, attachmentTtlSeconds: null }],
      ['GET', '/v1/org/status'],
      ['DELETE', `/v1/org/members/${admin.accountId}/devices/2`],
      ['DELETE', `/v1/org/members/${member.accountId}/devices/${memberLaptop.deviceId}`],
    ] as const;
    for (const [method, path, body] of routes) {
      expect((await request(server, method, path, body)).status).toBe(401);
      for (const device of [member, memberLaptop]) {
        const res = await device.request(method, path, body);
        expect({ method, path, status: res.status, error: res.body?.error }).toEqual({
          method,
          path,
          status: 403,
          error: 'admin_required',
        });
      }
    }
    // Nothing happened: the member's laptop still works, the retention is untouched.
    expect((await memberLaptop.request('GET', '/v1/devices')).status).toBe(200);
    expect((await owner.request('GET', '/v1/org/retention')).body.envelope.overrideSeconds).toBeNull();
  });

  it('should list each member with its devices', async () => {
    const res = await admin.request('GET', '/v1/org/members');
    expect(res.status).toBe(200);
    const row = res.body.members.find((m: { accountId: string }) => m.accountId === member.accountId);
    const today = new Date().toISOString().slice(0, 10);
    expect(row).toMatchObject({ devices: 2, disabled: false });
    expect(row.deviceList).toEqual([
      { deviceId: 1, createdAt: expect.any(Number), lastActiveDay: today },
      { deviceId: memberLaptop.deviceId, createdAt: expect.any(Number), lastActiveDay: today },
    ]);
  });

  it('should answer hostile values with 4xx and stable codes', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['PUT', '/v1/org/retention', { envelopeTtlSeconds: 59, attachmentTtlSeconds: null }, 400, 'invalid_request'],
      [
        'PUT',
        '/v1/org/retention',
        { envelopeTtlSeconds: HOUR_S - 1, attachmentTtlSeconds: null },
        400,
        'invalid_request',
      ],
      [
        'PUT',
        '/v1/org/retention',
        { envelopeTtlSeconds: null, attachmentTtlSeconds: 400 * DAY_S },
        413,
        'payload_too_large',
      ],
      [
        'PUT',
        '/v1/org/retention',
        { envelopeTtlSeconds: HOUR_S + 0.5, attachmentTtlSeconds: null },
        400,
        'invalid_request',
      ],
      ['PUT', '/v1/org/retention', { envelopeTtlSeconds: '3600', attachmentTtlSeconds: null }, 400, 'invalid_request'],
      ['PUT', '/v1/org/retention', { envelopeTtlSeconds: null }, 400, 'invalid_request'],
      [
        'PUT',
        '/v1/org/retention',
        { envelopeTtlSeconds: null, attachmentTtlSeconds: null, x: 1 },
        400,
        'invalid_request',
      ],
      ['PUT', '/v1/org/retention', '{"envelopeTtlSeconds":', 400, 'malformed_json'],
      ['DELETE', `/v1/org/members/not-a-uuid/devices/2`, undefined, 400, 'invalid_request'],
      ['DELETE', `/v1/org/members/${member.accountId}/devices/0`, undefined, 400, 'invalid_request'],
      ['DELETE', `/v1/org/members/${member.accountId}/devices/abc`, undefined, 400, 'invalid_request'],
      ['DELETE', `/v1/org/members/${member.accountId}/devices/99`, undefined, 404, 'not_found'],
      ['DELETE', `/v1/org/members/00000000-0000-4000-8000-000000000000/devices/2`, undefined, 404, 'not_found'],
      ['DELETE', `/v1/org/members/${member.accountId}/devices/1`, undefined, 403, 'forbidden'],
      // An admin removes no device of the owner's, nor of another admin's.
      ['DELETE', `/v1/org/members/${owner.accountId}/devices/2`, undefined, 403, 'admin_required'],
    ];
    for (const [method, path, body, status, error] of cases) {
      const res = await admin.request(method, path, body);
      expect({ method, path, status: res.status, error: res.body?.error }).toEqual({ method, path, status, error });
    }
  });

  it('should remove one device of a member, closing its socket at once, and audit it', async () => {
    const live = await memberLaptop.connect();
    const primary = await member.connect();
    expect(
      (await admin.request('DELETE', `/v1/org/members/${member.accountId}/devices/${memberLaptop.deviceId}`)).status,
    ).toBe(204);
    expect((await live.waitClosed()).code).toBe(4004);
    expect((await memberLaptop.request('GET', '/v1/devices')).status).toBe(401);
    // The member's primary stays signed in and connected.
    expect((await member.request('GET', '/v1/devices')).body.devices).toHaveLength(1);
    primary.close();
    const audit = await owner.request('GET', '/v1/org/audit');
    expect(audit.body.entries.at(-1)).toMatchObject({
      event: 'device_removed',
      actor: admin.accountId,
      target: `${member.accountId}.${memberLaptop.deviceId}`,
    });
  });

  it('should store retention overrides, apply them in the purge, clear them and audit each change', async () => {
    const before = await admin.request('GET', '/v1/org/retention');
    expect(before.body).toEqual({
      envelope: { effectiveSeconds: 30 * DAY_S, defaultSeconds: 30 * DAY_S, overrideSeconds: null },
      attachment: { effectiveSeconds: 30 * DAY_S, defaultSeconds: 30 * DAY_S, overrideSeconds: null },
    });
    // An envelope two hours old survives the default thirty days...
    expect((await owner.request('PUT', `/v1/messages/${member.accountId}`, messagesFor([member]))).status).toBe(200);
    await server.query('UPDATE envelopes SET server_timestamp = $1::bigint WHERE account_id = $2::uuid', [
      Date.now() - 2 * HOUR_S * 1000,
      member.accountId,
    ]);
    const retention = server.running.app.get(RetentionService);
    expect(await retention.purgeExpired(Date.now())).toBe(0);
    // ...and goes once an admin sets an hour.
    const set = await admin.request('PUT', '/v1/org/retention', {
      envelopeTtlSeconds: HOUR_S,
      attachmentTtlSeconds: 7 * DAY_S,
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      envelope: { effectiveSeconds: HOUR_S, defaultSeconds: 30 * DAY_S, overrideSeconds: HOUR_S },
      attachment: { effectiveSeconds: 7 * DAY_S, defaultSeconds: 30 * DAY_S, overrideSeconds: 7 * DAY_S },
    });
    expect(await retention.ttls()).toEqual({ envelopeTtlMs: HOUR_S * 1000, attachmentTtlMs: 7 * DAY_S * 1000 });
    expect(await retention.purgeExpired(Date.now())).toBe(1);
    // Stored in the database: what another instance (or a restart) reads.
    expect(await server.query('SELECT envelope_ttl_ms::text AS e FROM retention_settings')).toEqual([
      { e: String(HOUR_S * 1000) },
    ]);
    const cleared = await owner.request('PUT', '/v1/org/retention', {
      envelopeTtlSeconds: null,
      attachmentTtlSeconds: null,
    });
    expect(cleared.body).toEqual(before.body);
    const events = (await owner.request('GET', '/v1/org/audit')).body.entries.slice(-2);
    expect(events).toMatchObject([
      { event: 'retention_changed', actor: admin.accountId, target: `envelope=${HOUR_S};attachment=${7 * DAY_S}` },
      { event: 'retention_changed', actor: owner.accountId, target: 'envelope=default;attachment=default' },
    ]);
  });

  it('should report the status in counts only', async () => {
    await server
      .query(
        'INSERT INTO push_subscriptions (account_id, device_id, endpoint, p256dh, auth) VALUES ($1::uuid, 1, $2, $3, $4)',
        [member.accountId, 'https://push.example/secret-endpoint-canary', 'p256dh-canary', 'auth-canary'],
      )
      .catch(() => undefined);
    const socket = await admin.connect();
    const res = await admin.request('GET', '/v1/org/status');
    socket.close();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      version: expect.any(String),
      uptimeSeconds: expect.any(Number),
      connections: expect.any(Number),
      queues: [
        {
          name: 'push',
          waiting: expect.any(Number),
          active: expect.any(Number),
          delayed: expect.any(Number),
          failed: expect.any(Number),
        },
        {
          name: 'maintenance',
          waiting: expect.any(Number),
          active: expect.any(Number),
          delayed: expect.any(Number),
          failed: expect.any(Number),
        },
      ],
      pendingEnvelopes: expect.any(Number),
      accounts: 3,
      devices: 3,
    });
    expect(res.body.connections).toBeGreaterThanOrEqual(1);
    const text = JSON.stringify(res.body);
    for (const secret of ['canary', member.accountId, owner.accountId, 'https://']) expect(text).not.toContain(secret);
  });
});
