/**
 * A recipient whose queue is full on the server (`507 queue_full`), as clients meet it on the real server with a
 * small `MAX_QUEUED_ENVELOPES`: the messenger fails the message with the code `queue_full` (over the socket and over
 * HTTP alike) so a UI can say why and offer a retry, and `cove send` prints a clear line and exits with 6.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode } from '@cove/client';
import type { MessageEntry } from '@cove/client';

import { cove, ensureCliBuilt } from '../support/cli.js';
import { destroyClient, newClient, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Envelopes a device may have waiting on this test server. */
const CAP = 3;

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(120_000);
describe('a recipient with a full queue', () => {
  let server: TestServer;
  let root: string;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer({ env: { MAX_QUEUED_ENVELOPES: String(CAP) } });
    root = await mkdtemp(join(tmpdir(), 'cove-queue-full-'));
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should fail the message with queue_full, over the socket and over HTTP, and store nothing', async () => {
    const alice = await newClient(server.url, 'full_alice');
    const bob = await newClient(server.url, 'full_bob');
    clients.push(alice, bob);
    // Bob stays offline: his queue fills up.
    await alice.messenger.connect();
    for (let i = 0; i < CAP + 1; i += 1) await alice.messenger.sendText('full_bob', `m${i}`);
    await alice.messenger.flushOutbox();
    await until('the outbox to settle', async () => (await alice.messenger.outboxSize()) === 0);
    const statuses = (messages: MessageEntry[]) => messages.map((m) => [m.text, m.status, m.error]);
    expect(statuses(await transcript(alice, bob.accountId))).toEqual([
      ['m0', 'sent', null],
      ['m1', 'sent', null],
      ['m2', 'sent', null],
      ['m3', 'failed', ClientErrorCode.QueueFull],
    ]);
    expect(
      alice.events.some(
        (e) => e.type === 'message-updated' && e.message.text === 'm3' && e.message.error === ClientErrorCode.QueueFull,
      ),
    ).toBe(true);

    // The same over HTTP: another sender that never opened a socket.
    const carol = await newClient(server.url, 'full_carol');
    clients.push(carol);
    await carol.messenger.sendText('full_bob', 'over http');
    await carol.messenger.flushOutbox();
    expect(statuses(await transcript(carol, bob.accountId))).toEqual([
      ['over http', 'failed', ClientErrorCode.QueueFull],
    ]);
    const stored = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1', [
      bob.accountId,
    ]);
    expect(stored[0]!.n).toBe(CAP);
  });

  it('should make `cove send` say why and exit with 6', async () => {
    const alice = join(root, 'alice');
    const bob = join(root, 'bob');
    expect((await cove(alice, ['register', '--server', server.url, '--username', 'full_cli_alice'])).code).toBe(0);
    expect((await cove(bob, ['register', '--server', server.url, '--username', 'full_cli_bob'])).code).toBe(0);
    for (let i = 0; i < CAP; i += 1) expect((await cove(alice, ['send', 'full_cli_bob', `m${i}`])).code).toBe(0);
    const full = await cove(alice, ['send', 'full_cli_bob', 'one too many']);
    expect(full.code).toBe(6);
    expect(full.stderr).toMatch(/full_cli_bob has too many undelivered messages waiting on the server/);
    const json = await cove(alice, ['send', 'full_cli_bob', 'still too many'], { json: true });
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stderr.trim())).toMatchObject({ type: 'error', error: 'queue_full' });
  });
});
