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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { AccountRecord } from '@cove/client';
import { FileStorage } from '@cove/client/node';
import { IdentityKeyPair, generateOrganizationKey, signRoleCertificate } from '@cove/crypto';
import { encodeContent, fromBase64 } from '@cove/protocol';

import { findOnServer } from '../support/canary.js';
import { adminCommand, cove, ensureCliBuilt, jsonLines, listen, start } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Many CLI processes on a shared 2-core machine: a generous limit (never a timing assertion). */
jest.setTimeout(400_000);

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

  it("should show an admin's notice on the admin's other devices, holding a sibling's transcript to the same checks", async () => {
    // Alice (admin) links a second device with the CLI.
    const link = start(dir('alice2'), ['link', '--server', server.url]);
    try {
      const uri = await link.waitForLine('the link URI', (line) => line.startsWith('cove://'));
      expect((await cove(dir('alice'), ['devices', 'add', uri, '--yes'])).code).toBe(0);
      expect(await link.exited).toBe(0);
    } finally {
      await link.kill();
    }
    const text = `Office closed on Friday ${s}`;
    secrets.push(text);
    expect((await cove(dir('alice'), ['admin', 'notice', text], { json: true })).code).toBe(0);
    expect((await cove(dir('alice2'), ['listen', '--exit-when-idle'], { json: true })).code).toBe(0);
    const onSecond = jsonLines((await cove(dir('alice2'), ['history', 'notices'], { json: true })).stdout);
    expect(onSecond.filter((m) => m.text === text)).toEqual([
      expect.objectContaining({ conversationId: 'notices', direction: 'outgoing', author: await idOf('alice') }),
    ]);
    // Members get it as before.
    const bobRun = await cove(dir('bob'), ['listen', '--exit-when-idle'], { json: true });
    expect(jsonLines(bobRun.stdout).filter((e) => e.notice === true && e.text === text)).toHaveLength(1);

    // A member's own device cannot make a notice appear on its siblings: Bob's second device (a genuine one, his own
    // identity key) sends his primary "sent notice" transcripts with a self-made certificate and with Alice's real
    // one (which names Alice, not Bob). The server sees ordinary ciphertext between one account's devices.
    const storage = await FileStorage.open(dir('bob'));
    const account = (await storage.get<AccountRecord>('meta', 'account'))!;
    await storage.close();
    const sibling = await RawDevice.link(
      server.url,
      { accountId: account.accountId, deviceId: account.deviceId, secret: new Uint8Array(account.secret) },
      IdentityKeyPair.deserialize(new Uint8Array(account.identityKeyPair)),
    );
    const transcript = (certificate: Uint8Array, signature: Uint8Array, forged: string): Uint8Array =>
      encodeContent({
        kind: 'sync',
        sync: {
          type: 'sent',
          message: {
            text: forged,
            timestamp: Date.now(),
            notice: { roleCertificate: certificate, roleCertificateSignature: signature },
          },
        },
      });
    const now = Date.now();
    const selfMade = signRoleCertificate(generateOrganizationKey(), {
      accountId: account.accountId,
      role: 'admin',
      issuedAt: now - 1000,
      expiresAt: now + 3600_000,
    });
    const alices = (await (
      await fetch(`${server.url}/v1/org/certificates/${await idOf('alice')}`, {
        headers: { authorization: RawDevice.basic(sibling.accountId, sibling.deviceId, sibling.secret) },
      })
    ).json()) as { certificate: string; signature: string };
    for (const [certificate, signature, forged] of [
      [selfMade.body, selfMade.signature, 'sibling forged one'],
      [fromBase64(alices.certificate), fromBase64(alices.signature), 'sibling forged two'],
    ] as const) {
      const sent = await sibling.send(account.accountId, transcript(certificate, signature, forged), {
        onlyDevices: [account.deviceId],
      });
      expect(sent.status).toBe(200);
    }
    const run = await cove(dir('bob'), ['listen', '--exit-when-idle'], { json: true });
    expect(run.code).toBe(0);
    const rejected = jsonLines(run.stdout).filter((e) => e.type === 'message-rejected');
    expect(rejected.map((e) => [e.reason, e.accountId])).toEqual([
      ['notice_not_admin', account.accountId],
      ['notice_not_admin', account.accountId],
    ]);
    const history = jsonLines((await cove(dir('bob'), ['history', 'notices'], { json: true })).stdout);
    expect(history.some((m) => String(m.text).startsWith('sibling forged'))).toBe(false);
    expect((await cove(dir('bob'), ['devices', 'remove', String(sibling.deviceId)])).code).toBe(0);
  });

  it('should restore the pinned organization key with a password login, so a swapped key is refused loudly', async () => {
    const password = `org-restore-${s}-passphrase`;
    secrets.push(password);
    expect((await cove(dir('bob'), ['password', 'set', '--password-stdin'], { stdin: `${password}\n` })).code).toBe(0);
    const pinned = JSON.parse((await cove(dir('bob'), ['org'], { json: true })).lines[0]!) as {
      fingerprint: string;
    };
    const restored = await cove(
      dir('bob-restored'),
      ['login', '--server', server.url, '--username', BOB, '--password-stdin'],
      { stdin: `${password}\n` },
    );
    expect(restored.code).toBe(0);

    // A hostile server now serves another organization key, under which it certifies Mallory as owner.
    const [original] = await server.query<{ public_key: Buffer }>('SELECT public_key FROM organization WHERE id = 1');
    const swapped = generateOrganizationKey();
    await server.query('UPDATE organization SET public_key = $1 WHERE id = 1', [
      Buffer.from(swapped.getPublicKey().serialize()),
    ]);
    try {
      const org = await cove(dir('bob-restored'), ['org']);
      expect(org.code).toBe(0);
      expect(org.stdout).toMatch(/WARNING: the server now presents a DIFFERENT organization key/);
      const status = JSON.parse((await cove(dir('bob-restored'), ['org'], { json: true })).lines[0]!) as Record<
        string,
        unknown
      >;
      expect(status).toMatchObject({ fingerprint: pinned.fingerprint, keyChanged: true, role: 'member' });
      expect(status.presentedFingerprint).not.toBe(pinned.fingerprint);

      const invite = await inviteCode();
      const mallory = await RawDevice.register(server.url, `org_mal2_${s}`, invite.code);
      const now = Date.now();
      const underSwapped = signRoleCertificate(swapped, {
        accountId: mallory.accountId,
        role: 'owner',
        issuedAt: now - 1000,
        expiresAt: now + 3600_000,
      });
      await server.query(`UPDATE accounts SET role = 'owner' WHERE id = $1`, [mallory.accountId]);
      const notice = encodeContent({
        kind: 'data',
        data: {
          text: 'forged under the swapped key',
          timestamp: now,
          notice: { roleCertificate: underSwapped.body, roleCertificateSignature: underSwapped.signature },
        },
      });
      expect((await mallory.send(await idOf('bob-restored'), notice, { notice: true })).status).toBe(200);
      const run = await cove(dir('bob-restored'), ['listen', '--exit-when-idle'], { json: true });
      const events = jsonLines(run.stdout);
      expect(events.filter((e) => e.notice === true)).toEqual([]);
      expect(events.filter((e) => e.type === 'message-rejected')).toEqual(
        expect.arrayContaining([expect.objectContaining({ reason: 'notice_not_admin', accountId: mallory.accountId })]),
      );
      await server.query(`UPDATE accounts SET role = 'member' WHERE id = $1`, [mallory.accountId]);
    } finally {
      await server.query('UPDATE organization SET public_key = $1 WHERE id = 1', [original!.public_key]);
    }
    // The backup carries the pin, never the organization key's private half: the owner's restored device believes
    // the owner's certificate but cannot sign (linking is how the owner's devices share the key).
    expect((await cove(dir('owner'), ['password', 'set', '--password-stdin'], { stdin: `${password}\n` })).code).toBe(
      0,
    );
    expect(
      (
        await cove(dir('owner-restored'), ['login', '--server', server.url, '--username', OWNER, '--password-stdin'], {
          stdin: `${password}\n`,
        })
      ).code,
    ).toBe(0);
    expect(JSON.parse((await cove(dir('owner-restored'), ['org'], { json: true })).lines[0]!)).toMatchObject({
      fingerprint: pinned.fingerprint,
      keyChanged: false,
      keyHolder: false,
      role: 'owner',
    });
  });

  it('should let members search the directory by username prefix, never listing disabled accounts', async () => {
    const search = async (name: string, query: string): Promise<string[]> => {
      const run = await cove(dir(name), ['directory', query], { json: true });
      expect(run.code).toBe(0);
      return jsonLines(run.stdout).map((e) => String(e.username));
    };
    expect(await search('bob', `ORG_ALICE_${s}`)).toEqual([ALICE]);
    const all = await search('carol', 'org_');
    expect(all).toEqual(expect.arrayContaining([OWNER, ALICE, BOB, CAROL]));
    expect(all.length).toBeLessThanOrEqual(20);
    expect((await cove(dir('bob'), ['directory', 'no%such'])).code).toBe(2);
    const mallory2 = `org_mal2_${s}`;
    expect(await search('bob', mallory2)).toEqual([mallory2]);
    expect((await cove(dir('alice'), ['admin', 'disable', mallory2])).code).toBe(0);
    expect(await search('bob', mallory2)).toEqual([]);
    const text = await cove(dir('bob'), ['directory', `org_bob_${s}`]);
    expect(text.lines).toEqual([BOB]);
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
