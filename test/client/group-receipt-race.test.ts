/**
 * A member's delivery receipt applied while the outbox marks our group message sent: the row must end up `sent` with
 * the receipt, never back at `sending`. Three Node clients on the real server (Cat stays offline, so Ben's receipt
 * alone does not make the message delivered). Ann's two commits are made to meet (support/commit-race.ts), so that
 * both read the row before either writes it every run instead of once in many (seen in test/pwa/groups.test.ts: a CLI
 * group send the server had taken was reported queued, because the receipt, applied under its sender's lock only,
 * wrote back the row it had read before the outbox's commit). It does not test receipts of 1:1 messages (their rows
 * share the peer's lock with the outbox already).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { MessageEntry, WriteOp } from '@cove/client';

import { destroyClient, newClient, until } from '../support/clients.js';
import { meetCommits } from '../support/commit-race.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: a generous limit (nothing here asserts on time). */
jest.setTimeout(300_000);

/** The rows of our own messages in `conversationId` that a batch writes. */
const ownRows = (batch: readonly WriteOp[], conversationId: string): MessageEntry[] =>
  batch.flatMap((op) => {
    if (op.op !== 'put' || op.table !== 'messages') return [];
    const row = op.value;
    return row.conversationId === conversationId && row.direction === 'outgoing' && row.system === undefined
      ? [row]
      : [];
  });

describe('a group receipt racing the outbox', () => {
  let server: TestServer;
  let ann: TestClient;
  let ben: TestClient;
  let cat: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    ann = await newClient(server.url, 'race_ann', { oneTimePreKeys: 5 });
    ben = await newClient(server.url, 'race_ben', { oneTimePreKeys: 5 });
    cat = await newClient(server.url, 'race_cat', { oneTimePreKeys: 5 });
    await Promise.all([ann, ben].map((c) => c.messenger.connect()));
  }, 300_000);

  afterAll(async () => {
    for (const client of [ann, ben, cat]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should keep the message sent, with the receipt, when the receipt is applied while it is marked sent', async () => {
    const group = await ann.messenger.createGroup('Receipt race', ['race_ben', 'race_cat']);
    await until('ben joins', async () => (await ben.messenger.group(group.id))?.revision === 0);
    await ann.messenger.flushOutbox();
    const conversationId = `group:${group.id}`;

    // The outbox's commit (the message marked sent, its entry deleted) and the receipt's (the row with Ben's receipt,
    // the envelope marked processed) meet.
    const race = meetCommits(
      ann.platform,
      {
        name: 'sent',
        matches: (batch) =>
          batch.some((op) => op.op === 'delete' && op.table === 'outbox') &&
          ownRows(batch, conversationId).some((row) => row.status === 'sent'),
      },
      {
        name: 'receipt',
        matches: (batch) =>
          batch.some((op) => op.op === 'put' && op.table === 'processedEnvelopes') &&
          ownRows(batch, conversationId).some((row) => (row.receipts ?? []).length > 0),
      },
    );

    const sent = await ann.messenger.sendGroupText(group.id, 'who got this?');
    await ann.messenger.flushOutbox();
    await until(
      "ben's receipt applied on ann's side",
      () =>
        race.order.length === 2 &&
        ann.events.some((e) => e.type === 'receipt' && e.timestamps.includes(sent.timestamp)),
      120_000,
    );
    const message = await ann.messenger.message(sent.id);
    expect(message?.receipts?.map((r) => r.accountId)).toEqual([ben.accountId]);
    // Cat has not got it yet: sent, not delivered. Before the fix, `sending` for good (its outbox entry gone).
    expect(message?.status).toBe('sent');
    expect(await ann.messenger.outboxSize()).toBe(0);
  });
});
