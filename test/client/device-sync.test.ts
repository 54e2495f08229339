/**
 * Sync between one's own devices, on a real server (docs/linking.md): a device linked after contacts, nicknames,
 * settings and a group were made converges on all of them (the full sync sent when a sibling appears); afterwards
 * every change on one device reaches the other — nicknames, verified states, the block list (a blocked sender's
 * messages are dropped on both), message requests accepted and deleted, mute/pin/archive, reactions, edits and
 * deletes for everyone, profile edits and key rotations, group changes — and syncs forged by another account are
 * refused and change nothing.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { encodeContent } from '@cove/protocol';
import type { TestClient } from '../support/clients.js';
import { destroyClient, newClient, openClient, texts, transcript, until } from '../support/clients.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous limits (never a timing assertion). */
jest.setTimeout(180_000);
const WAIT_MS = 60_000;

describe('sync between one account’s devices', () => {
  let server: TestServer;
  let alice: TestClient;
  let phone: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let groupId: string;
  const clients: TestClient[] = [];

  const chatSettings = (client: TestClient, conversationId: string) =>
    client.platform.storage.get('meta', `chat/${conversationId}`) as Promise<
      { mutedUntil: number | null; pinnedAt: number | null; archivedAfter: string | null } | undefined
    >;
  const conversationWith = async (client: TestClient, peer: string) =>
    (await client.messenger.conversations()).find((c) => c.id === `direct:${peer}`);
  const messageOn = async (client: TestClient, peer: string, text: string) =>
    (await transcript(client, peer)).find((m) => m.text === text || m.edits?.some((e) => e.text === text));

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'sync_alice');
    bob = await newClient(server.url, 'sync_bob');
    carol = await newClient(server.url, 'sync_carol');
    clients.push(alice, bob, carol);
    await Promise.all([alice.messenger.connect(), bob.messenger.connect(), carol.messenger.connect()]);

    // Before the phone exists: a conversation, a nickname, a muted chat and a group.
    await bob.messenger.sendText('sync_alice', 'hello alice');
    await until('alice has it', async () => (await texts(alice, bob.accountId)).includes('hello alice'), WAIT_MS);
    await alice.messenger.accept(bob.accountId);
    await alice.messenger.sendText('sync_bob', 'hello bob');
    await alice.messenger.setNickname('sync_bob', 'Bobby');
    expect(
      await alice.messenger.setChatPreference(`direct:${bob.accountId}`, {
        kind: 'mute',
        until: Date.now() + 3_600_000,
      }),
    ).toBe('ok');
    groupId = (await alice.messenger.createGroup('Made before linking', ['sync_bob'])).id;
    await alice.messenger.flushOutbox();

    phone = await openClient('sync_phone', await mkdtemp(join(tmpdir(), 'cove-sync-phone-')));
    clients.push(phone);
    const account = await phone.messenger.linkNewDevice({
      serverUrl: server.url,
      oneTimePreKeys: 4,
      onLinkUri: (uri) => {
        void alice.messenger.addDevice(uri);
      },
    });
    phone.accountId = account.accountId;
    await phone.messenger.connect();
  }, 240_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  it('should bring a newly linked device the groups, nicknames and settings made before it', async () => {
    await until('the phone holds the group', async () => (await phone.messenger.group(groupId))?.active, WAIT_MS);
    expect((await phone.messenger.group(groupId))?.title).toBe('Made before linking');
    expect((await phone.messenger.conversations()).some((c) => c.id === `group:${groupId}`)).toBe(true);
    // The nickname and chat settings come with the full sync Alice sends once she sees the new device (not in the
    // provisioning message): as long a wait as for the group.
    await until(
      'the phone has the nickname',
      async () => (await phone.messenger.contact(bob.accountId)).nickname,
      WAIT_MS,
    );
    expect((await phone.messenger.contact(bob.accountId)).displayName).toBe('Bobby');
    await until(
      'the phone has the mute',
      async () => (await chatSettings(phone, `direct:${bob.accountId}`))?.mutedUntil,
      WAIT_MS,
    );
    expect((await chatSettings(phone, `direct:${bob.accountId}`))?.mutedUntil).toBeGreaterThan(Date.now());
    // The phone can write in the group it never saw created, and bob reads it.
    await phone.messenger.sendGroupText(groupId, 'from the phone to the group');
    await until(
      'bob gets the group message',
      async () =>
        (await bob.messenger.messages(`group:${groupId}`)).messages.some(
          (m) => m.text === 'from the phone to the group',
        ),
      WAIT_MS,
    );
  });

  it('should sync nicknames, verified states and conversation settings as they change', async () => {
    const shown = await alice.messenger.identity('sync_bob');
    await alice.messenger.verify('sync_bob', shown.safetyNumber?.digits ?? '');
    await until(
      'the phone shows bob verified',
      async () => (await phone.messenger.identity(bob.accountId)).trust === 'verified',
      WAIT_MS,
    );

    await phone.messenger.setNickname(bob.accountId, 'Bob at work');
    await until(
      'alice takes the nickname',
      async () => (await alice.messenger.contact(bob.accountId)).nickname === 'Bob at work',
      WAIT_MS,
    );

    const direct = `direct:${bob.accountId}`;
    await phone.messenger.setChatPreference(direct, { kind: 'mute', until: null });
    await phone.messenger.setChatPreference(direct, { kind: 'pin', pinned: true });
    await until(
      'alice pins and unmutes',
      async () => {
        const settings = await chatSettings(alice, direct);
        return settings?.pinnedAt != null && settings.mutedUntil === null;
      },
      WAIT_MS,
    );
    await alice.messenger.setChatPreference(direct, { kind: 'archive', archived: true, lastMessageKey: null });
    await until('the phone archives', async () => (await chatSettings(phone, direct))?.archivedAfter != null, WAIT_MS);
    // Archiving unpins (as on the device that archived).
    expect((await chatSettings(phone, direct))?.pinnedAt).toBeNull();
  });

  it('should sync message requests and the block list; a blocked sender is dropped on every device', async () => {
    await carol.messenger.sendText('sync_alice', 'hi, I am carol');
    for (const device of [alice, phone])
      await until(
        `${device.name} shows carol's request`,
        async () => (await conversationWith(device, carol.accountId))?.request === true,
        WAIT_MS,
      );
    await phone.messenger.accept(carol.accountId);
    await until(
      'alice sees it accepted',
      async () => {
        const conversation = await conversationWith(alice, carol.accountId);
        return conversation !== undefined && conversation.request !== true;
      },
      WAIT_MS,
    );

    await phone.messenger.block(carol.accountId);
    await until(
      'alice blocks carol too',
      async () => (await alice.messenger.blocked()).some((b) => b.accountId === carol.accountId),
      WAIT_MS,
    );
    await carol.messenger.sendText('sync_alice', 'while blocked');
    // Bob's later message shows both devices processed what came before it.
    await bob.messenger.sendText('sync_alice', 'after carol');
    for (const device of [alice, phone]) {
      await until(
        `${device.name} gets bob's`,
        async () => (await texts(device, bob.accountId)).includes('after carol'),
        WAIT_MS,
      );
      expect(await texts(device, carol.accountId)).not.toContain('while blocked');
    }

    await alice.messenger.unblock(carol.accountId);
    await until('the phone unblocks carol', async () => (await phone.messenger.blocked()).length === 0, WAIT_MS);
    await carol.messenger.sendText('sync_alice', 'after unblock');
    await until(
      'the phone gets carol again',
      async () => (await texts(phone, carol.accountId)).includes('after unblock'),
      WAIT_MS,
    );

    expect(await alice.messenger.deleteConversation(carol.accountId)).toBe(true);
    await until(
      'the phone deletes it too',
      async () => (await conversationWith(phone, carol.accountId)) === undefined,
      WAIT_MS,
    );
    expect(await transcript(phone, carol.accountId)).toHaveLength(0);
  });

  it('should show reactions, edits and deletes for everyone made on one device on the other', async () => {
    await alice.messenger.sendText('sync_bob', 'to be edited');
    await alice.messenger.sendText('sync_bob', 'to be deleted');
    await bob.messenger.sendText('sync_alice', 'react to me');
    await until(
      'the phone has all three',
      async () => {
        const got = await texts(phone, bob.accountId);
        return ['to be edited', 'to be deleted', 'react to me'].every((t) => got.includes(t));
      },
      WAIT_MS,
    );
    const onAlice = async (text: string): Promise<string> => (await messageOn(alice, bob.accountId, text))?.id ?? '';
    // A deleted message keeps no text: it is found again by its id.
    const deletedOnPhone = (await messageOn(phone, bob.accountId, 'to be deleted'))?.id ?? '';
    await alice.messenger.sendReaction(await onAlice('react to me'), '👍');
    await alice.messenger.editMessage(await onAlice('to be edited'), 'edited on the laptop');
    await alice.messenger.deleteForEveryone(await onAlice('to be deleted'));
    await until(
      'the phone shows the reaction',
      async () => {
        const message = await messageOn(phone, bob.accountId, 'react to me');
        return message?.reactions?.some((r) => r.authorAccountId === alice.accountId && r.emoji === '👍');
      },
      WAIT_MS,
    );
    await until(
      'the phone shows the edit',
      async () => (await messageOn(phone, bob.accountId, 'to be edited'))?.text === 'edited on the laptop',
      WAIT_MS,
    );
    await until(
      'the phone shows the delete',
      async () => {
        const message = await phone.messenger.message(deletedOnPhone);
        return message?.deletedAt !== undefined && message.text !== 'to be deleted';
      },
      WAIT_MS,
    );
    // And the peer got the same actions.
    await until(
      'bob shows the edit',
      async () => (await texts(bob, alice.accountId)).includes('edited on the laptop'),
      WAIT_MS,
    );
    // A reaction made on the phone reaches the primary.
    const onPhone = (await messageOn(phone, bob.accountId, 'react to me'))?.id ?? '';
    await phone.messenger.sendReaction(onPhone, '🎉');
    await until(
      'alice shows the new reaction',
      async () => {
        const message = await messageOn(alice, bob.accountId, 'react to me');
        return message?.reactions?.some((r) => r.authorAccountId === alice.accountId && r.emoji === '🎉');
      },
      WAIT_MS,
    );
  });

  it('should carry profile edits and profile key rotations to the other device', async () => {
    await phone.messenger.setProfile({ name: 'Alice on phone', about: 'synced' });
    await until(
      'alice has the new profile',
      async () => (await alice.messenger.profile()).name === 'Alice on phone',
      WAIT_MS,
    );
    expect((await alice.messenger.profile()).about).toBe('synced');
    await alice.messenger.rotateProfileKey();
    const rotated = (await alice.messenger.profile()).version;
    await until(
      'the phone takes the new key',
      async () => (await phone.messenger.profile()).version === rotated,
      WAIT_MS,
    );
    // An edit on the phone after the rotation goes out under the new key: bob reads it with the key alice gave him.
    await phone.messenger.setProfile({ name: 'Alice rotated' });
    await bob.messenger.sendText('sync_alice', 'ping');
    await alice.messenger.sendText('sync_bob', 'pong');
    await until(
      "bob reads alice's new name",
      async () => (await bob.messenger.contact(alice.accountId, { refresh: true })).profileName === 'Alice rotated',
      WAIT_MS,
    );
  });

  it('should sync group changes and groups created on either device', async () => {
    await phone.messenger.setGroupTitle(groupId, 'Renamed on the phone');
    await until(
      'alice takes the title',
      async () => (await alice.messenger.group(groupId))?.title === 'Renamed on the phone',
      WAIT_MS,
    );
    const made = await alice.messenger.createGroup('Made after linking', ['sync_bob']);
    await until(
      'the phone holds it',
      async () => (await phone.messenger.group(made.id))?.title === 'Made after linking',
      WAIT_MS,
    );
  });

  it('should converge after missed syncs when a full sync is asked for', async () => {
    // The phone lost the nickname and the block-list state (as after a restore): alice sends everything again.
    const contact = await phone.platform.storage.get('contacts', bob.accountId);
    if (!contact) throw new Error('the phone has no contact row for bob');
    const { nickname: _dropped, ...rest } = contact;
    await phone.platform.storage.commit([{ op: 'put', table: 'contacts', key: bob.accountId, value: rest }]);
    expect((await phone.messenger.contact(bob.accountId)).nickname).toBeNull();
    await alice.messenger.syncDevices();
    await until(
      'the phone has the nickname again',
      async () => (await phone.messenger.contact(bob.accountId)).nickname === 'Bob at work',
      WAIT_MS,
    );
  });

  it('should refuse syncs forged by another account and change nothing', async () => {
    const mallory = await RawDevice.register(server.url, 'sync_mallory');
    const now = Date.now();
    const target = (await transcript(alice, bob.accountId)).find(
      (m) => m.direction === 'outgoing' && m.text === 'hello bob',
    );
    expect(target).toBeDefined();
    const forged = [
      encodeContent({
        kind: 'sync',
        sync: {
          type: 'contacts',
          contacts: [
            { accountId: bob.accountId, nickname: 'forged', trust: 'unverified', blocked: true, updatedAt: now },
          ],
        },
      }),
      encodeContent({
        kind: 'sync',
        sync: {
          type: 'conversations',
          conversations: [
            {
              peerAccountId: bob.accountId,
              deleted: true,
              request: false,
              mutedForever: false,
              archived: false,
              updatedAt: now,
            },
          ],
        },
      }),
      encodeContent({ kind: 'sync', sync: { type: 'profile', profileKey: new Uint8Array(32).fill(7) } }),
      // Deleting alice's own message "for everyone" through her devices, and slipping her into a group.
      encodeContent({
        kind: 'sync',
        sync: {
          type: 'action',
          destinationAccountId: bob.accountId,
          action: { kind: 'delete', delete: { timestamp: now, targetTimestamp: target?.timestamp ?? 0 } },
        },
      }),
      encodeContent({
        kind: 'sync',
        sync: {
          type: 'group-state',
          groupUpdate: {
            id: new Uint8Array(32).fill(0x66),
            masterKey: new Uint8Array(32).fill(0x67),
            revision: 1,
            title: 'Forged group',
            members: [
              { accountId: alice.accountId, role: 'admin' },
              { accountId: mallory.accountId, role: 'admin' },
            ],
            timestamp: now,
          },
        },
      }),
    ];
    const versionBefore = (await alice.messenger.profile()).version;
    for (const content of forged) expect((await mallory.send(alice.accountId, content)).status).toBe(200);
    await until(
      'alice refuses every one',
      () =>
        alice.events.filter(
          (e) => e.type === 'message-rejected' && e.accountId === mallory.accountId && e.reason === 'sync_refused',
        ).length === forged.length,
      WAIT_MS,
    );
    expect((await alice.messenger.contact(bob.accountId)).nickname).toBe('Bob at work');
    expect(await alice.messenger.blocked()).toHaveLength(0);
    expect((await alice.messenger.identity(bob.accountId)).trust).toBe('verified');
    expect(await conversationWith(alice, bob.accountId)).toBeDefined();
    expect((await alice.messenger.profile()).version).toBe(versionBefore);
    expect((await alice.messenger.message(target?.id ?? ''))?.deletedAt).toBeUndefined();
    expect((await alice.messenger.listGroups()).some((g) => g.title === 'Forged group')).toBe(false);
  });
});
