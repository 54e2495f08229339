/**
 * Two races of device sync, each made to happen every run. Alice, her linked phone and Bob are Node clients on the
 * real server. First, the full sync a just-linked device asks for must reach it although Alice's stored list of her
 * own devices was read from the server just before the phone registered (seen in test/client/device-sync.test.ts
 * under load: a prekey upkeep refreshed the list in that gap, the full sync went to no device, and the phone never got
 * the group, nickname or settings); the test writes that stale list itself. Second, a sibling's contact sync applied
 * while a profile fetch of that contact commits: both changes must stay, the synced nickname and the fetched profile;
 * the phone's two commits are made to meet (support/commit-race.ts), so that both read Bob's contact row before
 * either writes it (seen in the same test: the wait for a synced nickname timed out, the sync having been applied
 * under the own account's lock only while the test's polling fetched Bob's profile under his lock and wrote back the
 * row it had read before). It does not test the other sync kinds one by one (they share that locking: device-sync.ts,
 * syncRowLocks).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { ContactEntry, WriteOp } from '@cove/client';

import { destroyClient, newClient, openClient, texts, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { meetCommits } from '../support/commit-race.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: a generous limit (nothing here asserts on time). */
jest.setTimeout(300_000);
const WAIT_MS = 120_000;

/** Bob's contact row as a batch writes it, if it does. */
const contactRow = (batch: readonly WriteOp[], accountId: string): ContactEntry | undefined => {
  const op = batch.find((o) => o.op === 'put' && o.table === 'contacts' && o.key === accountId);
  return op?.op === 'put' ? (op.value as ContactEntry) : undefined;
};

describe('a contact sync racing a profile fetch', () => {
  let server: TestServer;
  let alice: TestClient;
  let phone: TestClient;
  let bob: TestClient;
  let phoneDeviceId = 0;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'srace_alice');
    bob = await newClient(server.url, 'srace_bob');
    clients.push(alice, bob);
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    await bob.messenger.setProfile({ name: 'Bob Profile' });
    await bob.messenger.sendText('srace_alice', 'hello alice');
    await until('alice has it', async () => (await texts(alice, bob.accountId)).includes('hello alice'), WAIT_MS);
    await alice.messenger.accept(bob.accountId);

    phone = await openClient('srace_phone', await mkdtemp(join(tmpdir(), 'cove-srace-phone-')));
    clients.push(phone);
    let added: Promise<void> = Promise.resolve();
    const account = await phone.messenger.linkNewDevice({
      serverUrl: server.url,
      oneTimePreKeys: 4,
      onLinkUri: (uri) => {
        added = alice.messenger.addDevice(uri);
      },
    });
    phone.accountId = account.accountId;
    phoneDeviceId = account.deviceId;
    await added;
    // Alice's list of her other devices as a refresh just before the phone registered left it: none. (The phone has
    // not connected yet: its request for a full sync is still in its outbox.)
    const self = await alice.platform.storage.get('contacts', alice.accountId);
    await alice.platform.storage.commit([
      { op: 'put', table: 'contacts', key: alice.accountId, value: { ...self!, devices: [] } },
    ]);
    await phone.messenger.connect();
  }, 300_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  it("should bring the just-linked phone the full sync although alice's own device list was stale", async () => {
    // Bob's profile key (what the profile fetch below needs) came with the link already.
    await until(
      "the phone has bob's profile key",
      async () => (await phone.platform.storage.get('contacts', bob.accountId))?.profileKey,
      WAIT_MS,
    );
    // Conversations come only with the full sync (the link brings contacts, not conversations).
    await until(
      'the phone has the conversation with bob',
      async () => (await phone.messenger.conversations()).some((c) => c.id === `direct:${bob.accountId}`),
      WAIT_MS,
    );
    // And alice is told of the phone: its request came from a device her stored list lacked, which she then forgot
    // (the refresh after it has no list to compare with, so it cannot be what tells her).
    await until(
      'alice is told of the phone',
      () => alice.events.some((e) => e.type === 'own-device-added' && e.deviceId === phoneDeviceId),
      WAIT_MS,
    );
  });

  it('should keep both the synced nickname and the fetched profile', async () => {
    const race = meetCommits(
      phone.platform,
      {
        name: 'sync',
        matches: (batch) =>
          batch.some((op) => op.op === 'put' && op.table === 'processedEnvelopes') &&
          contactRow(batch, bob.accountId)?.nickname === 'Bobby',
      },
      {
        name: 'profile',
        matches: (batch) =>
          !batch.some((op) => op.op === 'put' && op.table === 'processedEnvelopes') &&
          contactRow(batch, bob.accountId)?.profile !== undefined,
      },
    );
    await alice.messenger.setNickname('srace_bob', 'Bobby');
    // Once the sync's commit waits, a profile fetch of Bob on the phone (as a contact view asks for).
    let syncHeld = false;
    void race.held('sync').then(() => (syncHeld = true));
    await until('the sync commit waits', () => syncHeld, WAIT_MS);
    const view = await phone.messenger.contact(bob.accountId, { refresh: true });
    expect(view.profileName).toBe('Bob Profile');
    await until('both commits applied', () => race.order.length === 2, WAIT_MS);
    const contact = await phone.platform.storage.get('contacts', bob.accountId);
    // Before the fix, the profile's commit wrote back the row it had read before the sync's: no nickname, for good.
    expect(contact?.nickname).toBe('Bobby');
    expect(contact?.profile?.name).toBe('Bob Profile');
  });
});
