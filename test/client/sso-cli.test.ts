/**
 * `cove register --sso` end to end (issue 15): the real CLI and server (`REGISTRATION=sso`) against a real OpenID
 * Connect provider in this process (`oidc-provider`). The CLI prints the verification address and user code (as a
 * JSON line with `--json`), the person enters the code on the provider's device page (a plain HTTP client plays the
 * browser) and approves, the CLI polls until then and registers under the username the provider gives, with keys it
 * made itself; `cove link --sso` signs the same person in again and links a new device (the first approves it). A
 * declined sign-in ends with a clear error and the "refused" exit code, and registers nothing;
 * `--sso` with `--username` is a usage error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { TestIdentityProvider } from '../../apps/api/test/support/oidc-provider.js';
import { cove, ensureCliBuilt, start, type RunningCommand } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine, and the provider's 5-second polling interval: generous limits. */
jest.setTimeout(180_000);

const CLIENT_ID = 'cove-cli-test';
const CLIENT_SECRET = 'cove-cli-test-secret-0123456789';
/** The device grant never uses the browser callback, but the server requires its address. */
const PUBLIC_URL = 'http://127.0.0.1:9';

describe('cove register --sso', () => {
  let idp: TestIdentityProvider;
  let server: TestServer;
  const dirs: string[] = [];
  const commands: RunningCommand[] = [];
  const dataDir = async (name: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), `cove-sso-cli-${name}-`));
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    await ensureCliBuilt();
    idp = await TestIdentityProvider.start(CLIENT_ID, CLIENT_SECRET, `${PUBLIC_URL}/v1/sso/callback`);
    const person = (sub: string, email: string, username: string) =>
      idp.people.set(sub, { sub, email, email_verified: true, preferred_username: username, groups: [] });
    person('u-cat-0001', 'cat@example.org', 'cat.ng');
    person('u-dan-0002', 'dan@example.org', 'dan');
    server = await startTestServer({
      env: {
        REGISTRATION: 'sso',
        OIDC_ISSUER: idp.issuer,
        OIDC_CLIENT_ID: CLIENT_ID,
        OIDC_CLIENT_SECRET: CLIENT_SECRET,
        OIDC_ALLOWED_DOMAINS: 'example.org',
        PUBLIC_URL,
      },
    });
  }, 180_000);

  afterAll(async () => {
    for (const command of commands) await command.kill().catch(() => undefined);
    await server?.close();
    await idp?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('should print the address and code, wait for the approval, and register under the provider’s username', async () => {
    const dir = await dataDir('cat');
    const register = start(dir, ['--json', 'register', '--server', server.url, '--sso', '--device-name', 'CLI']);
    commands.push(register);
    const shown = JSON.parse(
      await register.waitForLine('the sign-in prompt', (line) => line.includes('"sso-device"')),
    ) as { type: string; verificationUri: string; verificationUriComplete: string; userCode: string };
    expect(shown.verificationUri.startsWith(idp.issuer)).toBe(true);
    expect(shown.userCode).toMatch(/\S{4,}/);
    expect(shown.verificationUriComplete).toContain('user_code=');

    await idp.approveDevice(shown.verificationUriComplete, 'u-cat-0001');
    expect(await register.exited).toBe(0);
    const registered = JSON.parse(register.lines.at(-1) ?? '{}') as { type: string; username: string };
    expect(registered).toMatchObject({ type: 'registered', username: 'cat.ng' });
    const rows = await server.query<{ username: string }>('SELECT username FROM accounts');
    expect(rows).toEqual([{ username: 'cat.ng' }]);
    // The registered account works: it answers as itself.
    const whoami = await cove(dir, ['whoami']);
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toContain('cat.ng');
  });

  it('should link a new device of the same person after signing in again (cove link --sso)', async () => {
    const primary = dirs[0] ?? '';
    const dir = await dataDir('cat-laptop');
    const link = start(dir, ['--json', 'link', '--server', server.url, '--sso', '--device-name', 'laptop']);
    commands.push(link);
    const shown = JSON.parse(await link.waitForLine('the sign-in prompt', (line) => line.includes('"sso-device"'))) as {
      verificationUriComplete: string;
    };
    await idp.approveDevice(shown.verificationUriComplete, 'u-cat-0001');
    const { uri } = JSON.parse(await link.waitForLine('the link URI', (line) => line.includes('"link-uri"'))) as {
      uri: string;
    };
    expect((await cove(primary, ['devices', 'add', uri, '--yes'])).code).toBe(0);
    expect(await link.exited).toBe(0);
    expect(JSON.parse(link.lines.at(-1) ?? '{}')).toMatchObject({ type: 'linked', username: 'cat.ng', deviceId: 2 });
  });

  it('should end a declined sign-in with a clear error and register nothing', async () => {
    const dir = await dataDir('dan');
    const register = start(dir, ['register', '--server', server.url, '--sso']);
    commands.push(register);
    const line = await register.waitForLine('the address with the code', (l) => l.startsWith('(or open '));
    await register.waitForLine('the sign-in prompt', (l) => /^To sign in, open \S+ and enter the code \S+/.test(l));
    await idp.approveDevice(line.slice('(or open '.length, -1), 'u-dan-0002', false);
    expect(await register.exited).toBe(6);
    expect(register.stderr.join('')).toContain('cove: the sign-in was declined at the identity provider');
    const rows = await server.query<{ username: string }>('SELECT username FROM accounts WHERE username = $1', ['dan']);
    expect(rows).toEqual([]);
  });

  it('should refuse --sso with --username, and a plain registration on this server', async () => {
    const dir = await dataDir('eve');
    const both = await cove(dir, ['register', '--server', server.url, '--sso', '--username', 'eve']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--sso and --username do not go together');
    const plain = await cove(dir, ['--json', 'register', '--server', server.url, '--username', 'eve']);
    expect(plain.code).toBe(6);
    expect(plain.stderr).toContain('"error":"sso_required"');
  });
});
