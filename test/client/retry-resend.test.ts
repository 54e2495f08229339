/**
 * Retry requests against the re-send log, through the real server: a device that could not decrypt a message asks
 * the sender to send it again. Plaintext may only go back to the device it was first encrypted for, under the
 * identity key it was first encrypted to, within a day, a bounded number of times. The attackers are hand-driven
 * devices (test/support/raw-device.ts): one holding a device credential with a fresh identity key (what a malicious
 * server can hand out), one linked later to the same account; the genuine asker is the original device itself.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { AccountRecord } from '@cove/client';
import { systemClock } from '@cove/client/node';
import { IdentityKeyPair } from '@cove/crypto';
import { encodeContent } from '@cove/protocol';

import { destroyClient, newClient, openClient, stopClient, texts, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(120_000);

const retryRequest = (timestamps: number[]): Uint8Array => encodeContent({ kind: 'retry', retry: { timestamps } });

/** Waits until `device` got the sender's answer naming `marker` (a timestamp that was never a message). */
const answered = async (device: RawDevice, marker: number): Promise<void> => {
  await until(`the answer naming ${marker}`, async () => {
    await device.receive();
    return device.received.some(
      (r) => r.content?.kind === 'retry' && (r.content.retry.unavailable ?? []).includes(marker),
    );
  });
};

/** Everything `device` decrypted, as text, to search for plaintext in any field or encoding. */
const plaintexts = (device: RawDevice): string =>
  device.received.map((r) => (r.plaintext ? Buffer.from(r.plaintext).toString('latin1') : '')).join('\n');

describe('Retry requests and the re-send log', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startTestServer();
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  /** Alice sends `messages` to a connected Bob, who reads them; returns their timestamps. */
  const exchange = async (alice: TestClient, bob: TestClient, messages: string[]): Promise<number[]> => {
    for (const text of messages) await alice.messenger.sendText(bob.accountId, text);
    await until('bob has them', async () => {
      const got = await texts(bob, alice.accountId);
      return messages.every((m) => got.includes(m));
    });
    await until('alice sent them', async () => (await alice.messenger.outboxSize()) === 0);
    return (await transcript(alice, bob.accountId)).filter((m) => messages.includes(m.text)).map((m) => m.timestamp);
  };

  it('should give an attacker holding a device credential with a fresh identity key none of the messages it names', async () => {
    const alice = track(await newClient(server.url, 'rs_alice1'));
    const bob = track(await newClient(server.url, 'rs_bob1'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    const secrets = ['first secret words', 'second secret words', 'third secret words'];
    const timestamps = await exchange(alice, bob, secrets);
    expect(timestamps).toHaveLength(3);
    const account = (await bob.platform.storage.get<AccountRecord>('meta', 'account'))!;
    await stopClient(bob);

    // The server gives an attacker a credential for Bob's device; the attacker brings its own identity key and asks
    // for the three messages by the timestamps the server saw in the envelopes' metadata.
    const attacker = await RawDevice.takeOver(server, {
      accountId: bob.accountId,
      deviceId: 1,
      registrationId: account.registrationId,
    });
    const marker = Math.max(...timestamps) + 1;
    expect((await attacker.send(alice.accountId, retryRequest([...timestamps, marker]))).status).toBe(200);
    await answered(attacker, marker);
    await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    await attacker.receive();

    expect(attacker.texts()).toEqual([]);
    const seen = plaintexts(attacker);
    for (const secret of secrets) expect(seen).not.toContain(secret);
    // Alice noticed the new key (and still holds her history).
    expect(alice.events.some((e) => e.type === 'identity-changed' && e.accountId === bob.accountId)).toBe(true);
    expect(await texts(alice, bob.accountId)).toEqual(secrets);
  });

  it('should re-send a recent message once to the genuine device that asks for it', async () => {
    const alice = track(await newClient(server.url, 'rs_alice2'));
    const bob = track(await newClient(server.url, 'rs_bob2'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    const [timestamp] = await exchange(alice, bob, ['worth asking for']);
    const genuine = await RawDevice.fromStorage(bob.platform.storage);
    await stopClient(bob);

    const marker = timestamp! + 1;
    expect((await genuine.send(alice.accountId, retryRequest([timestamp!, marker]))).status).toBe(200);
    await answered(genuine, marker);
    await until('the re-send arrives', async () => {
      await genuine.receive();
      return genuine.texts().length > 0;
    });
    await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    await genuine.receive();
    expect(genuine.texts()).toEqual(['worth asking for']);
    const resent = genuine.received.find((r) => r.content?.kind === 'data');
    expect(resent?.content).toMatchObject({ kind: 'data', data: { timestamp } });
  });

  it('should not re-send a message older than the re-send window', async () => {
    let offset = 0;
    const clock = { ...systemClock, now: () => Date.now() + offset };
    const alice = track(await newClient(server.url, 'rs_alice3', { clock }));
    const bob = track(await newClient(server.url, 'rs_bob3'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    const [old] = await exchange(alice, bob, ['too old to re-send']);
    const genuine = await RawDevice.fromStorage(bob.platform.storage);
    await stopClient(bob);

    // A day and a minute later on Alice's clock.
    offset = 24 * 3600_000 + 60_000;
    const marker = old! + 1;
    expect((await genuine.send(alice.accountId, retryRequest([old!, marker]))).status).toBe(200);
    await answered(genuine, marker);
    await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    await genuine.receive();
    expect(genuine.texts()).toEqual([]);
    expect(plaintexts(genuine)).not.toContain('too old to re-send');
  });

  it("should give a device linked later nothing that was meant for the account's first device", async () => {
    const alice = track(await newClient(server.url, 'rs_alice4'));
    let bob = track(await newClient(server.url, 'rs_bob4'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    const [early] = await exchange(alice, bob, ['for the first device only']);
    const account = (await bob.platform.storage.get<AccountRecord>('meta', 'account'))!;
    await stopClient(bob);

    // A second device of Bob's account, with Bob's own identity key: genuine, but it never received that message.
    const second = await RawDevice.link(
      server.url,
      { accountId: account.accountId, deviceId: account.deviceId, secret: new Uint8Array(account.secret) },
      IdentityKeyPair.deserialize(new Uint8Array(account.identityKeyPair)),
    );
    expect(second.deviceId).toBe(2);
    const marker = early! + 1;
    expect((await second.send(alice.accountId, retryRequest([early!, marker]))).status).toBe(200);
    await answered(second, marker);
    await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    await second.receive();
    expect(second.texts()).toEqual([]);
    expect(plaintexts(second)).not.toContain('for the first device only');

    // What was sent to both devices can be asked for again by the second one, and only it gets the text again.
    const both = await alice.messenger.sendText(bob.accountId, 'for both devices');
    await until('sent to both', async () => (await alice.messenger.outboxSize()) === 0);
    await until('the second device has it', async () => {
      await second.receive();
      return second.texts().includes('for both devices');
    });
    const marker2 = both.timestamp + 1;
    expect((await second.send(alice.accountId, retryRequest([both.timestamp, marker2]))).status).toBe(200);
    await answered(second, marker2);
    await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    await second.receive();
    expect(second.texts()).toEqual(['for both devices', 'for both devices']);

    bob = track(await openClient('rs_bob4', bob.dataDir));
    const idle = bob.messenger.waitForQueueEmpty();
    await bob.messenger.connect();
    await idle;
    expect(await texts(bob, alice.accountId)).toEqual(['for the first device only', 'for both devices']);
  });

  it('should cap how often one device can make it re-send', async () => {
    const alice = track(await newClient(server.url, 'rs_alice5'));
    const bob = track(await newClient(server.url, 'rs_bob5'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    const timestamps = await exchange(alice, bob, ['flood a', 'flood b', 'flood c']);
    const genuine = await RawDevice.fromStorage(bob.platform.storage);
    await stopClient(bob);

    const before = await alice.platform.storage.count('processedEnvelopes');
    const requests = 15;
    for (let i = 0; i < requests; i += 1) {
      const marker = Math.max(...timestamps) + 1 + i;
      expect((await genuine.send(alice.accountId, retryRequest([...timestamps, marker]))).status).toBe(200);
    }
    await until(
      'alice processed every request',
      async () => (await alice.platform.storage.count('processedEnvelopes')) >= before + requests,
      60_000,
    );
    await until('alice is idle', async () => (await alice.messenger.outboxSize()) === 0);
    await genuine.receive();
    const resent = genuine.received.filter((r) => r.content?.kind === 'data').length;
    const answers = genuine.received.filter((r) => r.content?.kind === 'retry').length;
    // Each message at most twice to this device, and at most ten requests an hour answered at all.
    expect(resent).toBeGreaterThan(0);
    expect(resent).toBeLessThanOrEqual(3 * 2);
    expect(answers).toBeLessThanOrEqual(10);
  });
});
