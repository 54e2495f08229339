/**
 * The organization endpoints and the local admin socket against the running server, on PGlite (which only the server
 * process can open: the socket is how the operator reaches it) and on PostgreSQL: the socket's mode and its refusals
 * (malformed JSON, unknown commands, oversized lines, a second owner), the owner bootstrap, then hostile input on
 * every new route — no credentials, a member's credentials, malformed keys, certificates and ids, bad signatures,
 * expired certificates, out-of-range invites, a second organization key, a notice from a member or without
 * credentials — each answered with a 4xx and a stable code, never a 500.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateOrganizationKey, signRoleCertificate, type PrivateKey } from '@cove/crypto';

import { answer, talk } from '../support/admin-socket.js';
import {
  link,
  messagesFor,
  register,
  scrapeMetrics,
  request,
  startServer,
  TestDevice,
  TestIdentity,
  type Backend,
  type TestServer,
} from '../support/harness.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

describe.each<Backend>(['pglite', 'postgres'])('organization (%s)', (backend) => {
  let server: TestServer;
  let dir: string;
  let socket: string;
  let owner: TestDevice;
  let member: TestDevice;
  let key: PrivateKey;

  const certificate = (accountId: string, role: 'owner' | 'admin' | 'member', issuedAt = Date.now() - 1000) => {
    const signed = signRoleCertificate(key, { accountId, role, issuedAt, expiresAt: issuedAt + 3600_000 });
    return { certificate: b64(signed.body), signature: b64(signed.signature) };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cove-org-spec-'));
    socket = join(dir, 'admin.sock');
    server = await startServer(backend, { REGISTRATION: 'invite', ADMIN_SOCKET: socket });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('should serve the admin socket to its own user only and refuse anything but its commands', async () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(await answer(socket, { command: 'ping' })).toEqual({ ok: true });
    expect(await answer(socket, { command: 'drop-database' })).toMatchObject({ ok: false, error: 'unknown_command' });
    expect(await answer(socket, ['owner-invite'])).toMatchObject({ ok: false, error: 'unknown_command' });
    expect(JSON.parse((await talk(socket, 'owner-invite\n'))[0]!)).toMatchObject({
      ok: false,
      error: 'malformed_json',
    });
    const flood = await talk(socket, 'x'.repeat(8192));
    expect(JSON.parse(flood[0]!)).toMatchObject({ ok: false, error: 'too_large' });
    // The server still answers after all that.
    expect(await answer(socket, { command: 'ping' })).toEqual({ ok: true });
  });

  it('should register the owner with the owner invite, once, and refuse a second owner invite', async () => {
    const invite = await answer(socket, { command: 'owner-invite' });
    expect(invite).toMatchObject({ ok: true });
    const identity = new TestIdentity();
    const body = identity.registration({ inviteCode: invite.code });
    const created = await request(server, 'POST', '/v1/accounts', body);
    expect(created.status).toBe(201);
    owner = new TestDevice(server, created.body.accountId, 1, body.secret, body.registrationId as number, identity);
    const reused = await request(
      server,
      'POST',
      '/v1/accounts',
      new TestIdentity().registration({ inviteCode: invite.code }),
    );
    expect(reused.status).toBe(403);
    expect(reused.body.error).toBe('invite_required');
    expect(await answer(socket, { command: 'owner-invite' })).toMatchObject({ ok: false });

    key = generateOrganizationKey();
    expect((await owner.request('PUT', '/v1/org/key', { publicKey: b64(key.getPublicKey().serialize()) })).status).toBe(
      204,
    );
    expect((await owner.request('PUT', '/v1/org/certificates', certificate(owner.accountId, 'owner'))).status).toBe(
      204,
    );
    const info = await request(server, 'GET', '/v1/info');
    expect(info.body.organizationKey).toBe(b64(key.getPublicKey().serialize()));

    const created2 = await owner.request('POST', '/v1/org/invites', { uses: 1 });
    expect(created2.status).toBe(201);
    const memberIdentity = new TestIdentity();
    const memberBody = memberIdentity.registration({ inviteCode: created2.body.code });
    const registered = await request(server, 'POST', '/v1/accounts', memberBody);
    expect(registered.status).toBe(201);
    member = new TestDevice(
      server,
      registered.body.accountId,
      1,
      memberBody.secret,
      memberBody.registrationId as number,
      memberIdentity,
    );
  });

  it('should refuse the organization routes without credentials and to members, with stable codes', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/org/members'],
      ['GET', '/v1/org/audit'],
      ['GET', '/v1/org/certificates'],
      ['POST', '/v1/org/invites', { uses: 1 }],
    ] as const) {
      expect((await request(server, method, path, body)).status).toBe(401);
    }
    for (const [method, path, body] of [
      ['GET', '/v1/org/members'],
      ['GET', '/v1/org/audit'],
      ['GET', '/v1/org/invites'],
      ['POST', '/v1/org/invites', { uses: 1 }],
      ['POST', `/v1/org/members/${owner.accountId}/disable`],
      ['PUT', '/v1/org/key', { publicKey: b64(generateOrganizationKey().getPublicKey().serialize()) }],
      ['PUT', '/v1/org/certificates', certificate(member.accountId, 'admin')],
    ] as const) {
      const res = await member.request(method, path, body);
      expect({ method, path, status: res.status, error: res.body?.error }).toEqual({
        method,
        path,
        status: 403,
        error: 'admin_required',
      });
    }
    // A notice from a member: 403, over HTTP; and never without credentials.
    const notice = await member.request('PUT', `/v1/messages/${owner.accountId}`, {
      ...messagesFor([owner]),
      notice: true,
    });
    expect(notice.status).toBe(403);
    expect(notice.body.error).toBe('admin_required');
    const sealed = await request(
      server,
      'PUT',
      `/v1/messages/${owner.accountId}`,
      { ...messagesFor([owner], b64(Buffer.alloc(64, 1)), 'unidentified-sender' as 'whisper'), notice: true },
      { 'unidentified-access-key': b64(Buffer.alloc(16)) },
    );
    expect(sealed.status).toBe(403);
  });

  it('should answer hostile values on the organization routes with 4xx, never 500', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['PUT', '/v1/org/key', { publicKey: 'garbage' }, 400, 'invalid_request'],
      ['PUT', '/v1/org/key', { publicKey: b64(key.getPublicKey().serialize()), extra: 1 }, 400, 'invalid_request'],
      [
        'PUT',
        '/v1/org/key',
        { publicKey: b64(generateOrganizationKey().getPublicKey().serialize()) },
        409,
        'organization_key_exists',
      ],
      ['PUT', '/v1/org/certificates', { certificate: 'AA==', signature: 'AA==' }, 400, 'invalid_request'],
      [
        'PUT',
        '/v1/org/certificates',
        { ...certificate(member.accountId, 'admin'), signature: b64(Buffer.alloc(64)) },
        400,
        'invalid_signature',
      ],
      [
        'PUT',
        '/v1/org/certificates',
        certificate(member.accountId, 'admin', Date.now() - 7200_000),
        400,
        'invalid_signature',
      ],
      ['PUT', '/v1/org/certificates', certificate(owner.accountId, 'admin'), 403, 'forbidden'],
      ['PUT', '/v1/org/certificates', certificate(member.accountId, 'owner'), 403, 'forbidden'],
      ['PUT', '/v1/org/certificates', certificate('00000000-0000-4000-8000-000000000000', 'admin'), 404, 'not_found'],
      ['POST', '/v1/org/invites', { uses: 0 }, 400, 'invalid_request'],
      ['POST', '/v1/org/invites', { uses: 1e9 }, 413, 'payload_too_large'],
      ['POST', '/v1/org/invites', { expiresInSeconds: -1 }, 400, 'invalid_request'],
      ['POST', '/v1/org/invites', { expiresInSeconds: 1e12 }, 413, 'payload_too_large'],
      ['POST', '/v1/org/invites', '{"uses":', 400, 'malformed_json'],
      ['DELETE', '/v1/org/invites/not-a-uuid', undefined, 400, 'invalid_request'],
      ['DELETE', '/v1/org/invites/00000000-0000-4000-8000-000000000000', undefined, 404, 'not_found'],
      ['GET', '/v1/org/audit?after=-1', undefined, 400, 'invalid_request'],
      ['GET', '/v1/org/audit?after=abc', undefined, 400, 'invalid_request'],
      ['GET', '/v1/org/certificates/not-a-uuid', undefined, 400, 'invalid_request'],
      ['GET', '/v1/org/certificates/00000000-0000-4000-8000-000000000000', undefined, 404, 'not_found'],
      ['POST', '/v1/org/members/not-a-uuid/disable', undefined, 400, 'invalid_request'],
      ['POST', '/v1/org/members/00000000-0000-4000-8000-000000000000/disable', undefined, 404, 'not_found'],
      ['POST', `/v1/org/members/${owner.accountId}/disable`, undefined, 403, 'forbidden'],
      ['POST', `/v1/org/members/${member.accountId}/enable`, undefined, 404, 'not_found'],
    ];
    for (const [method, path, body, status, error] of cases) {
      const res = await owner.request(method, path, body);
      expect({ method, path, body, status: res.status, error: res.body?.error }).toEqual({
        method,
        path,
        body,
        status,
        error,
      });
    }
    // The admin's own view still works after all of it, and the audit chain has every accepted action.
    const audit = await owner.request('GET', '/v1/org/audit');
    expect(audit.status).toBe(200);
    expect(audit.body.entries.map((e: { event: string }) => e.event)).toEqual([
      'owner_invite_created',
      'registered',
      'role_owner',
      'organization_key_published',
      'role_owner',
      'invite_created',
      'registered',
    ]);
  });

  it('should take a multi-recipient notice from an admin only, identified, and deliver it to every device', async () => {
    const memberPhone = await link(member);
    const recipients = [
      {
        accountId: member.accountId,
        devices: [member, memberPhone].map((d) => ({ deviceId: d.deviceId, registrationId: d.registrationId })),
      },
    ];
    const multi = (content: string) => ({
      type: 'senderkey',
      content,
      timestamp: Date.now(),
      recipients,
      notice: true,
    });
    const notices = async (): Promise<string> =>
      (await scrapeMetrics(server))
        .split('\n')
        .find((l) => l.startsWith('cove_notices_accepted_total{path="multi"}')) ?? '';

    // A member's notice: refused (403) before anything is stored, over HTTP and over the socket.
    const byMember = await member.request('PUT', '/v1/messages/multi', {
      ...multi(b64(Buffer.alloc(48, 2))),
      recipients: [
        { accountId: owner.accountId, devices: [{ deviceId: owner.deviceId, registrationId: owner.registrationId }] },
      ],
    });
    expect(byMember.status).toBe(403);
    expect(byMember.body.error).toBe('admin_required');
    const socket = await member.connect();
    try {
      await socket.drain();
      socket.sendJson({
        type: 'send-multi',
        id: 'n1',
        message: {
          ...multi(b64(Buffer.alloc(48, 3))),
          recipients: [
            {
              accountId: owner.accountId,
              devices: [{ deviceId: owner.deviceId, registrationId: owner.registrationId }],
            },
          ],
        },
      });
      expect(await socket.next()).toMatchObject({
        type: 'result',
        id: 'n1',
        status: 403,
        body: { error: 'admin_required' },
      });
    } finally {
      socket.close();
    }
    expect((await owner.request('GET', '/v1/messages')).body.envelopes).toEqual([]);

    // Sealed (no credentials): never a notice, whoever sends it; the same body unmarked is only malformed (400).
    const sealedBody = { type: 'unidentified-sender', content: b64(Buffer.alloc(64, 4)), timestamp: Date.now() };
    const headers = { 'unidentified-access-key': b64(Buffer.alloc(16)) };
    const sealedNotice = await request(server, 'PUT', '/v1/messages/multi', { ...sealedBody, notice: true }, headers);
    expect(sealedNotice.status).toBe(403);
    expect(sealedNotice.body.error).toBe('admin_required');
    expect((await request(server, 'PUT', '/v1/messages/multi', sealedBody, headers)).status).toBe(400);

    // The owner's: one request, stored once for both of the member's devices, counted as one multi-recipient notice.
    const before = await notices();
    const content = b64(Buffer.alloc(48, 5));
    const sent = await owner.request('PUT', '/v1/messages/multi', multi(content));
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ stored: 2 });
    for (const device of [member, memberPhone]) {
      const envelopes = (await device.request('GET', '/v1/messages')).body.envelopes as Array<Record<string, unknown>>;
      expect(envelopes).toEqual([
        expect.objectContaining({ type: 'senderkey', sourceAccountId: owner.accountId, content }),
      ]);
    }
    const count = (line: string): number => Number(line.split(' ').at(-1) ?? 0);
    expect(count(await notices())).toBe(count(before) + 1);
  });

  it('should let any member search the directory by username prefix, bounded, and refuse hostile queries', async () => {
    // Usernames as registration would set them (these accounts registered without one).
    const ownerName = `Dir_Owner_${backend}`;
    for (const [accountId, name] of [
      [owner.accountId, ownerName],
      [member.accountId, `dir_member_${backend}`],
    ])
      await server.query(
        'UPDATE accounts SET username = $2::text, username_key = lower($2::text) WHERE id = $1::uuid',
        [accountId, name],
      );
    expect((await request(server, 'GET', '/v1/org/directory?q=a')).status).toBe(401);
    // A member (not only admins), any case, the prefix only.
    const found = await member.request('GET', `/v1/org/directory?q=DIR_O`);
    expect(found.status).toBe(200);
    expect(found.body.entries).toEqual([{ accountId: owner.accountId, username: ownerName }]);
    expect((await member.request('GET', `/v1/org/directory?q=wner`)).body.entries).toEqual([]);
    expect((await owner.request('GET', `/v1/org/directory?q=dir_member_${backend}`)).body.entries).toEqual([
      { accountId: member.accountId, username: `dir_member_${backend}` },
    ]);
    // Bounded: 25 members share a prefix; 20 come back, in username order.
    for (let i = 0; i < 25; i++)
      await server.query(
        `INSERT INTO accounts (id, username, username_key, identity_key)
         SELECT gen_random_uuid(), $1::text, lower($1::text), identity_key FROM accounts WHERE id = $2::uuid`,
        [`dirbulk_${backend}_${String(i).padStart(2, '0')}`, owner.accountId],
      );
    await server.query(
      `INSERT INTO devices (account_id, id, registration_id, credential_hash, signed_pre_key_id, signed_pre_key,
         signed_pre_key_signature, kyber_last_resort_key_id, kyber_last_resort_key, kyber_last_resort_signature)
       SELECT a.id, 1, d.registration_id, d.credential_hash, d.signed_pre_key_id, d.signed_pre_key,
         d.signed_pre_key_signature, d.kyber_last_resort_key_id, d.kyber_last_resort_key, d.kyber_last_resort_signature
       FROM accounts a, devices d
       WHERE a.username LIKE 'dirbulk_%' AND d.account_id = $1::uuid AND d.id = 1`,
      [owner.accountId],
    );
    const bulk = await member.request('GET', `/v1/org/directory?q=dirbulk_${backend}`);
    expect(bulk.body.entries.map((e: { username: string }) => e.username)).toEqual(
      Array.from({ length: 20 }, (_, i) => `dirbulk_${backend}_${String(i).padStart(2, '0')}`),
    );
    // `_` is a username character here, not a wildcard.
    expect((await member.request('GET', '/v1/org/directory?q=dirbulk__')).body.entries).toEqual([]);
    for (const q of ['', '%25', 'a%20b', 'x'.repeat(33), "a'--", '%00']) {
      const res = await member.request('GET', `/v1/org/directory?q=${q}`);
      expect({ q, status: res.status, error: res.body?.error }).toEqual({ q, status: 400, error: 'invalid_request' });
    }
    expect((await member.request('GET', '/v1/org/directory')).status).toBe(400);
  });

  it('should close the sockets of a disabled account, delete its password and refuse its credentials and username', async () => {
    const other = await register(server, { username: `org_spec_${backend}` }).catch(() => null);
    // Registration is by invitation: the plain registration is refused.
    expect(other).toBeNull();
    const live = await member.connect();
    // A password (stand-in record and backup) would let a password login add a device: disabling deletes it.
    await server.query('INSERT INTO account_passwords (account_id, record, backup) VALUES ($1::uuid, $2, $3)', [
      member.accountId,
      Buffer.alloc(192, 1),
      Buffer.alloc(64, 2),
    ]);
    expect((await owner.request('POST', `/v1/org/members/${member.accountId}/disable`)).status).toBe(204);
    expect((await live.waitClosed()).code).toBe(4004);
    expect((await member.request('GET', '/v1/devices')).status).toBe(401);
    expect(
      await server.query('SELECT 1 FROM account_passwords WHERE account_id = $1::uuid', [member.accountId]),
    ).toEqual([]);
    const members = await owner.request('GET', '/v1/org/members');
    expect(members.body.members.find((m: { accountId: string }) => m.accountId === member.accountId)).toMatchObject({
      disabled: true,
      devices: 0,
      lastActiveDay: null,
    });
    // Disabled accounts are never listed in the directory.
    expect((await owner.request('GET', `/v1/org/directory?q=dir_member_${backend}`)).body.entries).toEqual([]);
    await server.query(`UPDATE accounts SET disabled_at = now() WHERE username LIKE 'dirbulk_%'`);
    expect((await owner.request('GET', `/v1/org/directory?q=dirbulk_${backend}`)).body.entries).toEqual([]);
  });
});

describe('organization directory off on an open server, and its rate limit', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('pglite', { RATE_LIMITS: 'on' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should answer 404 directory_disabled by default, and limit searches per device (429)', async () => {
    const device = await register(server, { username: 'dir_off_one' });
    const info = await request(server, 'GET', '/v1/info');
    expect(info.body.directory).toBe(false);
    const res = await device.request('GET', '/v1/org/directory?q=dir');
    expect({ status: res.status, error: res.body?.error }).toEqual({ status: 404, error: 'directory_disabled' });
    // The limit is the route's, counted before the answer: 30 a minute, then 429 with Retry-After.
    const statuses: number[] = [];
    for (let i = 1; i < 30; i++) statuses.push((await device.request('GET', '/v1/org/directory?q=dir')).status);
    expect(statuses.every((s) => s === 404)).toBe(true);
    const limited = await device.request('GET', '/v1/org/directory?q=dir');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
