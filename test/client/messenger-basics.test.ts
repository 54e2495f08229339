/**
 * Two and three Node clients on one real server: register, look up, chat both ways, receipts, history paging.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode } from '@cove/client';
import { systemClock } from '@cove/client/node';
import { IdentityKeyPair } from '@cove/crypto';
import { findOnServer } from '../support/canary.js';
import { destroyClient, newClient, texts, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(120_000);
describe('Messenger between Node clients', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'alice');
    bob = await newClient(server.url, 'bob');
    carol = await newClient(server.url, 'carol');
    await Promise.all([alice.messenger.connect(), bob.messenger.connect(), carol.messenger.connect()]);
  }, 120_000);

  afterAll(async () => {
    for (const client of [alice, bob, carol]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should look up users by username and refuse unknown ones', async () => {
    expect(await alice.messenger.resolve('bob')).toBe(bob.accountId);
    expect(await alice.messenger.resolve('BOB')).toBe(bob.accountId);
    await expect(alice.messenger.resolve('nobody_here')).rejects.toMatchObject({ code: ClientErrorCode.UnknownUser });
  });

  it('should chat both ways with statuses reaching delivered, then read', async () => {
    const sent = await alice.messenger.sendText('bob', 'hello bob');
    expect(sent.status).toBe('sending');
    await until('bob receives', async () => (await texts(bob, alice.accountId)).includes('hello bob'));
    await until('delivered', async () => (await alice.messenger.message(sent.id))?.status === 'delivered');

    await bob.messenger.sendText('alice', 'hi alice');
    await until('alice receives', async () => (await texts(alice, bob.accountId)).includes('hi alice'));

    const conversation = (await bob.messenger.conversations()).find((c) => c.peerAccountId === alice.accountId);
    expect(conversation?.unreadCount).toBe(1);
    expect(await bob.messenger.markRead(alice.accountId)).toBe(1);
    await until('read', async () => (await alice.messenger.message(sent.id))?.status === 'read');
    expect((await bob.messenger.conversations()).find((c) => c.peerAccountId === alice.accountId)?.unreadCount).toBe(0);
    expect(alice.events.some((e) => e.type === 'receipt' && e.receiptType === 'read')).toBe(true);
  });

  it('should keep three-way conversations apart', async () => {
    await carol.messenger.sendText('alice', 'carol to alice');
    await carol.messenger.sendText('bob', 'carol to bob');
    await until('alice gets carol', async () => (await texts(alice, carol.accountId)).includes('carol to alice'));
    await until('bob gets carol', async () => (await texts(bob, carol.accountId)).includes('carol to bob'));
    expect(await texts(alice, carol.accountId)).toEqual(['carol to alice']);
    expect(await texts(bob, carol.accountId)).toEqual(['carol to bob']);
    const conversations = await alice.messenger.conversations();
    expect(conversations.map((c) => c.peerAccountId).sort()).toEqual([bob.accountId, carol.accountId].sort());
  });

  it('should page history newest first', async () => {
    for (let i = 0; i < 7; i += 1) await alice.messenger.sendText('carol', `page ${i}`);
    await until('carol has all', async () => (await texts(carol, alice.accountId, 'incoming')).length === 7);
    const first = await carol.messenger.messages(alice.accountId, { limit: 3 });
    expect(first.messages.map((m) => m.text)).toEqual(['page 6', 'page 5', 'page 4']);
    const second = await carol.messenger.messages(alice.accountId, { limit: 3, before: first.nextCursor! });
    expect(second.messages.map((m) => m.text)).toEqual(['page 3', 'page 2', 'page 1']);
    const third = await carol.messenger.messages(alice.accountId, { limit: 3, before: second.nextCursor! });
    // The oldest entry is carol's own message from the previous test.
    expect(third.messages.map((m) => m.text)).toEqual(['page 0', 'carol to alice']);
    expect(third.nextCursor).toBeNull();
    const incoming = (await transcript(carol, alice.accountId)).filter((m) => m.direction === 'incoming');
    expect(incoming.every((m) => m.status === 'received')).toBe(true);
  });

  it('should show the same safety number on both sides and mark it verified', async () => {
    const fromAlice = await alice.messenger.safetyNumber('bob');
    const fromBob = await bob.messenger.safetyNumber('alice');
    expect(fromAlice.digits).toMatch(/^\d{60}$/);
    expect(fromAlice.digits).toBe(fromBob.digits);
    expect((await alice.messenger.identity('bob')).trust).toBe('trusted-first-use');
    await expect(alice.messenger.verify('bob', '1'.repeat(60))).rejects.toMatchObject({
      code: ClientErrorCode.IdentityChanged,
    });
    expect((await alice.messenger.verify('bob', fromBob.digits)).trust).toBe('verified');
    expect((await alice.messenger.identity('bob')).trust).toBe('verified');
  });

  it('should carry quotes and typing indicators', async () => {
    const original = await alice.messenger.sendText('bob', 'quote me');
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('quote me'));
    const quote = { timestamp: original.timestamp, authorAccountId: alice.accountId, text: 'quote me' };
    await bob.messenger.sendText('alice', 'quoting you', { quote });
    const reply = await until('alice has the reply', async () =>
      (await transcript(alice, bob.accountId)).find((m) => m.text === 'quoting you'),
    );
    expect(reply.quote).toEqual(quote);

    expect(await alice.messenger.sendTyping('bob', 'started')).toBe(true);
    await until('bob sees alice typing', () =>
      bob.events.some((e) => e.type === 'typing' && e.accountId === alice.accountId && e.action === 'started'),
    );
  });

  it('should make disappearing messages disappear when their timer runs out', async () => {
    let offset = 0;
    const clock = { ...systemClock, now: () => Date.now() + offset };
    const dave = await newClient(server.url, 'dave', { clock });
    try {
      await dave.messenger.connect();
      await alice.messenger.sendText('dave', 'this will vanish', { expireTimerSeconds: 60 });
      await alice.messenger.sendText('dave', 'this will stay');
      await until('dave has both', async () => (await texts(dave, alice.accountId)).length === 2);
      const vanishing = (await transcript(dave, alice.accountId)).find((m) => m.text === 'this will vanish')!;
      expect(vanishing.expireTimerSeconds).toBe(60);
      expect(await dave.messenger.sweepExpired()).toBe(0);

      offset = 61_000;
      expect(await texts(dave, alice.accountId)).toEqual(['this will stay']);
      expect(await dave.messenger.sweepExpired()).toBe(1);
      expect(await dave.platform.storage.get('messages', vanishing.id)).toBeUndefined();
      expect(dave.events.some((e) => e.type === 'message-removed' && e.messageId === vanishing.id)).toBe(true);
    } finally {
      await destroyClient(dave);
    }
  });

  it('should receive over HTTP without a socket (a woken service worker) and send receipts', async () => {
    const eve = await newClient(server.url, 'eve');
    try {
      const first = await alice.messenger.sendText('eve', 'fetched over http 1');
      await alice.messenger.sendText('eve', 'fetched over http 2');
      await until('sent', async () => (await alice.messenger.outboxSize()) === 0);
      expect(await eve.messenger.fetchPending()).toEqual(['stored', 'stored']);
      expect(await texts(eve, alice.accountId)).toEqual(['fetched over http 1', 'fetched over http 2']);
      await until('delivered', async () => (await alice.messenger.message(first.id))?.status === 'delivered');
      expect(await eve.messenger.fetchPending()).toEqual([]);
    } finally {
      await destroyClient(eve);
    }
  });

  it('should leave no plaintext, private key or credential on the server (canary)', async () => {
    const canary = 'canary-e2e-5d1b0f9a-secret words';
    await alice.messenger.sendText('bob', canary);
    await until('bob has the canary', async () => (await texts(bob, alice.accountId)).includes(canary));
    const secrets: (string | Uint8Array)[] = [canary, 'hello bob', 'hi alice', 'carol to alice', 'page 3'];
    for (const client of [alice, bob, carol]) {
      const account = (await client.platform.storage.get<{ identityKeyPair: Uint8Array; secret: Uint8Array }>(
        'meta',
        'account',
      ))!;
      secrets.push(
        IdentityKeyPair.deserialize(new Uint8Array(account.identityKeyPair)).privateKey.serialize(),
        account.secret,
      );
    }
    expect(await findOnServer(server, secrets)).toEqual([]);
  });
});
