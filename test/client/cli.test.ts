/**
 * The `cove` CLI spawned as a process against the real server: registration, sending and listening both ways, an
 * offline recipient, a listener killed mid-stream, safety numbers and verification, every documented error with its
 * exit code, and the canary check that the server kept no plaintext.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { createNodePlatform, createStderrLogger } from '@cove/client/node';

import { main } from '../../packages/client/src/node/cli/main.js';
import type { CliIo } from '../../packages/client/src/node/cli/main.js';

import { findOnServer } from '../support/canary.js';
import { cove, ensureCliBuilt, listen } from '../support/cli.js';
import type { Listener } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import { startTamperProxy } from '../support/tamper-proxy.js';
import type { TestServer } from '../support/server.js';

const CANARY = 'canary-cli-7f3a9c1e-plaintext';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(120_000);
describe('cove CLI', () => {
  let server: TestServer;
  let root: string;
  const dirs: Record<string, string> = {};
  const listeners: Listener[] = [];

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    root = await mkdtemp(join(tmpdir(), 'cove-cli-'));
    for (const name of ['alice', 'bob', 'empty']) dirs[name] = join(root, name);
  }, 180_000);

  afterAll(async () => {
    for (const listener of listeners) if (listener.child.exitCode === null) await listener.kill();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should register, keep keys private to the owner, and refuse a second registration', async () => {
    const alice = await cove(dirs.alice!, ['register', '--server', server.url, '--username', 'cli_alice'], {
      json: true,
    });
    expect(alice.code).toBe(0);
    expect(JSON.parse(alice.lines[0]!)).toMatchObject({ type: 'registered', username: 'cli_alice', deviceId: 1 });
    expect((await cove(dirs.bob!, ['register', '--server', server.url, '--username', 'cli_bob'])).code).toBe(0);
    expect((await stat(dirs.alice!)).mode & 0o777).toBe(0o700);

    const again = await cove(dirs.alice!, ['register', '--server', server.url, '--username', 'cli_other']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds an account/);
    const taken = await cove(join(root, 'taken'), ['register', '--server', server.url, '--username', 'CLI_ALICE']);
    expect(taken.code).toBe(6);
    expect(taken.stderr).toMatch(/taken/);
  });

  it('should report errors with documented exit codes', async () => {
    const notRegistered = await cove(dirs.empty!, ['send', 'cli_bob', 'hi'], { json: true });
    expect(notRegistered.code).toBe(4);
    expect(JSON.parse(notRegistered.stderr.trim())).toMatchObject({ type: 'error', error: 'not_registered' });
    const unreachable = await cove(join(root, 'nowhere'), [
      'register',
      '--server',
      'http://127.0.0.1:9',
      '--username',
      'lost',
    ]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/cannot reach the server/);
    const unknown = await cove(dirs.alice!, ['send', 'nobody_at_all', 'hi']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/no account has the username/);
    const usage = await cove(dirs.alice!, ['send', 'cli_bob']);
    expect(usage.code).toBe(2);
  });

  it('should send and print messages as they arrive, both ways', async () => {
    const bobListener = listen(dirs.bob!);
    listeners.push(bobListener);
    await bobListener.waitFor('online', (e) => e.type === 'connection' && e.state === 'online');
    const sent = await cove(dirs.alice!, ['send', 'cli_bob', `hello bob ${CANARY}`], { json: true });
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.lines[0]!)).toMatchObject({ type: 'sent', status: 'sent' });
    const received = await bobListener.waitFor('message', (e) => e.type === 'message');
    expect(received).toMatchObject({ text: `hello bob ${CANARY}`, peer: 'cli_alice', direction: 'incoming' });
    expect(await bobListener.stop()).toBe(0);

    expect((await cove(dirs.bob!, ['send', 'cli_alice', 'hello alice'])).code).toBe(0);
    const aliceRun = await cove(dirs.alice!, ['listen', '--exit-when-idle'], { json: true });
    expect(aliceRun.code).toBe(0);
    const messages = aliceRun.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'message');
    expect(messages.map((m) => m.text)).toEqual(['hello alice']);
    // Bob's delivery receipt reached Alice's history.
    const history = await cove(dirs.alice!, ['history', 'cli_bob'], { json: true });
    const mine = history.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((m) => m.direction === 'outgoing');
    expect(mine).toMatchObject({ status: 'delivered' });
  });

  it('should run other commands inside a listener that holds the data directory', async () => {
    const bobListener = listen(dirs.bob!);
    listeners.push(bobListener);
    await bobListener.waitFor('online', (e) => e.type === 'connection' && e.state === 'online');
    const sent = await cove(dirs.bob!, ['send', 'cli_alice', 'sent while listening'], { json: true });
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.lines[0]!)).toMatchObject({ type: 'sent', text: 'sent while listening' });
    const whoami = await cove(dirs.bob!, ['whoami']);
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toMatch(/^cli_bob /);
    expect((await cove(dirs.bob!, ['listen'])).code).toBe(2);
    expect(await bobListener.stop()).toBe(0);

    const aliceRun = await cove(dirs.alice!, ['listen', '--exit-when-idle'], { json: true });
    const texts = aliceRun.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'message');
    expect(texts.map((m) => m.text)).toEqual(['sent while listening']);
  });

  it('should deliver to an offline recipient in order and once, even after the listener is killed', async () => {
    for (const text of ['one', 'two', 'three'])
      expect((await cove(dirs.alice!, ['send', 'cli_bob', text])).code).toBe(0);
    const first = listen(dirs.bob!);
    listeners.push(first);
    await first.waitFor('three', (e) => e.type === 'message' && e.text === 'three');
    expect(
      first
        .events()
        .filter((e) => e.type === 'message')
        .map((e) => e.text),
    ).toEqual(['one', 'two', 'three']);
    await first.kill();

    expect((await cove(dirs.alice!, ['send', 'cli_bob', 'four'])).code).toBe(0);
    const second = await cove(dirs.bob!, ['listen', '--exit-when-idle'], { json: true });
    expect(second.code).toBe(0);
    expect(
      second.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.type === 'message')
        .map((e) => e.text),
    ).toEqual(['four']);
    const history = await cove(dirs.bob!, ['history', 'cli_alice', '--limit', '50'], { json: true });
    const texts = history.lines
      .map((l) => (JSON.parse(l) as { text: string }).text)
      .filter((t) => ['one', 'two', 'three', 'four'].includes(t));
    expect(texts).toEqual(['one', 'two', 'three', 'four']);
  });

  it('should recover the conversation after one side lost its session state', async () => {
    // Bob's sessions vanish (a restored backup, a damaged disk) while no cove process runs.
    const platform = await createNodePlatform({ dataDir: dirs.bob!, logger: createStderrLogger('silent') });
    const sessions = await platform.storage.list('sessions');
    expect(sessions.length).toBeGreaterThan(0);
    await platform.storage.commit(
      sessions.map(({ key }) => ({ op: 'delete' as const, table: 'sessions' as const, key })),
    );
    await platform.close();

    expect((await cove(dirs.alice!, ['send', 'cli_bob', 'after the loss'])).code).toBe(0);
    const events = async (dir: string): Promise<Record<string, unknown>[]> =>
      (await cove(dir, ['listen', '--exit-when-idle'], { json: true })).lines.map(
        (l) => JSON.parse(l) as Record<string, unknown>,
      );
    // Bob cannot read it, says so, and asks Alice (in a rebuilt session) to send it again.
    expect((await events(dirs.bob!)).filter((e) => e.type === 'undecryptable')).toHaveLength(1);
    // Alice answers the request by re-sending; Bob then reads it.
    await events(dirs.alice!);
    const recovered = (await events(dirs.bob!)).filter((e) => e.type === 'message');
    expect(recovered.map((e) => e.text)).toEqual(['after the loss']);
    const history = await cove(dirs.bob!, ['history', 'cli_alice', '--limit', '100'], { json: true });
    const statuses = history.lines.map((l) => JSON.parse(l) as { text: string; status: string });
    expect(statuses.filter((m) => m.status === 'undecryptable')).toEqual([]);
    expect(statuses.filter((m) => m.text === 'after the loss')).toHaveLength(1);
  });

  it('should show equal safety numbers and verify only a matching one', async () => {
    const a = JSON.parse((await cove(dirs.alice!, ['safety-number', 'cli_bob'], { json: true })).lines[0]!) as {
      safetyNumber: string;
      trust: string;
    };
    const b = JSON.parse((await cove(dirs.bob!, ['safety-number', 'cli_alice'], { json: true })).lines[0]!) as {
      safetyNumber: string;
    };
    expect(a.safetyNumber).toMatch(/^\d{60}$/);
    expect(a.safetyNumber).toBe(b.safetyNumber);
    expect(a.trust).toBe('trusted-first-use');
    const text = await cove(dirs.alice!, ['safety-number', 'cli_bob']);
    expect(text.lines[0]).toMatch(/^(\d{5} ){11}\d{5}$/);

    const wrong = await cove(dirs.alice!, ['verify', 'cli_bob', '--safety-number', '0'.repeat(60)]);
    expect(wrong.code).toBe(7);
    expect((await cove(dirs.alice!, ['verify', 'cli_bob', '--safety-number', b.safetyNumber])).code).toBe(0);
    const after = JSON.parse((await cove(dirs.alice!, ['safety-number', 'cli_bob'], { json: true })).lines[0]!) as {
      trust: string;
    };
    expect(after.trust).toBe('verified');
  });

  it('should verify without digits only after showing the number: --yes in scripts, a confirmation on a terminal', async () => {
    const trust = async (): Promise<{ safetyNumber: string; trust: string }> =>
      JSON.parse((await cove(dirs.bob!, ['safety-number', 'cli_alice'], { json: true })).lines[0]!) as {
        safetyNumber: string;
        trust: string;
      };
    const before = await trust();
    expect(before.trust).toBe('trusted-first-use');

    // No digits, no terminal, no --yes: nothing is marked.
    const refused = await cove(dirs.bob!, ['verify', 'cli_alice']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--safety-number DIGITS .* or --yes/);
    expect((await trust()).trust).toBe('trusted-first-use');

    // On a terminal the number is shown first; "n" marks nothing, "y" marks the key whose number was shown.
    const ask = (answer: string): { io: CliIo; lines: string[]; questions: string[] } => {
      const lines: string[] = [];
      const questions: string[] = [];
      return {
        lines,
        questions,
        io: {
          out: (line) => lines.push(line),
          err: (line) => lines.push(line),
          stopSignal: () => new Promise(() => undefined),
          interactive: true,
          ask: (question) => {
            questions.push(question);
            return Promise.resolve(answer);
          },
        },
      };
    };
    const no = ask('n');
    expect(await main(['node', 'cove', '--data', dirs.bob!, 'verify', 'cli_alice'], no.io)).toBe(7);
    expect(no.lines[0]).toBe(before.safetyNumber.replace(/(\d{5})(?=\d)/g, '$1 '));
    expect(no.questions).toEqual(['Is this the number cli_alice sees? [y/N] ']);
    expect((await trust()).trust).toBe('trusted-first-use');
    const yes = ask('y');
    expect(await main(['node', 'cove', '--data', dirs.bob!, 'verify', 'cli_alice'], yes.io)).toBe(0);
    expect(yes.lines).toContain('cli_alice is verified');
    expect(await trust()).toEqual({ ...before, trust: 'verified' });

    // --yes verifies the digits it printed.
    const scripted = await cove(dirs.bob!, ['verify', 'cli_alice', '--yes'], { json: true });
    expect(scripted.code).toBe(0);
    expect(JSON.parse(scripted.lines[0]!)).toMatchObject({ type: 'verified', safetyNumber: before.safetyNumber });
  });

  it("should refuse to send when a verified contact's keys are substituted, and say so", async () => {
    const proxy = await startTamperProxy(server.url);
    try {
      const carol = join(root, 'carol');
      expect((await cove(carol, ['register', '--server', proxy.url, '--username', 'cli_carol'])).code).toBe(0);
      expect(
        (await cove(join(root, 'mallory'), ['register', '--server', server.url, '--username', 'cli_mallory'])).code,
      ).toBe(0);
      const whoami = async (dir: string): Promise<string> =>
        (JSON.parse((await cove(dir, ['whoami'], { json: true })).lines[0]!) as { accountId: string }).accountId;
      const bobId = await whoami(dirs.bob!);
      const malloryId = await whoami(join(root, 'mallory'));

      expect((await cove(carol, ['send', 'cli_bob', 'hello from carol'])).code).toBe(0);
      const number = (
        JSON.parse((await cove(dirs.bob!, ['safety-number', 'cli_carol'], { json: true })).lines[0]!) as {
          safetyNumber: string;
        }
      ).safetyNumber;
      expect((await cove(carol, ['verify', 'cli_bob', '--safety-number', number])).code).toBe(0);

      // The "server" now hands out Mallory's keys for Bob, and Carol has to fetch them again.
      proxy.substitute = { victim: bobId, impostor: malloryId };
      const platform = await createNodePlatform({ dataDir: carol, logger: createStderrLogger('silent') });
      const sessions = await platform.storage.list('sessions');
      await platform.storage.commit(
        sessions.map(({ key }) => ({ op: 'delete' as const, table: 'sessions' as const, key })),
      );
      await platform.close();

      const refused = await cove(carol, ['send', 'cli_bob', 'meant for bob only']);
      expect(refused.code).toBe(7);
      expect(refused.stderr).toMatch(/safety number changed/);
      const after = JSON.parse((await cove(carol, ['safety-number', 'cli_bob'], { json: true })).lines[0]!) as {
        safetyNumber: string;
        trust: string;
        blocked: boolean;
      };
      expect(after).toMatchObject({ trust: 'unverified', blocked: true });
      expect(after.safetyNumber).not.toBe(number);
      const mallorySaw = await cove(join(root, 'mallory'), ['listen', '--exit-when-idle'], { json: true });
      expect(mallorySaw.stdout).not.toContain('meant for bob only');
      const bobSaw = await cove(dirs.bob!, ['listen', '--exit-when-idle'], { json: true });
      const bobTexts = bobSaw.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.type === 'message');
      expect(bobTexts.map((m) => m.text)).toEqual(['hello from carol']);
    } finally {
      await proxy.close();
    }
  });

  it('should keep a message queued while the server is down and send it on the next run', async () => {
    await server.stop();
    const queued = await cove(dirs.alice!, ['send', 'cli_bob', 'written while down'], { json: true });
    expect(queued.code).toBe(3);
    expect(JSON.parse(queued.lines[0]!)).toMatchObject({ type: 'queued', status: 'sending' });
    expect((await cove(dirs.bob!, ['listen', '--exit-when-idle'])).code).toBe(3);
    await server.start();

    expect((await cove(dirs.alice!, ['listen', '--exit-when-idle'])).code).toBe(0);
    const bobRun = await cove(dirs.bob!, ['listen', '--exit-when-idle'], { json: true });
    const received = bobRun.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'message');
    expect(received.map((m) => m.text)).toEqual(['written while down']);
  });

  it('should leave no plaintext on the server (canary)', async () => {
    expect(await findOnServer(server, [CANARY, 'hello alice', 'three'])).toEqual([]);
  });
});
