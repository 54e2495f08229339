/**
 * Message requests and the block list between Node clients on one real server: a stranger's first message is a
 * request (no read receipt, no typing either way until accepted; accepting sends the held-back receipts); a group a
 * stranger adds us to is a request; blocking drops a sender's direct and group messages unseen while the sender
 * sees nothing but a message that stays "sent"; sending to a blocked peer is refused; unblocking resumes on the
 * same sessions; deleting a request removes it and its history; local search finds messages in them.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode } from '@cove/client';
import { destroyClient, newClient, texts, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(180_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('Message requests and blocking', () => {
  let server: TestServer;
  let bob: TestClient;
  let carol: TestClient;
  let mallory: TestClient;
  let dave: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    bob = await newClient(server.url, 'rq_bob');
    carol = await newClient(server.url, 'rq_carol');
    mallory = await newClient(server.url, 'rq_mallory');
    dave = await newClient(server.url, 'rq_dave');
    await Promise.all([bob, carol, mallory, dave].map((c) => c.messenger.connect()));
  }, 180_000);

  afterAll(async () => {
    for (const client of [bob, carol, mallory, dave]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should hold a stranger in Requests without read receipts or typing until accepted', async () => {
    const sent = await carol.messenger.sendText('rq_bob', 'hello stranger 你好世界');
    await until('bob has it', async () => (await texts(bob, carol.accountId)).includes('hello stranger 你好世界'));
    const requests = await bob.messenger.requests();
    expect(requests.map((c) => c.peerAccountId)).toEqual([carol.accountId]);
    expect(requests[0]?.peerUsername).toBe('rq_carol');
    expect(await bob.messenger.isAccepted(carol.accountId)).toBe(false);
    // Carol wrote first: Bob is her contact.
    expect(await carol.messenger.isAccepted(bob.accountId)).toBe(true);
    await until('delivered', async () => (await carol.messenger.message(sent.id))?.status === 'delivered');

    // Typing from a stranger is dropped; Bob's typing does not go out to a request.
    expect(await carol.messenger.sendTyping('rq_bob', 'started')).toBe(true);
    expect(await bob.messenger.sendTyping(carol.accountId, 'started')).toBe(false);

    // Bob reads it: no read receipt reaches Carol.
    expect(await bob.messenger.markRead(carol.accountId)).toBe(1);
    await bob.messenger.flushOutbox();
    await sleep(1_000);
    expect((await carol.messenger.message(sent.id))?.status).toBe('delivered');
    expect(bob.events.some((e) => e.type === 'typing')).toBe(false);

    // Accepting sends the receipt held back; from then on typing flows both ways.
    await bob.messenger.accept(carol.accountId);
    await until('read after accept', async () => (await carol.messenger.message(sent.id))?.status === 'read');
    expect(await bob.messenger.requests()).toEqual([]);
    expect(await bob.messenger.isAccepted('rq_carol')).toBe(true);
    expect(await carol.messenger.sendTyping('rq_bob', 'started')).toBe(true);
    await until('bob sees carol typing', () =>
      bob.events.some((e) => e.type === 'typing' && e.accountId === carol.accountId),
    );

    // Search finds the message by a Chinese word inside the sentence and by an English word start.
    const zh = await bob.messenger.search('世界');
    expect(zh.some((r) => r.kind === 'message' && r.snippet.some((p) => p.match && p.text === '世界'))).toBe(true);
    const en = await bob.messenger.search('STRANG');
    expect(en.some((r) => r.kind === 'message' && r.conversationId === `direct:${carol.accountId}`)).toBe(true);
    expect((await bob.messenger.search('rq_car')).some((r) => r.kind === 'conversation')).toBe(true);
  });

  it('should drop a blocked sender’s messages unseen, refuse sending to them, and resume on unblock', async () => {
    const first = await mallory.messenger.sendText('rq_bob', 'buy my stuff');
    await until('bob has the request', async () => (await bob.messenger.requests()).length === 1);
    await until('delivered', async () => (await mallory.messenger.message(first.id))?.status === 'delivered');
    expect(await bob.messenger.block(mallory.accountId)).toBe(true);
    expect(await bob.messenger.block('rq_mallory')).toBe(false);
    expect((await bob.messenger.blocked()).map((b) => b.accountId)).toEqual([mallory.accountId]);
    // A blocked peer's request is not shown, and search leaves their conversation out.
    expect(await bob.messenger.requests()).toEqual([]);
    expect(await bob.messenger.search('stuff')).toEqual([]);

    const eventsBefore = bob.events.length;
    const dropped = await mallory.messenger.sendText('rq_bob', 'are you there?');
    // Mallory's side: accepted by the server, no error, and never delivered.
    await until('sent', async () => (await mallory.messenger.message(dropped.id))?.status === 'sent');
    await sleep(2_000);
    expect((await mallory.messenger.message(dropped.id))?.status).toBe('sent');
    expect(await texts(bob, mallory.accountId)).not.toContain('are you there?');
    expect(
      bob.events
        .slice(eventsBefore)
        .some((e) => e.type === 'message-added' || e.type === 'typing' || e.type === 'message-rejected'),
    ).toBe(false);
    await expect(bob.messenger.sendText('rq_mallory', 'go away')).rejects.toMatchObject({
      code: ClientErrorCode.Blocked,
    });

    // A blocked member's group message is dropped too (Dave, a group member, still gets it).
    await bob.messenger.unblock(mallory.accountId);
    await bob.messenger.accept(mallory.accountId);
    const group = await bob.messenger.createGroup('rq group', ['rq_mallory', 'rq_dave']);
    await bob.messenger.flushOutbox();
    await until('mallory has the group', async () => (await mallory.messenger.group(group.id))?.active === true);
    await until('dave has the group', async () => (await dave.messenger.group(group.id))?.active === true);
    expect(await bob.messenger.block(mallory.accountId)).toBe(true);
    await mallory.messenger.sendGroupText(group.id, 'group spam');
    await mallory.messenger.flushOutbox();
    await until('dave gets it', async () =>
      (await dave.messenger.messages(`group:${group.id}`, { limit: 50 })).messages.some((m) => m.text === 'group spam'),
    );
    await sleep(1_000);
    const bobGroup = (await bob.messenger.messages(`group:${group.id}`, { limit: 50 })).messages;
    expect(bobGroup.some((m) => m.text === 'group spam')).toBe(false);

    // Unblocked: the same sessions carry on.
    expect(await bob.messenger.unblock('rq_mallory')).toBe(true);
    expect(await bob.messenger.blocked()).toEqual([]);
    await mallory.messenger.sendText('rq_bob', 'after unblock');
    await until('bob gets it', async () => (await texts(bob, mallory.accountId)).includes('after unblock'));
    expect(await texts(bob, mallory.accountId)).not.toContain('are you there?');
  });

  it('should make a stranger’s group invitation a request, and delete a request with its history', async () => {
    const group = await dave.messenger.createGroup('strangers', ['rq_carol']);
    await dave.messenger.flushOutbox();
    const conversationId = `group:${group.id}`;
    const request = await until('carol has the invitation', async () =>
      (await carol.messenger.requests()).find((c) => c.id === conversationId),
    );
    expect(request.invitedBy).toBe(dave.accountId);
    expect(await carol.messenger.isAccepted(conversationId)).toBe(false);
    await carol.messenger.accept(conversationId);
    expect(await carol.messenger.isAccepted(conversationId)).toBe(true);

    // Dave writes 1:1 to Carol: a request (a shared group does not make him a contact); Carol deletes it.
    await dave.messenger.sendText('rq_carol', 'private hello');
    await until('carol has it', async () => (await texts(carol, dave.accountId)).includes('private hello'));
    expect(await carol.messenger.deleteConversation(dave.accountId)).toBe(true);
    expect(await texts(carol, dave.accountId)).toEqual([]);
    expect((await carol.messenger.conversations()).some((c) => c.id === `direct:${dave.accountId}`)).toBe(false);
    expect(carol.events.some((e) => e.type === 'conversation-removed')).toBe(true);
    // Still a stranger: the next message is a request again.
    await dave.messenger.sendText('rq_carol', 'hello again');
    await until('a request again', async () =>
      (await carol.messenger.requests()).some((c) => c.peerAccountId === dave.accountId),
    );
  });
});
