/**
 * Username and password login (OPAQUE) end to end, with the real `cove` CLI and server (rate limits on): register
 * with `--password-stdin`, make a contact and verify it, change the password (the backup is sealed again), log in on
 * a fresh data directory with the old password (refused) and the new one (a full device: the contact and its
 * verified state are back, it chats both ways, and the first device is told a device was added); wrong passwords
 * are throttled with growing delays per username (429 with Retry-After, for the right password too) until the
 * lockout passes; removing the password deletes record and backup. Then the canary: no table column and no log line
 * of the server holds a password, an export key, the backup key or the backup's plaintext.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import * as opaque from '@serenity-kit/opaque';

import { ClientErrorCode } from '@cove/client';
import { deriveAccountBackupKey, openAccountBackup } from '@cove/crypto';
import { AccountBackup } from '@cove/protocol';

import { findOnServer } from '../support/canary.js';
import type { TestClient } from '../support/clients.js';
import { destroyClient, newClient, openClient, texts, until } from '../support/clients.js';
import { cove, ensureCliBuilt, listen } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes and key stretching on a shared 2-core machine: generous limits (never a timing assertion). */
jest.setTimeout(240_000);

/** The first lockout: short, so the test can wait it out (doubling is the service spec's business). */
const LOCKOUT_MS = 12_000;

const fromBase64Url = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

describe('password login', () => {
  let server: TestServer;
  let bob: TestClient;
  const clients: TestClient[] = [];
  const aliceDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'cove-pw-alice-'));
  let primaryDir = '';
  let aliceId = '';
  /** Canaries: each password is a unique marker that must never reach the server in any form. */
  const first = `canary-first-${randomBytes(6).toString('hex')}`;
  const second = `canary-second-${randomBytes(6).toString('hex')}`;
  const carolPassword = `canary-carol-${randomBytes(6).toString('hex')}`;
  const secrets: (string | Uint8Array)[] = [first, second, carolPassword];

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer({ env: { RATE_LIMITS: 'on', AUTH_LOCKOUT: `${LOCKOUT_MS}ms` } });
    bob = await newClient(server.url, 'pw_bob');
    clients.push(bob);
    await bob.messenger.connect();
  }, 240_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  it('should register with --password-stdin, and change the password after making a verified contact', async () => {
    primaryDir = await aliceDir();
    const registered = await cove(
      primaryDir,
      ['register', '--server', server.url, '--username', 'pw_alice', '--password-stdin'],
      { stdin: `${first}\n` },
    );
    expect(registered.stderr).toBe('');
    expect(registered.code).toBe(0);
    expect(registered.lines[1]).toMatch(/^password set/);
    aliceId = /\(([0-9a-f-]{36})\)/.exec(registered.lines[0] ?? '')?.[1] ?? '';
    const rows = await server.query<{ n: string }>(
      'SELECT count(*) AS n FROM account_passwords WHERE account_id = $1::uuid',
      [aliceId],
    );
    expect(rows[0]?.n).toBe('1');

    expect((await cove(primaryDir, ['send', 'pw_bob', 'hello from the primary'])).code).toBe(0);
    expect((await cove(primaryDir, ['verify', 'pw_bob', '--yes'])).code).toBe(0);
    const before = await server.query<{ backup: Buffer }>(
      'SELECT backup FROM account_passwords WHERE account_id = $1::uuid',
      [aliceId],
    );
    // A short new password is refused before anything changes.
    const short = await cove(primaryDir, ['password', 'set', '--password-stdin'], { stdin: 'short\n' });
    expect(short.code).toBe(2);
    const changed = await cove(primaryDir, ['password', 'set', '--password-stdin'], { stdin: second });
    expect(changed.code).toBe(0);
    const after = await server.query<{ backup: Buffer }>(
      'SELECT backup FROM account_passwords WHERE account_id = $1::uuid',
      [aliceId],
    );
    // Sealed again, and bigger: it now holds the contact.
    expect(after[0]?.backup.equals(before[0]?.backup ?? Buffer.alloc(0))).toBe(false);
    expect(after[0]?.backup.length).toBeGreaterThan(before[0]?.backup.length ?? 0);
    await until('bob has the first message', async () =>
      (await texts(bob, aliceId)).includes('hello from the primary'),
    );
  });

  it('should refuse the old password and log in with the new one as a full device with the contacts', async () => {
    const wrongDir = await aliceDir();
    const wrong = await cove(
      wrongDir,
      ['login', '--server', server.url, '--username', 'pw_alice', '--password-stdin'],
      { stdin: first },
    );
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toMatch(/wrong username or password/);
    // Nothing was stored: the directory still holds no account.
    expect((await cove(wrongDir, ['whoami'])).code).toBe(4);

    // The primary listens, to be told about the new device.
    const primary = listen(primaryDir);
    try {
      await primary.waitFor('the primary connected', (e) => e.type === 'connection' && e.state === 'online');
      const newDir = await aliceDir();
      const login = await cove(
        newDir,
        ['login', '--server', server.url, '--username', 'PW_Alice', '--password-stdin', '--device-name', 'Borrowed'],
        { stdin: `${second}\n` },
      );
      expect(login.stderr).toBe('');
      expect(login.code).toBe(0);
      expect(login.lines[0]).toMatch(new RegExp(`^logged in as device 2 of pw_alice \\(${aliceId}\\)$`));

      // The contact came back with its verified state; the device chats both ways.
      const safety = await cove(newDir, ['safety-number', 'pw_bob'], { json: true });
      expect(JSON.parse(safety.lines[0] ?? '{}')).toMatchObject({ trust: 'verified', accountId: bob.accountId });
      expect((await cove(newDir, ['send', 'pw_bob', 'hello from the new device'])).code).toBe(0);
      await until('bob has the new device’s message', async () =>
        (await texts(bob, aliceId)).includes('hello from the new device'),
      );
      // The device announced itself (and sent its transcript) to the primary, which tells its user.
      const added = await primary.waitFor('the primary is told', (e) => e.type === 'own-device-added', 60_000);
      expect(added.deviceId).toBe(2);
      await bob.messenger.sendText('pw_alice', 'hello back');
      const received = await cove(newDir, ['listen', '--exit-when-idle'], { json: true });
      expect(received.code).toBe(0);
      expect(received.stdout).toContain('hello back');
      await primary.waitFor('the primary receives bob too', (e) => JSON.stringify(e).includes('hello back'), 60_000);
    } finally {
      await primary.stop();
    }
  });

  it('should throttle wrong passwords per username with growing delays, the right one included', async () => {
    const carol = await newClient(server.url, 'pw_carol');
    clients.push(carol);
    await carol.messenger.setPassword(carolPassword);
    const attempt = async (password: string): Promise<unknown> => {
      const fresh = await openClient('carol2', await mkdtemp(join(tmpdir(), 'cove-pw-carol-')));
      clients.push(fresh);
      return fresh.messenger
        .loginWithPassword({ serverUrl: server.url, username: 'pw_carol', password, oneTimePreKeys: 2 })
        .then(
          () => 'ok',
          (error: unknown) => (error as { code?: string }).code,
        );
    };
    // Four mistakes pass; the fifth start is the last one counted, then the username is locked for every address.
    for (let i = 0; i < 5; i++) expect(await attempt(`wrong-password-${i}`)).toBe(ClientErrorCode.WrongPassword);
    expect(await attempt(carolPassword)).toBe(ClientErrorCode.RateLimited);
    const raw = await fetch(`${server.url}/v1/accounts/password/login/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'pw_carol',
        startLoginRequest: opaque.client.startLogin({ password: 'x' }).startLoginRequest,
      }),
    });
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await raw.json()) as { error: string }).error).toBe('rate_limited');
    const cli = await cove(
      await aliceDir(),
      ['login', '--server', server.url, '--username', 'pw_carol', '--password-stdin'],
      {
        stdin: carolPassword,
      },
    );
    expect(cli.code).toBe(6);
    expect(cli.stderr).toMatch(/try again in \d+ s/);

    await new Promise((resolve) => setTimeout(resolve, LOCKOUT_MS + 500));
    // After the lockout: a raw OPAQUE login (the test plays the client) releases a backup only the password opens.
    await opaque.ready;
    const started = opaque.client.startLogin({ password: carolPassword });
    const startResponse = await fetch(`${server.url}/v1/accounts/password/login/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'pw_carol', startLoginRequest: started.startLoginRequest }),
    });
    expect(startResponse.status).toBe(200);
    const { loginId, loginResponse } = (await startResponse.json()) as { loginId: string; loginResponse: string };
    const finished = opaque.client.finishLogin({
      clientLoginState: started.clientLoginState,
      loginResponse,
      password: carolPassword,
    });
    if (!finished) throw new Error('the right password did not log in');
    const finishResponse = await fetch(`${server.url}/v1/accounts/password/login/finish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ loginId, finishLoginRequest: finished.finishLoginRequest }),
    });
    expect(finishResponse.status).toBe(200);
    const released = (await finishResponse.json()) as { accountId: string; backup: string; linkToken: string };
    expect(released.accountId).toBe(carol.accountId);
    // A finish is taken once.
    const replay = await fetch(`${server.url}/v1/accounts/password/login/finish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ loginId, finishLoginRequest: finished.finishLoginRequest }),
    });
    expect(replay.status).toBe(401);
    const exportKey = fromBase64Url(finished.exportKey);
    const backupKey = deriveAccountBackupKey(exportKey, carol.accountId);
    const plaintext = openAccountBackup(
      backupKey,
      carol.accountId,
      new Uint8Array(Buffer.from(released.backup, 'base64')),
    );
    const backup = AccountBackup.parse(JSON.parse(Buffer.from(plaintext).toString('utf8')));
    expect(backup).toMatchObject({ accountId: carol.accountId, username: 'pw_carol' });
    const account = await carol.platform.storage.get('meta', 'account');
    const identityKeyPair = (account as { identityKeyPair: Uint8Array }).identityKeyPair;
    expect(backup.identityKeyPair).toBe(Buffer.from(identityKeyPair).toString('base64'));
    secrets.push(exportKey, backupKey, identityKeyPair, backup.identityKeyPair, Buffer.from(plaintext).subarray(0, 48));
  });

  it('should delete the record and the backup when the password is removed', async () => {
    const removed = await cove(primaryDir, ['password', 'remove']);
    expect(removed.code).toBe(0);
    const rows = await server.query<{ n: string }>(
      'SELECT count(*) AS n FROM account_passwords WHERE account_id = $1::uuid',
      [aliceId],
    );
    expect(rows[0]?.n).toBe('0');
    const status = await cove(primaryDir, ['password', 'status'], { json: true });
    expect(JSON.parse(status.lines[0] ?? '{}')).toMatchObject({ type: 'password-status', enabled: false });
    const login = await cove(
      await aliceDir(),
      ['login', '--server', server.url, '--username', 'pw_alice', '--password-stdin'],
      {
        stdin: second,
      },
    );
    expect(login.code).toBe(6);
    expect(login.stderr).toMatch(/wrong username or password/);
  });

  it('should keep every password, export key, backup key and backup plaintext off the server’s tables and logs', async () => {
    expect(secrets.length).toBeGreaterThan(3);
    expect(await findOnServer(server, secrets)).toEqual([]);
  });
});
