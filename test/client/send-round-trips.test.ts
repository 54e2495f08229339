/**
 * Storage round trips on a send's critical path, counted as a browser pays them: reads asked for before the next
 * macrotask share one round (the PWA's one IndexedDB transaction); a read that waits for another's answer starts the
 * next. A repeat send to a peer reads the peer's contact, identity and sessions in one round, not one after another.
 * It does not measure time.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { TableName } from '@cove/client';
import { destroyClient, newClient, texts, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(120_000);

/** Makes `client`'s storage reads go in rounds and records the tables each round read, until the returned stop. */
const recordRounds = (client: TestClient): { rounds: Set<TableName>[]; stop: () => void } => {
  const storage = client.platform.storage;
  const get = storage.get.bind(storage);
  const rounds: Set<TableName>[] = [];
  let waiting: { table: TableName; go: () => void }[] = [];
  storage.get = (table: TableName, key: string) =>
    new Promise<void>((go) => {
      waiting.push({ table, go });
      if (waiting.length === 1)
        setTimeout(() => {
          const due = waiting;
          waiting = [];
          rounds.push(new Set(due.map((w) => w.table)));
          for (const w of due) w.go();
        }, 0);
    }).then(() => get(table, key));
  return { rounds, stop: () => (storage.get = get) };
};

describe('Storage round trips of a send', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'rounds_alice');
    bob = await newClient(server.url, 'rounds_bob');
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 120_000);

  afterAll(async () => {
    for (const client of [alice, bob]) if (client) await destroyClient(client);
    await server?.close();
  });

  it("should read a known peer's contact, identity and session in one round when sending to them again", async () => {
    await alice.messenger.sendText('rounds_bob', 'first: makes the session');
    await alice.messenger.flushOutbox();
    await until('bob has it', async () => (await texts(bob, alice.accountId)).includes('first: makes the session'));

    // Nothing else under way on Alice's side: Bob's delivery receipt is in.
    await until(
      'the first is delivered',
      async () =>
        (await transcript(alice, bob.accountId)).find((m) => m.text === 'first: makes the session')?.status ===
        'delivered',
    );

    // Bob offline while Alice's rounds are counted: he gets the second message, and sends his receipts for it, only
    // after. A receipt he sends sealed names its sender only once unsealed, so its decryption cannot fetch ahead with
    // its checks; arriving while Alice sends, it would be counted as part of her send.
    await bob.messenger.disconnect();
    const { rounds, stop } = recordRounds(alice);
    let stored: number;
    try {
      await alice.messenger.sendText(bob.accountId, 'second: a known peer');
      stored = rounds.length;
      await alice.messenger.flushOutbox();
    } finally {
      stop();
      await bob.messenger.connect();
    }
    // Storing it: what the message carries (profile key, timer) is read with the contact and conversation.
    expect(rounds.slice(0, stored).filter((r) => r.has('conversations'))).toHaveLength(1);
    await until('bob has the second', async () => (await texts(bob, alice.accountId)).includes('second: a known peer'));
    // Sending it: the encryption's rows came with the contact (one round), not in rounds of their own after it.
    const withSessions = rounds.filter((r) => r.has('sessions')).map((r) => [...r].sort());
    expect(withSessions.length).toBeGreaterThan(0);
    for (const round of withSessions) expect(round).toEqual(expect.arrayContaining(['contacts', 'identities']));
  });
});
