/**
 * Failure scenarios between Node clients on one real server: an offline recipient, a crash between storing and
 * acknowledging, a restart with a non-empty outbox, a lost session, a substituted identity key, and a burst of
 * 150 new senders that drains the one-time prekeys.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode } from '@cove/client';
import type { HttpTransport, SocketFactory } from '@cove/client';
import { fetchTransport, wsSocketFactory } from '@cove/client/node';
import {
  destroyClient,
  newClient,
  openClient,
  restartClient,
  stopClient,
  texts,
  transcript,
  until,
} from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(120_000);
describe('Messenger under failures', () => {
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

  it('should give an offline recipient everything on reconnect, in order, once', async () => {
    const alice = track(await newClient(server.url, 'off_alice'));
    let bob = track(await newClient(server.url, 'off_bob'));
    await alice.messenger.connect();
    for (let i = 0; i < 30; i += 1) await alice.messenger.sendText('off_bob', `m${i}`);
    await alice.messenger.flushOutbox();
    await until('all sent', async () => (await alice.messenger.outboxSize()) === 0);

    bob = track(await restartClient(bob));
    const queueEmpty = bob.messenger.waitForQueueEmpty();
    await bob.messenger.connect();
    await queueEmpty;
    expect(await texts(bob, alice.accountId)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));

    // Reconnecting again delivers nothing new.
    await bob.messenger.disconnect();
    const again = bob.messenger.waitForQueueEmpty();
    await bob.messenger.connect();
    await again;
    expect(await texts(bob, alice.accountId)).toHaveLength(30);
    await until('all delivered', async () =>
      (await transcript(alice, bob.accountId)).every((m) => m.status === 'delivered'),
    );
  });

  it('should receive again after a crash between storing and acknowledging, and show once', async () => {
    const alice = track(await newClient(server.url, 'ack_alice'));
    const bob = track(await newClient(server.url, 'ack_bob'));
    await alice.messenger.connect();
    await stopClient(bob);
    // Bob's process "dies" right after storing: every ack it tries to send is lost.
    const acksDropped: string[] = [];
    const droppingAcks: SocketFactory = {
      connect(url) {
        const socket = wsSocketFactory.connect(url);
        const send = socket.send.bind(socket);
        socket.send = (text) => {
          if (text.includes('"type":"ack"')) acksDropped.push(text);
          else send(text);
        };
        return socket;
      },
    };
    const crashing = track(await openClient('ack_bob', bob.dataDir, { sockets: droppingAcks }));
    await crashing.messenger.connect();
    for (let i = 0; i < 5; i += 1) await alice.messenger.sendText('ack_bob', `once ${i}`);
    await until('stored without ack', async () => (await texts(crashing, alice.accountId)).length === 5);
    expect(acksDropped.length).toBeGreaterThan(0);
    await stopClient(crashing);

    const restarted = track(await openClient('ack_bob', bob.dataDir));
    const queueEmpty = restarted.messenger.waitForQueueEmpty();
    await restarted.messenger.connect();
    await queueEmpty;
    expect(await texts(restarted, alice.accountId)).toEqual(['once 0', 'once 1', 'once 2', 'once 3', 'once 4']);
    // Whatever the server still holds (acks may still be in flight) is recognized, not shown again.
    await restarted.messenger.disconnect();
    expect((await restarted.messenger.fetchPending()).every((result) => result === 'duplicate')).toBe(true);
    expect(await restarted.messenger.fetchPending()).toEqual([]);
    expect(await texts(restarted, alice.accountId)).toHaveLength(5);
  });

  it('should send a non-empty outbox after a restart', async () => {
    const bob = track(await newClient(server.url, 'out_bob'));
    await bob.messenger.connect();
    const alice = track(await newClient(server.url, 'out_alice'));
    await alice.messenger.resolve('out_bob');
    await stopClient(alice);
    const offline: HttpTransport = { request: () => Promise.reject(new Error('network is down')) };
    const cut = track(await openClient('out_alice', alice.dataDir, { http: offline }));
    const queued = await cut.messenger.sendText(bob.accountId, 'written offline');
    await cut.messenger.flushOutbox();
    expect(await cut.messenger.outboxSize()).toBe(1);
    expect((await cut.messenger.message(queued.id))?.status).toBe('sending');
    await stopClient(cut);

    const back = track(await openClient('out_alice', alice.dataDir, { http: fetchTransport }));
    await back.messenger.connect();
    await until('bob receives', async () => (await texts(bob, back.accountId)).includes('written offline'));
    await until('outbox empty', async () => (await back.messenger.outboxSize()) === 0);
    await until('delivered', async () => (await back.messenger.message(queued.id))?.status === 'delivered');
  });

  it('should recover a conversation after one side lost its session state', async () => {
    const alice = track(await newClient(server.url, 'loss_alice'));
    const bob = track(await newClient(server.url, 'loss_bob'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    await alice.messenger.sendText('loss_bob', 'before');
    await until('bob has before', async () => (await texts(bob, alice.accountId)).includes('before'));
    await bob.messenger.sendText('loss_alice', 'reply');
    await until('alice has reply', async () => (await texts(alice, bob.accountId)).includes('reply'));

    // Bob loses every session (a restored backup, a corrupted store).
    const sessions = await bob.platform.storage.list('sessions');
    await bob.platform.storage.commit(
      sessions.map(({ key }) => ({ op: 'delete' as const, table: 'sessions' as const, key })),
    );

    await alice.messenger.sendText('loss_bob', 'after loss');
    await until(
      'bob shows the re-sent message',
      async () => (await texts(bob, alice.accountId)).includes('after loss'),
      30_000,
    );
    // Placeholders for what Bob could not read are replaced by the re-sent message, or dropped when they were
    // receipts (Alice answers that she has nothing to re-send for them).
    await until('no placeholder left', async () =>
      (await transcript(bob, alice.accountId)).every((m) => m.status !== 'undecryptable'),
    );
    const bobView = await transcript(bob, alice.accountId);
    expect(bobView.filter((m) => m.text === 'after loss')).toHaveLength(1);

    await bob.messenger.sendText('loss_alice', 'still talking');
    await until('alice has it', async () => (await texts(alice, bob.accountId)).includes('still talking'));
    await alice.messenger.sendText('loss_bob', 'and back');
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('and back'));
  }, 60_000);

  it('should detect and report a substituted identity key, and block sending to a verified contact until re-verified', async () => {
    const bob = track(await newClient(server.url, 'id_bob'));
    const mallory = track(await newClient(server.url, 'id_mallory'));
    let substitute = false;
    // A malicious server (or network) hands out Mallory's keys for Bob.
    const tampering: HttpTransport = {
      async request(request) {
        if (substitute && request.method === 'GET' && request.url.includes(`/v1/keys/${bob.accountId}/`)) {
          const fake = await fetchTransport.request({
            ...request,
            url: request.url.replace(bob.accountId, mallory.accountId),
          });
          const real = await fetchTransport.request(request);
          const body = JSON.parse(fake.body) as { identityKey: string; devices: { registrationId: number }[] };
          const realBody = JSON.parse(real.body) as { devices: { registrationId: number }[] };
          body.devices.forEach((d, i) => (d.registrationId = realBody.devices[i]?.registrationId ?? d.registrationId));
          return { ...fake, body: JSON.stringify(body) };
        }
        return fetchTransport.request(request);
      },
    };
    const alice = track(await newClient(server.url, 'id_alice', { http: tampering }));
    await alice.messenger.connect();
    await alice.messenger.sendText('id_bob', 'first contact');
    await until('sent', async () => (await alice.messenger.outboxSize()) === 0);
    const before = await alice.messenger.safetyNumber('id_bob');
    expect(before.digits).toBe((await bob.messenger.safetyNumber('id_alice')).digits);
    await alice.messenger.verify('id_bob', before.digits);

    substitute = true;
    await alice.messenger.resetSessions('id_bob');
    const attempt = await alice.messenger.sendText('id_bob', 'should not go to mallory');
    await until('send refused', async () => (await alice.messenger.message(attempt.id))?.status === 'failed');
    expect((await alice.messenger.message(attempt.id))?.error).toBe(ClientErrorCode.IdentityChanged);
    const change = alice.events.find((e) => e.type === 'identity-changed');
    expect(change).toMatchObject({
      type: 'identity-changed',
      accountId: bob.accountId,
      wasVerified: true,
      trust: 'unverified',
    });
    const identity = await alice.messenger.identity('id_bob');
    expect(identity.trust).toBe('unverified');
    expect(identity.blocked).toBe(true);
    expect(identity.safetyNumber?.digits).not.toBe(before.digits);
  });

  it('should follow 409 (extra device) and 410 (stale device) answers without the caller noticing', async () => {
    const alice = track(await newClient(server.url, 'dev_alice'));
    const bob = track(await newClient(server.url, 'dev_bob'));
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    await alice.messenger.sendText('dev_bob', 'first');
    await until('bob has first', async () => (await texts(bob, alice.accountId)).includes('first'));
    const stored = (await alice.platform.storage.get('contacts', bob.accountId))!;
    const contact = { ...stored, devices: stored.devices ?? [] };
    expect(contact.devices.map((d) => d.deviceId)).toEqual([1]);

    // Alice wrongly believes Bob has a second device (with a session): the server answers 409 extraDevices.
    const session = (await alice.platform.storage.get('sessions', `${bob.accountId}.1`))!;
    await alice.platform.storage.commit([
      {
        op: 'put',
        table: 'contacts',
        key: bob.accountId,
        value: { ...contact, devices: [...contact.devices, { deviceId: 2, registrationId: 77 }] },
      },
      { op: 'put', table: 'sessions', key: `${bob.accountId}.2`, value: session },
    ]);
    const extra = await alice.messenger.sendText('dev_bob', 'after 409');
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('after 409'));
    await until('sent', async () =>
      ['sent', 'delivered'].includes((await alice.messenger.message(extra.id))?.status ?? ''),
    );
    expect((await alice.platform.storage.get('contacts', bob.accountId))!.devices!.map((d) => d.deviceId)).toEqual([1]);
    expect(await alice.platform.storage.get('sessions', `${bob.accountId}.2`)).toBeUndefined();

    // Alice holds a wrong registration id for Bob's device (as after a reinstall): the server answers 410.
    const current = (await alice.platform.storage.get('contacts', bob.accountId))!;
    const wrong = (current.devices![0]!.registrationId % 16383) + 1;
    await alice.platform.storage.commit([
      {
        op: 'put',
        table: 'contacts',
        key: bob.accountId,
        value: { ...current, devices: [{ deviceId: 1, registrationId: wrong }] },
      },
    ]);
    await alice.messenger.sendText('dev_bob', 'after 410');
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('after 410'));
    expect((await alice.platform.storage.get('contacts', bob.accountId))!.devices![0]!.registrationId).not.toBe(wrong);
    await bob.messenger.sendText('dev_alice', 'all good');
    await until('alice has it', async () => (await texts(alice, bob.accountId)).includes('all good'));
    expect(await texts(bob, alice.accountId, 'incoming')).toEqual(['first', 'after 409', 'after 410']);
  });

  it('should still decrypt a late PreKey message made before a signed prekey rotation', async () => {
    const alice = track(await newClient(server.url, 'rot_alice'));
    const bob = track(await newClient(server.url, 'rot_bob'));
    // Alice fetches Bob's bundle (and builds a session) now, but sends only after Bob rotated his keys.
    expect((await alice.messenger.identity('rot_bob')).trust).toBe('trusted-first-use');
    const rotation = await bob.messenger.upkeep({ forceRotation: true });
    expect(rotation).toMatchObject({ signedPreKey: true, kyberLastResort: true });
    type Signed = { retiredAt: number | null };
    const signed = await bob.platform.storage.list<Signed>('signedPreKeys');
    expect(signed.map((e) => e.value.retiredAt === null)).toEqual([false, true]);

    await bob.messenger.connect();
    await alice.messenger.sendText('rot_bob', 'written with the old keys');
    await until('bob decrypts it', async () =>
      (await texts(bob, alice.accountId)).includes('written with the old keys'),
    );
    expect((await transcript(bob, alice.accountId)).map((m) => m.status)).toEqual(['received']);
  });

  it('should replenish prekeys after a burst of 150 new senders', async () => {
    const bob = track(await newClient(server.url, 'burst_bob'));
    await stopClient(bob);
    const senders = 150;
    for (let batch = 0; batch < senders; batch += 15) {
      await Promise.all(
        Array.from({ length: Math.min(15, senders - batch) }, async (_, i) => {
          const sender = await newClient(server.url, `burst_${batch + i}`, { oneTimePreKeys: 0 });
          await sender.messenger.sendText(bob.accountId, `hello from ${batch + i}`);
          await sender.messenger.flushOutbox();
          const left = await sender.messenger.outboxSize();
          await destroyClient(sender);
          expect(left).toBe(0);
        }),
      );
    }
    const back = track(await openClient('burst_bob', bob.dataDir));
    expect(await back.messenger.keyStatus()).toEqual({ preKeyCount: 0, kyberPreKeyCount: 0 });
    const queueEmpty = back.messenger.waitForQueueEmpty();
    await back.messenger.connect();
    await queueEmpty;
    const conversations = await back.messenger.conversations();
    expect(conversations).toHaveLength(senders);
    for (const conversation of conversations) {
      const page = await back.messenger.messages(conversation.id);
      expect(page.messages.map((m) => m.status)).toEqual(['received']);
    }
    await until('prekeys replenished', async () => {
      const status = await back.messenger.keyStatus();
      return status.preKeyCount >= 100 && status.kyberPreKeyCount >= 100;
    });
  }, 180_000);
});
