/**
 * Garbage envelopes cannot make a client churn sessions without end. Whoever holds a device credential (here the
 * peer's own, driven by hand; a malicious server can inject the same envelopes) sends envelopes that do not decrypt,
 * through the real server. Each one makes the receiver rebuild its session with that device and ask it to re-send —
 * at most five times an hour per device, each reported as `session-reset`; past that it reports
 * `session-reset-limited` once, stops asking, and stores no more placeholders, until the hour is over.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { AccountRecord, MessengerEvent } from '@cove/client';
import { systemClock } from '@cove/client/node';
import { toBase64 } from '@cove/protocol';

import { destroyClient, newClient, stopClient, texts, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(180_000);

type ResetEvent = Extract<MessengerEvent, { type: 'session-reset' | 'session-reset-limited' }>;

describe('Session resets forced by garbage envelopes', () => {
  let server: TestServer;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  it('should rebuild the session at most five times an hour per device, report each, then report the limit and stop', async () => {
    let offset = 0;
    const clock = { ...systemClock, now: () => Date.now() + offset };
    const alice = await newClient(server.url, 'sr_alice', { clock });
    const bob = await newClient(server.url, 'sr_bob');
    clients.push(alice, bob);
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    await bob.messenger.sendText('sr_alice', 'hello before the garbage');
    await until('alice has it', async () => (await texts(alice, bob.accountId)).length === 1);
    const aliceAccount = (await alice.platform.storage.get<AccountRecord>('meta', 'account'))!;
    const sender = await RawDevice.fromStorage(bob.platform.storage);
    await stopClient(bob);

    const resets = (): ResetEvent[] =>
      alice.events.filter((e): e is ResetEvent => e.type === 'session-reset' || e.type === 'session-reset-limited');
    const garbage = async (timestamp: number): Promise<void> => {
      const before = await alice.platform.storage.count('processedEnvelopes');
      const sent = await sender.sendMessages(alice.accountId, {
        timestamp,
        messages: [
          {
            destinationDeviceId: aliceAccount.deviceId,
            destinationRegistrationId: aliceAccount.registrationId,
            type: timestamp % 2 === 0 ? 'whisper' : 'prekey',
            content: toBase64(randomBytes(200)),
          },
        ],
      });
      expect(sent.status).toBe(200);
      await until(
        'alice processed it',
        async () => (await alice.platform.storage.count('processedEnvelopes')) > before,
      );
      await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    };

    const start = Date.now();
    for (let i = 0; i < 12; i += 1) await garbage(start + i);
    await sender.receive();
    // (Alice's delivery receipt for the first message waits there too; Alice holds Bob's profile key, so she may
    // send sealed, and the sender is read from the certificate.)
    const requests = sender.received.filter(
      (r) => r.source?.accountId === alice.accountId && r.content?.kind !== 'receipt',
    );

    expect(resets().filter((e) => e.type === 'session-reset')).toHaveLength(5);
    expect(resets().filter((e) => e.type === 'session-reset-limited')).toHaveLength(1);
    expect(resets().every((e) => e.accountId === bob.accountId && e.deviceId === 1)).toBe(true);
    const limited = resets().find((e) => e.type === 'session-reset-limited');
    expect(limited).toMatchObject({ until: expect.any(Number) as unknown });
    // Five requests to re-send went out, and five placeholders were stored; the other seven were dropped.
    expect(requests).toHaveLength(5);
    expect(requests.every((r) => r.content?.kind === 'retry')).toBe(true);
    const placeholders = (await transcript(alice, bob.accountId)).filter((m) => m.status === 'undecryptable');
    expect(placeholders).toHaveLength(5);

    // An hour later the budget is whole again.
    offset = 3600_000 + 1000;
    await garbage(start + 100);
    expect(resets().filter((e) => e.type === 'session-reset')).toHaveLength(6);
  });
});
