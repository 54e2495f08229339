/**
 * Linking devices and syncing between them, on a real server: a second device linked through the Messenger API and
 * a third through `cove link` (the URI on its own line) both become full devices of the account, with its contacts
 * and their verified states; every device shows every message of a conversation, sent ones included (sent
 * transcripts, also from a primary that only sends and so never hears the new device announce itself), and a conversation read on one device is read on the others; a 1:1 disappearing timer set on one
 * device reaches the others; a transcript forged by another account is refused; device names reach the server only
 * encrypted; a removed device's socket closes and it stops receiving, and a peer drops it; a linked device cannot
 * remove others; the account stops at 8 devices.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode } from '@cove/client';
import type { TestClient } from '../support/clients.js';
import { destroyClient, newClient, openClient, texts, transcript, until } from '../support/clients.js';
import { cove, ensureCliBuilt, start } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { encodeContent } from '@cove/protocol';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(180_000);

describe('linked devices', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let phone: TestClient;
  let laptop: TestClient;
  const clients: TestClient[] = [];

  /** Links an empty client to alice's account through the Messenger API (alice confirms by sending). */
  const linkThroughApi = async (name: string, deviceName?: string): Promise<TestClient> => {
    const client = await openClient(name, await mkdtemp(join(tmpdir(), `cove-link-${name}-`)));
    clients.push(client);
    const account = await client.messenger.linkNewDevice({
      serverUrl: server.url,
      oneTimePreKeys: 2,
      ...(deviceName ? { deviceName } : {}),
      onLinkUri: (uri) => {
        void alice.messenger.addDevice(uri);
      },
    });
    client.accountId = account.accountId;
    return client;
  };

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    alice = await newClient(server.url, 'link_alice');
    bob = await newClient(server.url, 'link_bob');
    clients.push(alice, bob);
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  it('should link a device through the API with the account, its contacts and their verified states', async () => {
    await alice.messenger.sendText('link_bob', 'before linking');
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('before linking'));
    const shown = await alice.messenger.identity('link_bob');
    await alice.messenger.verify('link_bob', shown.safetyNumber?.digits ?? '');
    await alice.messenger.setProfile({ name: 'Alice A', about: 'here' });
    const ownBefore = await alice.messenger.profile();

    phone = await linkThroughApi('phone', 'My phone');
    // One profile key per account: the phone keeps it (the server's profile and access key stay) and reads the fields.
    expect(await phone.messenger.profile()).toMatchObject({
      name: 'Alice A',
      about: 'here',
      version: ownBefore.version,
    });
    expect((await alice.messenger.profile()).version).toBe(ownBefore.version);
    const account = await phone.messenger.account();
    expect(account).toMatchObject({ accountId: alice.accountId, deviceId: 2, username: 'link_alice' });
    const bobOnPhone = await phone.messenger.identity('link_bob');
    expect(bobOnPhone.trust).toBe('verified');
    expect(bobOnPhone.safetyNumber?.digits).toBe(shown.safetyNumber?.digits);
    expect(await phone.messenger.resolve('link_bob')).toBe(bob.accountId);
    await phone.messenger.connect();
  });

  it('should link a device with `cove link`, printing the URI on its own line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cove-link-laptop-'));
    const link = start(dir, ['link', '--server', server.url, '--device-name', 'Work laptop']);
    try {
      const uri = await link.waitForLine('the link URI', (line) => line.startsWith('cove://'));
      expect(uri).toMatch(/^cove:\/\/link\?uuid=[A-Za-z0-9_-]{22}&pub_key=[A-Za-z0-9_-]{44}$/);
      // A linked (non-primary) device cannot link others.
      await expect(phone.messenger.addDevice(uri)).rejects.toMatchObject({ code: ClientErrorCode.NotPrimary });
      await alice.messenger.addDevice(uri);
      expect(await link.exited).toBe(0);
      expect(link.lines.some((l) => /^linked as device 3 of link_alice/.test(l))).toBe(true);
    } finally {
      await link.kill();
    }
    const listed = await cove(dir, ['devices', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.lines).toEqual([
      expect.stringMatching(/^1\t\(unnamed\)\tcreated \d{4}-\d\d-\d\d\tlast active \d{4}-\d\d-\d\d$/),
      expect.stringMatching(/^2\tMy phone\t/),
      expect.stringMatching(/^3\tWork laptop\t.*\(this device\)$/),
    ]);
    // The server holds the names only encrypted.
    const rows = await server.query<{ name: Buffer | null }>('SELECT name FROM devices WHERE account_id = $1::uuid', [
      alice.accountId,
    ]);
    for (const row of rows) if (row.name) expect(row.name.toString('latin1')).not.toMatch(/phone|laptop/i);
    expect(rows.filter((r) => r.name !== null)).toHaveLength(2);
    laptop = await openClient('laptop', dir);
    clients.push(laptop);
    await laptop.messenger.connect();
    expect((await laptop.messenger.account()).deviceId).toBe(3);
  });

  it('should show every message of a conversation on every device, sent ones included', async () => {
    await bob.messenger.sendText('link_alice', 'from bob');
    for (const device of [alice, phone, laptop])
      await until(`${device.name} gets bob's message`, async () =>
        (await texts(device, bob.accountId, 'incoming')).includes('from bob'),
      );
    await alice.messenger.sendText('link_bob', 'from alice primary');
    await phone.messenger.sendText('link_bob', 'from alice phone');
    await laptop.messenger.sendText('link_bob', 'from alice laptop');
    const all = ['before linking', 'from alice primary', 'from alice phone', 'from alice laptop'];
    await until('bob gets all three', async () => {
      const got = await texts(bob, alice.accountId, 'incoming');
      return all.every((t) => got.includes(t));
    });
    const sentAfterLinking = all.slice(1);
    for (const device of [alice, phone, laptop]) {
      await until(`${device.name} shows every sent message`, async () => {
        const outgoing = await texts(device, bob.accountId, 'outgoing');
        return sentAfterLinking.every((t) => outgoing.includes(t));
      });
      const messages = await transcript(device, bob.accountId);
      // Each message once, from alice's account.
      for (const text of sentAfterLinking)
        expect(messages.filter((m) => m.text === text && m.authorAccountId === alice.accountId)).toHaveLength(1);
    }
    // Receipts from bob reach the transcripts on the other devices too.
    await bob.messenger.markRead(alice.accountId);
    await until('the phone sees the primary message read', async () => {
      const message = (await transcript(phone, bob.accountId)).find((m) => m.text === 'from alice primary');
      return message?.status === 'read';
    });
  });

  it('should send transcripts to a device that a primary which only sends (never connected) just linked', async () => {
    const carol = await newClient(server.url, 'link_carol');
    clients.push(carol);
    // Carol has sent before: she knows she has no other device, and she never connects to hear a new one announce.
    await carol.messenger.sendText('link_bob', 'carol alone');
    await carol.messenger.flushOutbox();
    const tablet = await openClient('tablet', await mkdtemp(join(tmpdir(), 'cove-link-tablet-')));
    clients.push(tablet);
    let added: Promise<void> = Promise.resolve();
    await tablet.messenger.linkNewDevice({
      serverUrl: server.url,
      oneTimePreKeys: 2,
      onLinkUri: (uri) => {
        added = carol.messenger.addDevice(uri);
      },
    });
    await added;
    await carol.messenger.sendText('link_bob', 'carol with a tablet');
    await carol.messenger.flushOutbox();
    await tablet.messenger.connect();
    await until('the tablet shows what carol sent after linking it', async () =>
      (await texts(tablet, bob.accountId, 'outgoing')).includes('carol with a tablet'),
    );
  });

  it('should clear unread on the other devices when one device reads', async () => {
    await bob.messenger.sendText('link_alice', 'read me once');
    for (const device of [alice, phone, laptop])
      await until(`${device.name} has it unread`, async () => {
        const conversation = (await device.messenger.conversations()).find((c) => c.peerAccountId === bob.accountId);
        return (await texts(device, bob.accountId)).includes('read me once') && (conversation?.unreadCount ?? 0) > 0;
      });
    expect(await laptop.messenger.markRead(bob.accountId)).toBeGreaterThan(0);
    for (const device of [alice, phone])
      await until(`${device.name} shows it read`, async () => {
        const conversation = (await device.messenger.conversations()).find((c) => c.peerAccountId === bob.accountId);
        return conversation?.unreadCount === 0;
      });
  });

  it("should carry a conversation's disappearing timer to the other devices", async () => {
    const conversationOf = async (client: TestClient) =>
      (await client.messenger.conversations()).find((c) => c.peerAccountId === bob.accountId);
    await phone.messenger.setExpireTimer(bob.accountId, 3600);
    for (const device of [alice, laptop]) {
      await until(`${device.name} takes the timer`, async () => (await conversationOf(device))?.expireTimerSeconds);
      expect((await conversationOf(device))?.expireTimerSeconds).toBe(3600);
      const line = (await transcript(device, bob.accountId)).find((m) => m.system?.kind === 'timer');
      expect(line).toMatchObject({ direction: 'outgoing', text: 'You set disappearing messages to 3600 s' });
      expect(line?.system).toMatchObject({ expireTimerSeconds: 3600 });
    }
    await until('bob takes the timer', async () =>
      (await bob.messenger.conversations()).some(
        (c) => c.peerAccountId === alice.accountId && c.expireTimerSeconds === 3600,
      ),
    );
    // The next message from another of alice's devices carries it.
    await alice.messenger.sendText('link_bob', 'after the timer');
    await until('bob gets it with the timer', async () =>
      (await transcript(bob, alice.accountId)).some(
        (m) => m.text === 'after the timer' && m.expireTimerSeconds === 3600,
      ),
    );
    await laptop.messenger.setExpireTimer(bob.accountId, null);
    for (const device of [alice, phone])
      await until(
        `${device.name} turns it off`,
        async () => (await conversationOf(device))?.expireTimerSeconds === null,
      );
  });

  it('should refuse a sent transcript or read sync forged by another account', async () => {
    const mallory = await RawDevice.register(server.url, 'link_mallory');
    const timestamp = Date.now();
    const forged = encodeContent({
      kind: 'sync',
      sync: { type: 'sent', destinationAccountId: bob.accountId, message: { text: 'forged by mallory', timestamp } },
    });
    expect((await mallory.send(alice.accountId, forged)).status).toBe(200);
    await until('alice refuses it', () =>
      alice.events.some(
        (e) => e.type === 'message-rejected' && e.accountId === mallory.accountId && e.reason === 'sync_refused',
      ),
    );
    expect(await texts(alice, bob.accountId)).not.toContain('forged by mallory');
    expect((await alice.messenger.conversations()).some((c) => c.peerAccountId === mallory.accountId)).toBe(false);
  });

  it('should close a removed device and stop delivering to it; peers drop it', async () => {
    await expect(laptop.messenger.removeDevice(2)).rejects.toMatchObject({ code: ClientErrorCode.NotPrimary });
    await alice.messenger.removeDevice(2);
    await until('the phone is told it was removed', () =>
      phone.events.some((e) => e.type === 'connection' && e.state === 'removed'),
    );
    expect((await alice.messenger.devices()).map((d) => d.deviceId)).toEqual([1, 3]);
    await bob.messenger.sendText('link_alice', 'after removal');
    for (const device of [alice, laptop])
      await until(`${device.name} still receives`, async () =>
        (await texts(device, bob.accountId)).includes('after removal'),
      );
    expect(await texts(phone, bob.accountId)).not.toContain('after removal');
    const bobsView = await bob.platform.storage.get('contacts', alice.accountId);
    expect(bobsView?.devices?.map((d) => d.deviceId)).toEqual([1, 3]);
  });

  it('should stop at 8 devices, and every device keeps receiving', async () => {
    const raw: RawDevice[] = [];
    const primary = (await alice.platform.storage.get('meta', 'account')) as {
      accountId: string;
      deviceId: number;
      secret: Uint8Array;
      identityKeyPair: Uint8Array;
    };
    const { IdentityKeyPair } = await import('@cove/crypto');
    const identity = IdentityKeyPair.deserialize(new Uint8Array(primary.identityKeyPair));
    for (let i = 0; i < 6; i++)
      raw.push(await RawDevice.link(server.url, { ...primary, secret: new Uint8Array(primary.secret) }, identity));
    expect(await alice.messenger.devices()).toHaveLength(8);
    const ninth = await openClient('ninth', await mkdtemp(join(tmpdir(), 'cove-link-ninth-')));
    clients.push(ninth);
    await expect(
      ninth.messenger.linkNewDevice({
        serverUrl: server.url,
        oneTimePreKeys: 0,
        onLinkUri: (uri) => {
          void alice.messenger.addDevice(uri);
        },
      }),
    ).rejects.toMatchObject({ code: ClientErrorCode.DeviceLimit });
    expect(ninth.messenger.isRegistered).toBe(false);
    await bob.messenger.sendText('link_alice', 'to eight devices');
    await until('the laptop gets it', async () => (await texts(laptop, bob.accountId)).includes('to eight devices'));
    for (const device of raw) {
      const received = await until('a raw device gets it', async () => {
        const got = await device.receive();
        return got.some((r) => r.content?.kind === 'data' && r.content.data.text === 'to eight devices') || null;
      });
      expect(received).toBe(true);
    }
  });
});
