/**
 * Disappearing messages per 1:1 conversation and drafts, between two Node clients on a real server: one side sets
 * the timer, both store the system line and the timer, every later message from either side carries it and
 * disappears on both sides when it runs out (their clocks moved past it); turning it off stops that. A timer out of
 * range, a group id or oneself is refused. Drafts are kept per conversation in the (sealed) meta table, a blank
 * one removes the row, and a hostile conversation id or an over-long draft is refused.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode, draftKey } from '@cove/client';
import { systemClock } from '@cove/client/node';
import { MAX_EXPIRE_SECONDS, MAX_TEXT_BYTES } from '@cove/protocol';
import { destroyClient, newClient, texts, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(120_000);

describe('Disappearing-message timer and drafts', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  /** Both clients' clocks run this far ahead when the test moves time. */
  let offset = 0;
  const clock = { ...systemClock, now: () => Date.now() + offset };

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'timer_alice', { clock });
    bob = await newClient(server.url, 'timer_bob', { clock });
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 120_000);

  afterAll(async () => {
    for (const client of [alice, bob]) if (client) await destroyClient(client);
    await server?.close();
  });

  const conversationOf = async (client: TestClient, peer: string) =>
    (await client.messenger.conversations()).find((c) => c.peerAccountId === peer);

  it('should set the timer on both sides, carry it on later messages both ways and expire them', async () => {
    await alice.messenger.sendText('timer_bob', 'before the timer');
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('before the timer'));

    const line = await bob.messenger.setExpireTimer(alice.accountId, 3600);
    expect(line.system).toMatchObject({ kind: 'timer', expireTimerSeconds: 3600 });
    expect((await conversationOf(bob, alice.accountId))?.expireTimerSeconds).toBe(3600);
    await until('alice takes the timer', async () => (await conversationOf(alice, bob.accountId))?.expireTimerSeconds);
    expect((await conversationOf(alice, bob.accountId))?.expireTimerSeconds).toBe(3600);
    const aliceLine = (await transcript(alice, bob.accountId)).find((m) => m.system?.kind === 'timer');
    expect(aliceLine).toMatchObject({ direction: 'incoming', read: true, expireTimerSeconds: null });
    expect(aliceLine?.text).toBe('timer_bob set disappearing messages to 3600 s');
    // A system line is not an unread message.
    expect((await conversationOf(alice, bob.accountId))?.unreadCount).toBe(0);

    const fromAlice = await alice.messenger.sendText('timer_bob', 'vanishes from alice');
    const fromBob = await bob.messenger.sendText('timer_alice', 'vanishes from bob');
    expect(fromAlice.expireTimerSeconds).toBe(3600);
    expect(fromBob.expireTimerSeconds).toBe(3600);
    await until('bob gets it', async () => (await texts(bob, alice.accountId)).includes('vanishes from alice'));
    await until('alice gets it', async () => (await texts(alice, bob.accountId)).includes('vanishes from bob'));
    const received = (await transcript(bob, alice.accountId)).find((m) => m.text === 'vanishes from alice');
    expect(received?.expireTimerSeconds).toBe(3600);

    offset = 3_601_000;
    for (const [client, peer] of [
      [alice, bob.accountId],
      [bob, alice.accountId],
    ] as const) {
      const left = await texts(client, peer);
      expect(left).toContain('before the timer');
      expect(left).not.toContain('vanishes from alice');
      expect(left).not.toContain('vanishes from bob');
      // The timer lines themselves stay.
      expect((await transcript(client, peer)).filter((m) => m.system?.kind === 'timer')).toHaveLength(1);
    }

    await alice.messenger.setExpireTimer(bob.accountId, null);
    await until(
      'bob turned off',
      async () => (await conversationOf(bob, alice.accountId))?.expireTimerSeconds === null,
    );
    const lines = (await transcript(bob, alice.accountId)).filter((m) => m.system?.kind === 'timer');
    expect(lines.at(-1)?.text).toBe('timer_alice turned off disappearing messages');
    const after = await bob.messenger.sendText('timer_alice', 'stays now');
    expect(after.expireTimerSeconds).toBeNull();
  });

  it('should refuse a timer out of range, for a group id or for oneself', async () => {
    for (const bad of [-1, 1.5, MAX_EXPIRE_SECONDS + 1, Number.NaN])
      await expect(alice.messenger.setExpireTimer(bob.accountId, bad)).rejects.toMatchObject({
        code: ClientErrorCode.InvalidInput,
      });
    await expect(alice.messenger.setExpireTimer(`group:${'ab'.repeat(32)}`, 30)).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
    await expect(alice.messenger.setExpireTimer(alice.accountId, 30)).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
  });

  it('should keep drafts per conversation and refuse hostile ones', async () => {
    const id = `direct:${bob.accountId}`;
    await alice.messenger.setDraft(id, 'unsent 草稿');
    expect(await alice.messenger.draft(id)).toBe('unsent 草稿');
    expect(await alice.platform.storage.get('meta', draftKey(id))).toBe('unsent 草稿');
    expect(await alice.messenger.draft(`direct:${alice.accountId}`)).toBe('');
    await alice.messenger.setDraft(id, '   ');
    expect(await alice.platform.storage.get('meta', draftKey(id))).toBeUndefined();
    for (const bad of ['', 'direct:x/../meta', 'a/b'])
      await expect(alice.messenger.setDraft(bad, 'x')).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    await expect(alice.messenger.setDraft(id, 'x'.repeat(MAX_TEXT_BYTES + 1))).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
  });

  it("should remove a composer's draft in the commit that stores the sent message, and keep it otherwise", async () => {
    const id = `direct:${bob.accountId}`;
    await alice.messenger.setDraft(id, 'the text about to go');
    // Sent without the composer (another caller): the draft stays.
    await alice.messenger.sendText(bob.accountId, 'not from the composer');
    expect(await alice.messenger.draft(id)).toBe('the text about to go');
    const storage = alice.platform.storage;
    const commit = storage.commit.bind(storage);
    const batches: { table: string; key: string; op: string }[][] = [];
    storage.commit = (batch) => {
      batches.push(batch.map(({ table, key, op }) => ({ table, key, op })));
      return commit(batch);
    };
    try {
      const sent = await alice.messenger.sendText(bob.accountId, 'the text about to go', { clearDraft: true });
      expect(await alice.messenger.draft(id)).toBe('');
      // One commit: the message with its outbox entry, and the draft gone with them (a crash keeps both or neither).
      const stored = batches.find((b) => b.some((w) => w.table === 'messages' && w.key === sent.id));
      expect(stored).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ table: 'outbox', op: 'put' }),
          { table: 'meta', key: draftKey(id), op: 'delete' },
        ]),
      );
      expect(batches.filter((b) => b.some((w) => w.table === 'meta' && w.key === draftKey(id)))).toHaveLength(1);
    } finally {
      storage.commit = commit;
    }
  });
});
