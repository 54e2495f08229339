/**
 * Our sender key's rotation when a device that holds it is gone (group-sender.ts), for a group and for organization
 * notices. A GroupSender is driven directly against a scripted server that keeps its own device lists and answers a
 * multi-recipient send as the real one does (`409` missing/extra devices, `410` stale registration ids), and against
 * pairwise sends that hand our distribution message to each member device's own sender-key store (real
 * @cove/crypto). Every device, a removed one included, then tries the accepted ciphertext with exactly what it holds.
 * The whole flow against the real server and CLI is in test/client/groups.test.ts.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  ErrorCode,
  IdentityKeyPair,
  InMemorySenderKeyStore,
  LibSignalErrorBase,
  ProtocolAddress,
  SenderKeyDistributionMessage,
  groupDecrypt,
  processSenderKeyDistributionMessage,
  ready,
} from '@cove/crypto';
import { decodeContent, encodeContent, fromBase64, unpadContent } from '@cove/protocol';
import type { SendMultiRequest } from '@cove/protocol';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import type { MultiSendOutcome } from '../src/api-client.js';
import type { MessengerContext } from '../src/context.js';
import { GroupSender } from '../src/group-sender.js';
import type { PairwiseSender } from '../src/group-sender.js';
import { fromHex } from '../src/groups.js';
import type { Clock, Logger, TimerHandle } from '../src/platform.js';
import type { SealedSender } from '../src/sealed-sender.js';
import type { AccountRecord, DeviceAddress, GroupEntry, OutboxEntry } from '../src/tables.js';
import { NOTICES_SCOPE, groupConversationId, ownSenderKeyKey } from '../src/tables.js';
import { createNodePlatform } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';

const ME = '11111111-1111-4111-8111-111111111111';
const SAM = '22222222-2222-4222-8222-222222222222';
const TOM = '33333333-3333-4333-8333-333333333333';
const NOW = 1_800_000_000_000;
const GROUP_ID = 'ab'.repeat(32);

const stillClock = (): Clock => ({
  now: () => NOW,
  setTimeout: (): TimerHandle => ({ id: null }),
  clearTimeout: () => undefined,
});

const group: GroupEntry = {
  id: GROUP_ID,
  masterKey: new Uint8Array(32).fill(7),
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
};

/** A device as the member's own client is: its address and the sender keys it was given. */
const deviceName = (accountId: string, d: DeviceAddress): string => `${accountId}.${d.deviceId}.${d.registrationId}`;

describe('our sender key when a device that holds it is gone', () => {
  let dir: string;
  let platform: NodePlatform;
  let sender: GroupSender;
  /** The server's device lists (the truth our stored lists are corrected to by 409/410). */
  let server: Map<string, DeviceAddress[]>;
  /** Each member device's sender-key store, by `account.device.registration`. */
  let stores: Map<string, InMemorySenderKeyStore>;
  /** Every multi-recipient request, and the outcome the server gave it. */
  let requests: { request: SendMultiRequest; outcome: MultiSendOutcome['kind'] }[];
  let infos: { message: string; fields: Record<string, string | number | boolean> | undefined }[];
  let clockTick = 0;
  const me = ProtocolAddress.new(ME, 1);

  /** The scripted server's answer to a multi-recipient send (the real server's rules, devices only). */
  const answer = (request: SendMultiRequest): MultiSendOutcome => {
    const mismatched = [];
    const stale = [];
    for (const recipient of request.recipients) {
      const truth = server.get(recipient.accountId) ?? [];
      const named = recipient.devices;
      const missingDevices = truth.filter((d) => !named.some((n) => n.deviceId === d.deviceId)).map((d) => d.deviceId);
      const extraDevices = named.filter((n) => !truth.some((d) => d.deviceId === n.deviceId)).map((n) => n.deviceId);
      if (missingDevices.length > 0 || extraDevices.length > 0)
        mismatched.push({ accountId: recipient.accountId, missingDevices, extraDevices, staleDevices: [] });
      const staleDevices = named
        .filter((n) => truth.some((d) => d.deviceId === n.deviceId && d.registrationId !== n.registrationId))
        .map((n) => n.deviceId);
      if (staleDevices.length > 0) stale.push({ accountId: recipient.accountId, staleDevices });
    }
    const outcome: MultiSendOutcome =
      mismatched.length > 0
        ? { kind: 'mismatched', accounts: mismatched }
        : stale.length > 0
          ? { kind: 'stale', accounts: stale }
          : { kind: 'accepted', serverTimestamp: NOW, queueFull: [] };
    requests.push({ request, outcome: outcome.kind });
    return outcome;
  };

  /** Our stored device list of an account (what the sender addresses and checks holders against). */
  const putContact = async (accountId: string, devices: DeviceAddress[]): Promise<void> => {
    await platform.storage.commit([
      { op: 'put', table: 'contacts', key: accountId, value: { accountId, username: null, devices, updatedAt: NOW } },
    ]);
  };

  const pairwise: PairwiseSender = {
    // As the outbox's 1:1 send: it follows the server's corrections, then every current device gets the content.
    sendPairwise: async (accountId, content) => {
      const devices = server.get(accountId) ?? [];
      await putContact(accountId, devices);
      const decoded = decodeContent(content);
      if (decoded.kind !== 'sender-key') throw new Error(`unexpected pairwise content ${decoded.kind}`);
      const message = SenderKeyDistributionMessage.deserialize(decoded.senderKey.distributionMessage);
      for (const d of devices) {
        const name = deviceName(accountId, d);
        const store = stores.get(name) ?? new InMemorySenderKeyStore();
        stores.set(name, store);
        await processSenderKeyDistributionMessage(me, message, store);
      }
      return devices;
    },
    correctDevices: async (accountId, missing, extra, stale) => {
      const known = (await platform.storage.get('contacts', accountId))?.devices ?? [];
      const truth = server.get(accountId) ?? [];
      const kept = known.filter((d) => !extra.includes(d.deviceId) && !stale.includes(d.deviceId));
      const added = truth.filter((d) => missing.includes(d.deviceId) || stale.includes(d.deviceId));
      await putContact(
        accountId,
        [...kept, ...added].sort((a, b) => a.deviceId - b.deviceId),
      );
    },
    sealed: {
      usableAccessKey: () => Promise.resolve(null),
      senderCertificate: () => Promise.resolve(null),
    } as unknown as SealedSender,
  };

  /** What one device reads of a ciphertext with the sender keys it holds: the text, or the library's error code. */
  const readBy = async (name: string, request: SendMultiRequest): Promise<string> => {
    const store = stores.get(name) ?? new InMemorySenderKeyStore();
    try {
      const padded = await groupDecrypt(me, store, new Uint8Array(fromBase64(request.content)));
      const content = decodeContent(unpadContent(padded));
      return content.kind === 'data' ? (content.data.text ?? '') : content.kind;
    } catch (error) {
      if (error instanceof LibSignalErrorBase) return `error ${error.code}`;
      throw error;
    }
  };

  const entryOf = (text: string, notice: boolean): OutboxEntry => {
    const timestamp = NOW + (clockTick += 1);
    return {
      id: String(clockTick),
      destination: notice ? 'notices' : groupConversationId(GROUP_ID),
      kind: 'group',
      timestamp,
      content: encodeContent({
        kind: 'data',
        data: { text, timestamp, ...(notice ? {} : { group: { id: fromHex(GROUP_ID), revision: 3 } }) },
      }),
      messageKey: null,
      timestamps: [],
      receiptType: null,
      resetDeviceId: null,
      ...(notice ? { notice: true } : {}),
      attempts: 0,
      nextAttemptAt: 0,
      createdAt: NOW,
      lastError: null,
    };
  };

  /** Sends one message (or notice) and returns the request the server accepted. */
  const send = async (text: string, notice = false): Promise<SendMultiRequest> => {
    await sender.deliver(entryOf(text, notice));
    const accepted = requests.filter((r) => r.outcome === 'accepted').at(-1);
    if (!accepted) throw new Error('nothing accepted');
    return accepted.request;
  };

  const distributionId = async (scope: string): Promise<string | undefined> => {
    const own = await platform.storage.get('senderKeys', ownSenderKeyKey(scope));
    return own && 'holders' in own ? own.distributionId : undefined;
  };

  const rotations = (): unknown[] => infos.filter((i) => i.message === 'group sender key rotated').map((i) => i.fields);

  const SAM1 = { deviceId: 1, registrationId: 7 };
  const SAM2 = { deviceId: 2, registrationId: 8 };
  const TOM1 = { deviceId: 1, registrationId: 9 };
  const connection = { isReady: false, sendMulti: (request: SendMultiRequest) => Promise.resolve(answer(request)) };

  beforeAll(async () => {
    await ready();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-group-sender-'));
    server = new Map([
      [SAM, [SAM1, SAM2]],
      [TOM, [TOM1]],
    ]);
    stores = new Map();
    requests = [];
    infos = [];
    connection.isReady = false;
    const record = (message: string, fields?: Record<string, string | number | boolean>): void => {
      infos.push({ message, fields });
    };
    const logger: Logger = { debug: () => undefined, info: record, warn: () => undefined, error: () => undefined };
    platform = await createNodePlatform({ dataDir: dir, clock: stillClock(), logger });
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
      { op: 'put', table: 'groups', key: GROUP_ID, value: group },
    ]);
    const api = {
      sendMulti: (request: SendMultiRequest) => Promise.resolve(answer(request)),
      members: () =>
        Promise.resolve({
          members: [SAM, TOM].map((accountId) => ({ accountId, disabled: false, devices: 1 })),
        }),
    };
    const ctx = { platform, account, api, connection: () => connection } as unknown as MessengerContext;
    sender = new GroupSender(ctx, pairwise);
  });

  afterEach(async () => {
    await platform.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe.each([
    ['a group message', false, GROUP_ID],
    ['an organization notice', true, NOTICES_SCOPE],
  ])('%s', (_what, notice, scope) => {
    it('should start a new chain when the server drops a member’s device (409 extra), which that device cannot open', async () => {
      const before = await send('before', notice);
      const first = await distributionId(scope);
      for (const name of [`${SAM}.1.7`, `${SAM}.2.8`, `${TOM}.1.9`]) expect(await readBy(name, before)).toBe('before');
      // Sam unlinks his second device; we still list it, so the server answers 409 and we drop it.
      server.set(SAM, [SAM1]);
      const after = await send('after', notice);
      expect(requests.map((r) => r.outcome)).toEqual(['accepted', 'mismatched', 'accepted']);
      expect(after.recipients.find((r) => r.accountId === SAM)?.devices).toEqual([SAM1]);
      const second = await distributionId(scope);
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      // The removed device has only the old chain: nothing it holds opens the new message; the others read it.
      expect(await readBy(`${SAM}.2.8`, after)).toBe(`error ${ErrorCode.NoSenderKeyState}`);
      expect(await readBy(`${SAM}.1.7`, after)).toBe('after');
      expect(await readBy(`${TOM}.1.9`, after)).toBe('after');
      expect(rotations()).toEqual([{ scope: notice ? NOTICES_SCOPE : GROUP_ID.slice(0, 8), reason: 'device gone' }]);
    });

    it('should start a new chain when a device id re-registered (410 stale): only the new install reads it', async () => {
      await send('before', notice);
      const first = await distributionId(scope);
      server.set(SAM, [SAM1, { deviceId: 2, registrationId: 80 }]);
      const after = await send('after', notice);
      expect(requests.map((r) => r.outcome)).toEqual(['accepted', 'stale', 'accepted']);
      expect(await distributionId(scope)).not.toBe(first);
      expect(await readBy(`${SAM}.2.8`, after)).toBe(`error ${ErrorCode.NoSenderKeyState}`);
      expect(await readBy(`${SAM}.2.80`, after)).toBe('after');
      expect(await readBy(`${SAM}.1.7`, after)).toBe('after');
    });

    it('should start a new chain when our stored device list was corrected before the send', async () => {
      await send('before', notice);
      const first = await distributionId(scope);
      // A 1:1 send to Sam learnt it first (409 extra there): the group send itself sees no mismatch.
      server.set(SAM, [SAM1]);
      await putContact(SAM, [SAM1]);
      const after = await send('after', notice);
      expect(requests.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
      expect(await distributionId(scope)).not.toBe(first);
      expect(await readBy(`${SAM}.2.8`, after)).toBe(`error ${ErrorCode.NoSenderKeyState}`);
      expect(await readBy(`${TOM}.1.9`, after)).toBe('after');
    });

    it('should keep the chain when a device is added, and give the new device the current key', async () => {
      await send('before', notice);
      const first = await distributionId(scope);
      const added = { deviceId: 3, registrationId: 10 };
      server.set(SAM, [SAM1, SAM2, added]);
      const after = await send('after', notice);
      expect(requests.map((r) => r.outcome)).toEqual(['accepted', 'mismatched', 'accepted']);
      expect(await distributionId(scope)).toBe(first);
      for (const name of [`${SAM}.1.7`, `${SAM}.2.8`, `${SAM}.3.10`, `${TOM}.1.9`])
        expect(await readBy(name, after)).toBe('after');
      expect(rotations()).toEqual([]);
    });
  });

  it('should send no typing indicator on a key a gone device holds, and leave the rotation to the next message', async () => {
    await send('before');
    const first = await distributionId(GROUP_ID);
    connection.isReady = true;
    const typing = encodeContent({ kind: 'data', data: { text: 'typing', timestamp: NOW } });
    expect(await sender.sendEphemeral(GROUP_ID, typing, NOW)).toBe(true);
    server.set(SAM, [SAM1]);
    await putContact(SAM, [SAM1]);
    const sent = requests.length;
    expect(await sender.sendEphemeral(GROUP_ID, typing, NOW)).toBe(false);
    expect(requests.length).toBe(sent);
    expect(await distributionId(GROUP_ID)).toBe(first);
    const after = await send('after');
    expect(await distributionId(GROUP_ID)).not.toBe(first);
    expect(await readBy(`${SAM}.2.8`, after)).toBe(`error ${ErrorCode.NoSenderKeyState}`);
  });

  it('should give a device owed our key again (a retry request) the current key, without a new chain', async () => {
    await send('before');
    const first = await distributionId(GROUP_ID);
    const own = await platform.storage.get('senderKeys', ownSenderKeyKey(GROUP_ID));
    if (!own || !('holders' in own)) throw new Error('no key');
    await platform.storage.commit([
      { op: 'put', table: 'senderKeys', key: ownSenderKeyKey(GROUP_ID), value: { ...own, reshare: [`${SAM}.2.8`] } },
    ]);
    // The device lost what it held (it asked for a re-send): only the distribution sent again lets it read on.
    stores.set(`${SAM}.2.8`, new InMemorySenderKeyStore());
    const after = await send('after');
    expect(await distributionId(GROUP_ID)).toBe(first);
    expect(await readBy(`${SAM}.2.8`, after)).toBe('after');
    const held = await platform.storage.get('senderKeys', ownSenderKeyKey(GROUP_ID));
    expect(held && 'holders' in held ? held.reshare : null).toEqual([]);
  });

  it('should still rotate for a device owed our key again, when the distribution’s 1:1 send finds it gone', async () => {
    await send('before');
    const first = await distributionId(GROUP_ID);
    // As content-handlers.ts marks a device that asked for a re-send: still a holder, owed the key again.
    const own = await platform.storage.get('senderKeys', ownSenderKeyKey(GROUP_ID));
    if (!own || !('holders' in own)) throw new Error('no key');
    expect(own.holders).toContain(`${SAM}.2.8`);
    await platform.storage.commit([
      { op: 'put', table: 'senderKeys', key: ownSenderKeyKey(GROUP_ID), value: { ...own, reshare: [`${SAM}.2.8`] } },
    ]);
    server.set(SAM, [SAM1]);
    const after = await send('after');
    expect(await distributionId(GROUP_ID)).not.toBe(first);
    expect(await readBy(`${SAM}.2.8`, after)).toBe(`error ${ErrorCode.NoSenderKeyState}`);
  });
});
