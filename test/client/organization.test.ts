/**
 * Organizations end to end, with the real server (PostgreSQL, `REGISTRATION=invite`), the real `cove` CLI processes,
 * the real `npm run admin` command talking to the running server over its admin socket, and a hand-driven attacker
 * device (test/support/raw-device.ts): the owner bootstrap (single use), invites (uses, expiry, revocation, stored
 * hashed), granting admin with a certificate the owner's device signs, a notice reaching members through the CLI
 * (`notice: true` and the sender), a member's notice refused by the server (403) and — sent past it as ordinary
 * ciphertext, with a self-made or a replayed certificate — by the clients, a role the server asserts without a
 * certificate not believed, disabling closing the account's sockets and keeping it out, the audit log verifying and
 * catching an edited row, and the canary: no notice text, message or invite code anywhere on the server.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { generateOrganizationKey, signRoleCertificate } from '@cove/crypto';
import { encodeContent, fromBase64 } from '@cove/protocol';

import { findOnServer } from '../support/canary.js';
import { cove, ensureCliBuilt, listen } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Many CLI processes on a shared 2-core machine: a generous limit (never a timing assertion). */
jest.setTimeout(400_000);

const ROOT = resolve(import.meta.dirname, '../..');

const jsonLines = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** `npm run admin -w apps/api -- <command>` against the server listening on `socket`. */
const adminCommand = (socket: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((done) => {
    execFile(
      'npm',
      ['run', '--silent', 'admin', '-w', 'apps/api', '--', command],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ADMIN_SOCKET: socket, HOME: process.env.HOME ?? '/tmp' } },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });

describe('Organizations: roles, notices, invites, disabling and the audit log', () => {
  let server: TestServer;
  let root: string;
  let socket: string;
  const s = Math.random().toString(36).slice(2, 6);
  const OWNER = `org_owner_${s}`;
  const ALICE = `org_alice_${s}`;
  const BOB = `org_bob_${s}`;
  const CAROL = `org_carol_${s}`;
  const dir = (name: string): string => join(root, name);
  const idOf = async (name: string): Promise<string> =>
    (JSON.parse((await cove(dir(name), ['whoami'], { json: true })).lines[0]!) as { accountId: string }).accountId;
  const inviteCode = async (args: string[] = []): Promise<{ code: string; id: string }> => {
    const created = await cove(dir('owner'), ['admin', 'invite', 'create', ...args], { json: true });
    expect(created.code).toBe(0);
    return JSON.parse(created.lines[0]!) as { code: string; id: string };
  };
  const secrets: string[] = [];

  beforeAll(async () => {
    await ensureCliBuilt();
    root = await mkdtemp(join(tmpdir(), 'cove-org-'));
    socket = join(root, 'admin.sock');
    server = await startTestServer({ env: { REGISTRATION: 'invite', ADMIN_SOCKET: socket } });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should bootstrap the owner with a single-use invite from the admin command, and publish the organization key', async () => {
    const bootstrap = await adminCommand(socket, 'owner-invite');
    expect(bootstrap.code).toBe(0);
    const code = bootstrap.stdout.trim().split('\n').at(-1)!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    secrets.push(code);

    expect(
      (await cove(dir('owner'), ['register', '--server', server.url, '--username', OWNER, '--invite', code])).code,
    ).toBe(0);
    const org = JSON.parse((await cove(dir('owner'), ['org'], { json: true })).lines[0]!) as Record<string, unknown>;
    expect(org).toMatchObject({ role: 'owner', keyHolder: true, keyChanged: false });
    expect(org.fingerprint).toMatch(/^(\d{5} ){7}\d{5}$/);
    const info = (await (await fetch(`${server.url}/v1/info`)).json()) as { organizationKey: string | null };
    expect(info.organizationKey).toMatch(/^B/);

    // Single use, and no second owner.
    const again = await cove(dir('spare'), [
      'register',
      '--server',
      server.url,
      '--username',
      `org_spare_${s}`,
      '--invite',
      code,
    ]);
    expect(again.code).toBe(6);
    const second = await adminCommand(socket, 'owner-invite');
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already has an owner/);
  });

  it('should let invites register as many accounts as their uses, until they expire or are revoked', async () => {
    const two = await inviteCode(['--uses', '2', '--expires', '7d']);
    secrets.push(two.code);
    expect(
      (await cove(dir('alice'), ['register', '--server', server.url, '--username', ALICE, '--invite', two.code])).code,
    ).toBe(0);
    expect(
      (await cove(dir('bob'), ['register', '--server', server.url, '--username', BOB, '--invite', two.code])).code,
    ).toBe(0);
    const spent = await cove(dir('carol'), [
      'register',
      '--server',
      server.url,
      '--username',
      CAROL,
      '--invite',
      two.code,
    ]);
    expect(spent.code).toBe(6);

    const expiring = await inviteCode();
    await server.query(`UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.id]);
    expect(
      (await cove(dir('carol'), ['register', '--server', server.url, '--username', CAROL, '--invite', expiring.code]))
        .code,
    ).toBe(6);
    const revoked = await inviteCode();
    expect((await cove(dir('owner'), ['admin', 'invite', 'revoke', revoked.id])).code).toBe(0);
    expect(
      (await cove(dir('carol'), ['register', '--server', server.url, '--username', CAROL, '--invite', revoked.code]))
        .code,
    ).toBe(6);

    const listed = jsonLines((await cove(dir('owner'), ['admin', 'invite', 'list'], { json: true })).stdout);
    expect(listed.find((i) => i.id === two.id)).toMatchObject({ uses: 2, usesLeft: 0, revoked: false });
    expect(listed.find((i) => i.id === revoked.id)).toMatchObject({ usesLeft: 0, revoked: true });
    // Stored hashed: no code is in the table.
    const rows = await server.query<{ code_hash: Buffer }>('SELECT code_hash FROM invites');
    expect(rows.every((r) => r.code_hash.length === 32)).toBe(true);

    const fresh = await inviteCode(['--uses', '1']);
    expect(
      (await cove(dir('carol'), ['register', '--server', server.url, '--username', CAROL, '--invite', fresh.code]))
        .code,
    ).toBe(0);
  });

  it('should make an admin only with a certificate the owner signs; members cannot administer', async () => {
    expect((await cove(dir('alice'), ['admin', 'members'])).code).toBe(6);
    const granted = await cove(dir('owner'), ['admin', 'grant', ALICE, 'admin']);
    expect(granted.code).toBe(0);
    expect(JSON.parse((await cove(dir('alice'), ['org'], { json: true })).lines[0]!)).toMatchObject({ role: 'admin' });
    const members = jsonLines((await cove(dir('alice'), ['admin', 'members'], { json: true })).stdout);
    expect(members.map((m) => [m.username, m.role])).toEqual(
      expect.arrayContaining([
        [OWNER, 'owner'],
        [ALICE, 'admin'],
        [BOB, 'member'],
        [CAROL, 'member'],
      ]),
    );
    expect(members.find((m) => m.username === BOB)).toMatchObject({ devices: 1, disabled: false });
    expect(members.find((m) => m.username === BOB)?.lastActiveDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // Only the owner's device holds the key that makes certificates.
    expect((await cove(dir('alice'), ['admin', 'grant', BOB, 'admin'])).code).toBe(6);
    expect((await cove(dir('bob'), ['admin', 'invite', 'create'])).code).toBe(6);
  });

  it("should deliver an admin's notice to every member's CLI as a notice with its sender", async () => {
    const text = `Fire drill at three ${s}`;
    secrets.push(text);
    const sent = await cove(dir('alice'), ['admin', 'notice', text], { json: true });
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.lines[0]!)).toMatchObject({ type: 'notice-sent', notice: true, recipients: 3 });
    for (const name of ['bob', 'carol', 'owner']) {
      const run = await cove(dir(name), ['listen', '--exit-when-idle'], { json: true });
      expect(run.code).toBe(0);
      const notices = jsonLines(run.stdout).filter((e) => e.notice === true);
      expect(notices).toEqual([
        expect.objectContaining({ type: 'message', notice: true, sender: ALICE, senderRole: 'admin', text }),
      ]);
      expect(notices[0]?.conversationId).toBe('notices');
    }
  });

  it("should refuse a member's notice at the server (403) and, forged past it, in the clients", async () => {
    // Bob's client will not even try: his certificate proves nothing.
    const bobTries = await cove(dir('bob'), ['admin', 'notice', 'I am in charge now']);
    expect(bobTries.code).toBe(6);

    const invite = await inviteCode();
    const mallory = await RawDevice.register(server.url, `org_mallory_${s}`, invite.code);
    const bobId = await idOf('bob');
    const aliceId = await idOf('alice');
    const notice = (certificate: Uint8Array, signature: Uint8Array, text: string): Uint8Array =>
      encodeContent({
        kind: 'data',
        data: {
          text,
          timestamp: Date.now(),
          notice: { roleCertificate: certificate, roleCertificateSignature: signature },
        },
      });
    // 1. Mallory's own "organization key" certifies her as admin. Marked as a notice: the server refuses.
    const fakeKey = generateOrganizationKey();
    const now = Date.now();
    const selfMade = signRoleCertificate(fakeKey, {
      accountId: mallory.accountId,
      role: 'admin',
      issuedAt: now - 1000,
      expiresAt: now + 3600_000,
    });
    const refused = await mallory.send(bobId, notice(selfMade.body, selfMade.signature, 'forged one'), {
      notice: true,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'admin_required' });
    // 2. The same, as ordinary ciphertext (the server cannot see inside): the client must refuse it.
    expect((await mallory.send(bobId, notice(selfMade.body, selfMade.signature, 'forged two'))).status).toBe(200);
    // 3. Alice's genuine admin certificate, replayed by Mallory: it names Alice, not Mallory.
    const alices = (await (
      await fetch(`${server.url}/v1/org/certificates/${aliceId}`, {
        headers: { authorization: RawDevice.basic(mallory.accountId, mallory.deviceId, mallory.secret) },
      })
    ).json()) as { certificate: string; signature: string };
    expect(
      (await mallory.send(bobId, notice(fromBase64(alices.certificate), fromBase64(alices.signature), 'forged three')))
        .status,
    ).toBe(200);
    // 4. A server that marks Mallory admin without a certificate fools itself: it lets her notice through, the
    //    clients do not.
    await server.query(`UPDATE accounts SET role = 'owner' WHERE id = $1`, [mallory.accountId]);
    expect(
      (await mallory.send(bobId, notice(selfMade.body, selfMade.signature, 'forged four'), { notice: true })).status,
    ).toBe(200);

    const run = await cove(dir('bob'), ['listen', '--exit-when-idle'], { json: true });
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout);
    expect(events.filter((e) => e.type === 'message')).toEqual([]);
    const rejected = events.filter((e) => e.type === 'message-rejected');
    expect(rejected).toHaveLength(3);
    expect(rejected.every((e) => e.reason === 'notice_not_admin' && e.accountId === mallory.accountId)).toBe(true);
    const history = await cove(dir('bob'), ['history', 'notices'], { json: true });
    expect(jsonLines(history.stdout).some((m) => String(m.text).startsWith('forged'))).toBe(false);

    // The role the server asserts is not shown as Mallory's: the owner's client lists her as a member.
    const members = jsonLines((await cove(dir('owner'), ['admin', 'members'], { json: true })).stdout);
    expect(members.find((m) => m.accountId === mallory.accountId)).toMatchObject({
      role: 'member',
      serverRole: 'owner',
    });
    // A certificate row the server forged for Bob does not make him admin either.
    await server.query(
      `INSERT INTO role_certificates (account_id, role, body, signature, expires_at)
       VALUES ($1, 'admin', $2, $3, now() + interval '1 day')`,
      [bobId, Buffer.from(selfMade.body), Buffer.from(selfMade.signature)],
    );
    expect(JSON.parse((await cove(dir('bob'), ['org'], { json: true })).lines[0]!)).toMatchObject({ role: 'member' });
    await server.query(`DELETE FROM role_certificates WHERE account_id = $1`, [bobId]);
    await server.query(`UPDATE accounts SET role = 'member' WHERE id = $1`, [mallory.accountId]);
  });

  it('should close a disabled account’s sockets and keep it out until enabled', async () => {
    const carolListens = listen(dir('carol'));
    await carolListens.waitFor('carol online', (e) => e.type === 'connection' && e.state === 'online', 60_000);
    expect((await cove(dir('alice'), ['admin', 'disable', CAROL])).code).toBe(0);
    await carolListens.waitFor('carol removed', (e) => e.type === 'connection' && e.state === 'removed', 30_000);
    await carolListens.stop();
    // Its devices are gone: its credentials no longer work, and its username cannot register again.
    expect((await cove(dir('carol'), ['send', BOB, 'still here?'])).code).not.toBe(0);
    const invite = await inviteCode();
    const back = await cove(dir('carol2'), [
      'register',
      '--server',
      server.url,
      '--username',
      CAROL,
      '--invite',
      invite.code,
    ]);
    expect(back.code).toBe(6);
    expect(back.stderr).toMatch(/disabled/);
    // An admin cannot disable the owner.
    expect((await cove(dir('alice'), ['admin', 'disable', OWNER])).code).toBe(6);
    expect((await cove(dir('alice'), ['admin', 'enable', CAROL])).code).toBe(0);
    expect(
      (await cove(dir('carol2'), ['register', '--server', server.url, '--username', CAROL, '--invite', invite.code]))
        .code,
    ).toBe(0);
  });

  it('should keep an audit log whose chain verifies and catches an edited row', async () => {
    const verified = await cove(dir('alice'), ['admin', 'audit', '--verify'], { json: true });
    expect(verified.code).toBe(0);
    const lines = jsonLines(verified.stdout);
    expect(lines.at(-1)).toMatchObject({ type: 'audit-verify', intact: true });
    const events = lines.filter((e) => e.type === 'audit').map((e) => e.event);
    for (const event of [
      'owner_invite_created',
      'registered',
      'organization_key_published',
      'role_owner',
      'invite_created',
      'invite_revoked',
      'role_admin',
      'account_disabled',
      'account_enabled',
    ])
      expect(events).toContain(event);

    await server.query(`UPDATE audit_log SET target = NULL WHERE seq = 3`);
    const broken = await cove(dir('alice'), ['admin', 'audit', '--verify'], { json: true });
    expect(broken.code).toBe(6);
    expect(jsonLines(broken.stdout).at(-1)).toMatchObject({ type: 'audit-verify', intact: false, brokenAt: 3 });
  });

  it('should keep notices, messages and invite codes off the server (canary)', async () => {
    const message = `canary message ${s}`;
    secrets.push(message);
    expect((await cove(dir('bob'), ['send', ALICE, message])).code).toBe(0);
    expect(await findOnServer(server, secrets)).toEqual([]);
    // The audit log holds events, ids and times only.
    const columns = await server.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_log' ORDER BY column_name`,
    );
    expect(columns.map((c) => c.column_name)).toEqual(['actor', 'at', 'event', 'hash', 'prev_hash', 'seq', 'target']);
  });
});
