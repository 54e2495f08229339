/**
 * Groups in the client core without a server: the update rules (groups.ts judgeUpdate) and the receive pipeline
 * for sender-key envelopes, fed through `fetchPending` from an HTTP transport that serves envelopes made here with
 * @cove/crypto (a member's real sender key), and the rotation a removal causes. The whole flow against the real
 * server and CLI is in test/client/groups.test.ts.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  IdentityKeyPair,
  InMemorySenderKeyStore,
  ProtocolAddress,
  SenderKeyDistributionMessage,
  groupEncrypt,
  processSenderKeyDistributionMessage,
  ready,
} from '@cove/crypto';
import { encodeContent, padContent, toBase64 } from '@cove/protocol';
import type { Envelope, GroupUpdate } from '@cove/protocol';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { fromHex, judgeUpdate, toHex } from '../src/groups.js';
import { Messenger } from '../src/messenger.js';
import type { MessengerEvent } from '../src/events.js';
import type { Clock, HttpTransport, TimerHandle } from '../src/platform.js';
import { ProtocolZone } from '../src/protocol-zone.js';
import type { AccountRecord, GroupEntry } from '../src/tables.js';
import { groupConversationId, memberKeyKey, ownSenderKeyKey } from '../src/tables.js';
import { createNodePlatform, createStderrLogger } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';

const ME = '11111111-1111-4111-8111-111111111111';
const SAM = '22222222-2222-4222-8222-222222222222';
const TOM = '33333333-3333-4333-8333-333333333333';
const NOW = 1_800_000_000_000;
const GROUP_ID = 'ab'.repeat(32);
const MASTER_KEY = new Uint8Array(32).fill(7);

const stillClock = (): Clock => ({
  now: () => NOW,
  setTimeout: (): TimerHandle => ({ id: null }),
  clearTimeout: () => undefined,
});

const group = (overrides: Partial<GroupEntry> = {}): GroupEntry => ({
  id: GROUP_ID,
  masterKey: MASTER_KEY,
  revision: 3,
  title: 'Hikers',
  description: null,
  avatar: null,
  members: [
    { accountId: ME, role: 'admin', username: 'me_' },
    { accountId: SAM, role: 'member', username: 'sam' },
    { accountId: TOM, role: 'member', username: 'tom' },
  ],
  expireTimerSeconds: null,
  active: true,
  createdAt: NOW,
  updatedAt: NOW,
  ...overrides,
});

const update = (g: GroupEntry, overrides: Partial<GroupUpdate> = {}): GroupUpdate => ({
  id: fromHex(g.id),
  masterKey: new Uint8Array(g.masterKey),
  revision: g.revision,
  title: g.title,
  members: g.members.map((m) => ({
    accountId: m.accountId,
    role: m.role,
    ...(m.username ? { username: m.username } : {}),
  })),
  timestamp: NOW,
  ...overrides,
});

describe('group update rules', () => {
  const held = group();
  const withoutTom = held.members.filter((m) => m.accountId !== TOM);

  it('should apply an admin’s newer revision and name what changed', () => {
    const verdict = judgeUpdate(
      held,
      update(held, { revision: 4, members: update(held).members.slice(0, 2) }),
      ME,
      SAM,
      NOW,
    );
    expect(verdict.apply).toBe(true);
    if (!verdict.apply) return;
    expect(verdict.changes.map((c) => [c.kind, c.members.map((m) => m.accountId)])).toEqual([['removed', [TOM]]]);
  });

  it('should refuse the same change forged by a member who is not an admin', () => {
    const forged = update(held, { revision: 4, members: update(held).members.slice(0, 2) });
    expect(judgeUpdate(held, forged, SAM, ME, NOW)).toEqual({ apply: false, reason: 'forbidden' });
    // Making oneself admin in the update changes nothing: the sender's role is read from OUR current revision.
    const selfPromoted = update(held, {
      revision: 4,
      members: update(held).members.map((m) => (m.accountId === SAM ? { ...m, role: 'admin' as const } : m)),
    });
    expect(judgeUpdate(held, selfPromoted, SAM, ME, NOW)).toEqual({ apply: false, reason: 'forbidden' });
  });

  it('should ignore stale and duplicate revisions', () => {
    expect(judgeUpdate(held, update(held, { revision: 3 }), ME, SAM, NOW)).toEqual({ apply: false, reason: 'stale' });
    expect(judgeUpdate(held, update(held, { revision: 2, title: 'Old' }), ME, SAM, NOW)).toEqual({
      apply: false,
      reason: 'stale',
    });
  });

  it('should refuse another master key under a known id', () => {
    const other = update(held, { revision: 9, masterKey: new Uint8Array(32).fill(9) });
    expect(judgeUpdate(held, other, ME, SAM, NOW)).toEqual({ apply: false, reason: 'forged' });
  });

  it('should let a member leave, but not leave and rename at once', () => {
    const leaving = update(held, {
      revision: 4,
      members: update(held).members.filter((m) => m.accountId !== TOM),
    });
    const verdict = judgeUpdate(held, leaving, TOM, SAM, NOW);
    expect(verdict.apply && verdict.changes.map((c) => c.kind)).toEqual(['left']);
    expect(judgeUpdate(held, { ...leaving, title: 'Mine' }, TOM, SAM, NOW)).toEqual({
      apply: false,
      reason: 'forbidden',
    });
    expect(withoutTom).toHaveLength(2);
  });

  it('should take a group it does not hold only from an admin listed in it, and only when it lists us', () => {
    const fresh = update(held, { revision: 0 });
    expect(judgeUpdate(undefined, fresh, ME, SAM, NOW).apply).toBe(true);
    expect(judgeUpdate(undefined, fresh, TOM, SAM, NOW)).toEqual({ apply: false, reason: 'forbidden' });
    const notUs = update(held, { members: update(held).members.filter((m) => m.accountId !== SAM) });
    expect(judgeUpdate(undefined, notUs, ME, SAM, NOW)).toEqual({ apply: false, reason: 'not-member' });
  });
});

describe('group messages through the inbox', () => {
  let dir: string;
  let platform: NodePlatform;
  let messenger: Messenger;
  let served: Envelope[];
  let events: MessengerEvent[];
  let sequence = 0;
  /** Sam's own side: his sender key, as his client would hold it. */
  let samStore: InMemorySenderKeyStore;
  const samAddress = ProtocolAddress.new(SAM, 1);
  const samDistribution = '0b7f3a5e-2d7c-4c1e-9a55-4f0e6f1b2a10';

  beforeAll(async () => {
    await ready();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-groups-'));
    served = [];
    events = [];
    const http: HttpTransport = {
      request: (request) => {
        const url = new URL(request.url);
        if (request.method === 'GET' && url.pathname === '/v1/messages') {
          const envelopes = served.splice(0);
          return Promise.resolve({ status: 200, headers: {}, body: JSON.stringify({ envelopes, more: false }) });
        }
        if (request.method === 'DELETE') return Promise.resolve({ status: 204, headers: {}, body: '' });
        return Promise.reject(new Error('connect ECONNREFUSED'));
      },
    };
    platform = await createNodePlatform({
      dataDir: dir,
      http,
      clock: stillClock(),
      logger: createStderrLogger('silent'),
    });
    const account: AccountRecord = {
      serverUrl: 'http://127.0.0.1:9',
      accountId: ME,
      deviceId: 1,
      registrationId: 42,
      secret: new Uint8Array(32),
      identityKeyPair: IdentityKeyPair.generate().serialize(),
      createdAt: NOW,
    };
    await platform.storage.commit([
      { op: 'put', table: 'meta', key: 'account', value: account },
      { op: 'put', table: 'groups', key: GROUP_ID, value: group() },
    ]);
    messenger = await Messenger.open(platform);
    messenger.subscribe((event) => events.push(event));
    // Sam's sender key reaches us as his distribution message would: stored under his address, his chain recorded.
    samStore = new InMemorySenderKeyStore();
    const distribution = await SenderKeyDistributionMessage.create(samAddress, samDistribution, samStore);
    await plantSenderKey(SAM, 1, distribution);
  });

  afterEach(async () => {
    await messenger.close();
    await platform.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const plantSenderKey = async (
    accountId: string,
    deviceId: number,
    message: SenderKeyDistributionMessage,
  ): Promise<void> => {
    const zone = new ProtocolZone(
      platform.storage,
      (await platform.storage.get('meta', 'account')) as AccountRecord,
      () => NOW,
    );
    await processSenderKeyDistributionMessage(ProtocolAddress.new(accountId, deviceId), message, zone.senderKeyStore);
    await platform.storage.commit([
      ...zone.operations(),
      {
        op: 'put',
        table: 'senderKeys',
        key: memberKeyKey(GROUP_ID, accountId, deviceId),
        value: { distributionId: message.distributionId(), updatedAt: NOW },
      },
    ]);
  };

  const groupMessage = async (
    text: string,
    options: { store?: InMemorySenderKeyStore; from?: ProtocolAddress; distributionId?: string; groupId?: string } = {},
  ): Promise<{ envelope: Envelope; bytes: Uint8Array }> => {
    const timestamp = NOW - 1000 + (sequence += 1);
    const content = encodeContent({
      kind: 'data',
      data: { text, timestamp, group: { id: fromHex(options.groupId ?? GROUP_ID), revision: 3 } },
    });
    const from = options.from ?? samAddress;
    const ciphertext = await groupEncrypt(
      from,
      options.distributionId ?? samDistribution,
      options.store ?? samStore,
      padContent(content),
    );
    const bytes = ciphertext.serialize();
    return {
      bytes,
      envelope: {
        guid: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
        type: 'senderkey',
        sourceAccountId: from.name(),
        sourceDeviceId: from.deviceId(),
        timestamp,
        serverTimestamp: NOW,
        content: toBase64(bytes),
      },
    };
  };

  const deliver = async (...envelopes: Envelope[]): Promise<string[]> => {
    served.push(...envelopes);
    return messenger.fetchPending();
  };

  /** Every sender-key row and message, byte for byte. */
  const snapshot = async (): Promise<string> =>
    JSON.stringify(
      {
        senderKeys: await platform.storage.list('senderKeys'),
        messages: await platform.storage.list('messages'),
        groups: await platform.storage.list('groups'),
      },
      (_k, v: unknown) => (v instanceof Uint8Array ? toBase64(v) : v),
    );

  it('should store a member’s group message once, in the group conversation, however often it is delivered', async () => {
    const { envelope } = await groupMessage('hello hikers');
    expect(await deliver(envelope)).toEqual(['stored']);
    // The same envelope again (a lost acknowledgement), and the same ciphertext under a new guid (a replay).
    expect(await deliver(envelope)).toEqual(['duplicate']);
    expect(await deliver({ ...envelope, guid: '00000000-0000-4000-8000-999999999999' })).toEqual(['duplicate']);
    const page = await messenger.messages(groupConversationId(GROUP_ID));
    expect(page.messages.map((m) => [m.text, m.authorAccountId])).toEqual([['hello hikers', SAM]]);
    const conversation = (await messenger.conversations()).find((c) => c.id === groupConversationId(GROUP_ID));
    expect(conversation).toMatchObject({ kind: 'group', groupId: GROUP_ID, title: 'Hikers', unreadCount: 1 });
  });

  it('should refuse a tampered group message without changing any state, and ask for it again', async () => {
    const { envelope, bytes } = await groupMessage('will be tampered');
    const tampered = bytes.slice();
    tampered[tampered.length - 70] = (tampered[tampered.length - 70] ?? 0) ^ 0x01;
    const before = await snapshot();
    expect(await deliver({ ...envelope, content: toBase64(tampered) })).toEqual(['undecryptable']);
    expect(await snapshot()).toBe(before);
    expect(events.some((e) => e.type === 'group-message-undecryptable' && e.accountId === SAM)).toBe(true);
    const retry = (await platform.storage.list('outbox')).map((e) => e.value).find((e) => e.kind === 'retry');
    expect(retry).toMatchObject({ destination: SAM, timestamps: [envelope.timestamp], resetDeviceId: null });
    // The genuine message still decrypts afterwards: the chain did not move.
    expect(await deliver({ ...envelope, guid: '00000000-0000-4000-8000-888888888888' })).toEqual(['stored']);
  });

  it('should refuse a chain from someone who is not a member, and a member’s chain used for another group', async () => {
    const outsider = ProtocolAddress.new('44444444-4444-4444-8444-444444444444', 1);
    const outsiderStore = new InMemorySenderKeyStore();
    const outsiderDistribution = '6c1d2b0a-1111-4222-8333-444455556666';
    const distribution = await SenderKeyDistributionMessage.create(outsider, outsiderDistribution, outsiderStore);
    await plantSenderKey(outsider.name(), 1, distribution);
    const before = await snapshot();
    const fromOutsider = await groupMessage('let me in', {
      from: outsider,
      store: outsiderStore,
      distributionId: outsiderDistribution,
    });
    expect(await deliver(fromOutsider.envelope)).toEqual(['ignored']);
    const otherGroup = await groupMessage('wrong group', { groupId: 'cd'.repeat(32) });
    expect(await deliver(otherGroup.envelope)).toEqual(['ignored']);
    expect(await snapshot()).toBe(before);
    expect((await messenger.messages(groupConversationId(GROUP_ID))).messages).toEqual([]);
  });

  it('should rotate our sender key and forget the removed member’s chain when an admin removes a member', async () => {
    await platform.storage.commit([
      {
        op: 'put',
        table: 'senderKeys',
        key: ownSenderKeyKey(GROUP_ID),
        value: {
          distributionId: '9d2a0c55-0000-4000-8000-000000000001',
          holders: [`${SAM}.1.7`, `${TOM}.1.8`],
          createdAt: NOW,
        },
      },
    ]);
    const updated = await messenger.removeMembers(GROUP_ID, [SAM]);
    expect(updated.revision).toBe(4);
    expect(updated.members.map((m) => m.accountId)).toEqual([ME, TOM]);
    // Our chain is gone (the next message starts a new one for Tom alone), and so is what Sam gave us.
    expect(await platform.storage.get('senderKeys', ownSenderKeyKey(GROUP_ID))).toBeUndefined();
    expect(await platform.storage.get('senderKeys', memberKeyKey(GROUP_ID, SAM, 1))).toBeUndefined();
    // Sam and Tom both get the new state pairwise (Sam so that he knows he is out).
    const updates = (await platform.storage.list('outbox'))
      .map((e) => e.value)
      .filter((e) => e.kind === 'group-control');
    expect(updates.map((e) => e.destination).sort()).toEqual([SAM, TOM].sort());
    // A system line says so.
    const lines = (await messenger.messages(groupConversationId(GROUP_ID))).messages;
    expect(lines.map((m) => m.text)).toEqual(['You removed sam']);
    // Sam's messages on his old chain are no longer accepted.
    const late = await groupMessage('still here?');
    const before = await snapshot();
    expect(await deliver(late.envelope)).toEqual(['ignored']);
    expect(await snapshot()).toBe(before);
  });

  it('should queue a failed group message again with retrySend', async () => {
    const sent = await messenger.sendGroupText(GROUP_ID, 'try again');
    const queued = (await platform.storage.list('outbox')).map((e) => e.value).filter((e) => e.kind === 'group');
    expect(queued.map((e) => [e.destination, e.messageKey])).toEqual([[groupConversationId(GROUP_ID), sent.id]]);
    // As the outbox leaves a message it gave up on: failed, its entry gone.
    await platform.storage.commit([
      { op: 'put', table: 'messages', key: sent.id, value: { ...sent, status: 'failed', error: 'expired' } },
      { op: 'delete', table: 'outbox', key: queued[0]!.id },
    ]);
    const retried = await messenger.retrySend(sent.id);
    expect(retried).toMatchObject({ status: 'sending', timestamp: sent.timestamp, error: null });
    const again = (await platform.storage.list('outbox')).map((e) => e.value).filter((e) => e.kind === 'group');
    expect(again.map((e) => [e.destination, e.messageKey, e.timestamp])).toEqual([
      [groupConversationId(GROUP_ID), sent.id, sent.timestamp],
    ]);
  });

  it('should refuse group changes by a member who is not an admin, here too', async () => {
    await platform.storage.commit([
      {
        op: 'put',
        table: 'groups',
        key: GROUP_ID,
        value: group({
          members: group().members.map((m) => ({ ...m, role: m.accountId === ME ? 'member' : 'admin' })),
        }),
      },
    ]);
    await expect(messenger.removeMembers(GROUP_ID, [SAM])).rejects.toThrow('only an admin');
    await expect(messenger.setGroupTitle(GROUP_ID, 'Mine')).rejects.toThrow('only an admin');
    expect((await messenger.group(GROUP_ID))?.revision).toBe(3);
    // Leaving needs no admin.
    const left = await messenger.leaveGroup(GROUP_ID);
    expect(left.active).toBe(false);
    await expect(messenger.sendGroupText(GROUP_ID, 'hi')).rejects.toThrow('no longer in this group');
    expect(toHex(fromHex(GROUP_ID))).toBe(GROUP_ID);
  });
});

describe('groups on data saved by an older build', () => {
  it('should open the layout-1 CLI fixture and hold a group next to its direct conversations', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-groups-fixture-'));
    await fs.cp(new URL('./fixtures/cli-data-v1', import.meta.url), dir, { recursive: true });
    const offline: HttpTransport = { request: () => Promise.reject(new Error('connect ECONNREFUSED')) };
    const platform = await createNodePlatform({ dataDir: dir, http: offline, logger: createStderrLogger('silent') });
    try {
      const messenger = await Messenger.open(platform);
      const direct = await messenger.conversations();
      expect(direct.length).toBeGreaterThan(0);
      const peer = direct[0]!.peerAccountId;
      const created = await messenger.createGroup('Old friends', [peer]);
      expect((await messenger.listGroups()).map((g) => g.id)).toEqual([created.id]);
      const ids = (await messenger.conversations()).map((c) => c.id);
      expect(ids).toContain(groupConversationId(created.id));
      for (const c of direct) expect(ids).toContain(c.id);
      await messenger.close();
    } finally {
      await platform.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
