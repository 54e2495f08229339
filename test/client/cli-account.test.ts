/**
 * `cove logout` and `cove account delete --yes` as real processes against the real server: deleting needs the
 * confirmation flag, removes the account on the server (a peer's send then fails as "no account") and the local data;
 * logging out a primary device deletes its local data and leaves the account on the server.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { cove, ensureCliBuilt } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Twelve CLI processes on a shared 2-core machine: a generous limit (never a timing assertion). */
jest.setTimeout(300_000);

describe('cove logout and account delete', () => {
  let server: TestServer;
  let root: string;
  const suffix = Math.random().toString(36).slice(2, 7);
  const ALICE = `acct_alice_${suffix}`;
  const BOB = `acct_bob_${suffix}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    root = await mkdtemp(join(tmpdir(), 'cove-cli-account-'));
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should delete the account only with --yes, then refuse sends to it, and log out locally', async () => {
    const alice = join(root, 'alice');
    const bob = join(root, 'bob');
    expect((await cove(alice, ['register', '--server', server.url, '--username', ALICE])).code).toBe(0);
    expect((await cove(bob, ['register', '--server', server.url, '--username', BOB])).code).toBe(0);
    expect((await cove(bob, ['send', ALICE, 'before'])).code).toBe(0);

    const unconfirmed = await cove(alice, ['account', 'delete']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/--yes/);
    expect((await cove(alice, ['whoami'])).code).toBe(0);

    const deleted = await cove(alice, ['account', 'delete', '--yes'], { json: true });
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.lines[0]!)).toEqual({ type: 'account-deleted' });
    await expect(stat(alice)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await cove(alice, ['whoami'])).code).toBe(4);

    const refused = await cove(bob, ['send', ALICE, 'after']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/could not be sent \(unknown_user\)/);

    const loggedOut = await cove(bob, ['logout'], { json: true });
    expect(loggedOut.code).toBe(0);
    expect(JSON.parse(loggedOut.lines[0]!)).toEqual({ type: 'logged-out', outcome: 'primary-kept' });
    await expect(readdir(bob)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await cove(bob, ['whoami'])).code).toBe(4);
    // The primary's account stays on the server: its username still resolves.
    const carol = join(root, 'carol');
    expect((await cove(carol, ['register', '--server', server.url, '--username', `acct_carol_${suffix}`])).code).toBe(
      0,
    );
    expect((await cove(carol, ['send', BOB, 'still there?'])).code).toBe(0);
  });
});
