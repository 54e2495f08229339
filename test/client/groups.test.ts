/**
 * Group chats end to end: Node clients and the real `cove` CLI on one real server (its own process, PostgreSQL).
 * Members create and chat; a late member sees only what comes after; a removed member cannot decrypt what follows
 * (the sender's request is captured on the wire and tried with the removed member's keys); an offline member
 * catches up; a forged update from a non-admin is refused; a member's unlinked device, even one that just asked for a
 * re-send, cannot decrypt the next message (the sender starts a new chain once that device is dropped); a 100-member
 * group costs one send request per message; and the server's tables and logs hold no group title, group id, master
 * key or plaintext.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { GroupEntry, HttpTransport, MessageEntry, SocketFactory } from '@cove/client';
import { fetchTransport, wsSocketFactory } from '@cove/client/node';
import { ErrorCode, ProtocolAddress, groupDecrypt } from '@cove/crypto';
import { encodeContent, fromBase64 } from '@cove/protocol';
import type { SendMultiRequest } from '@cove/protocol';

import { updateContent } from '../../packages/client/src/groups.js';
import { newOutboxEntry } from '../../packages/client/src/outbox.js';
import { ProtocolZone } from '../../packages/client/src/protocol-zone.js';
import { groupResendLogKey } from '../../packages/client/src/tables.js';
import { findOnServer } from '../support/canary.js';
import { cove, ensureCliBuilt, listen } from '../support/cli.js';
import { destroyClient, newClient, openClient, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(600_000);

const groupTexts = async (client: TestClient, groupId: string): Promise<string[]> =>
  (await client.messenger.messages(`group:${groupId}`, { limit: 500 })).messages
    .filter((m: MessageEntry) => !m.system)
    .map((m) => m.text)
    .reverse();

const systemLines = async (client: TestClient, groupId: string): Promise<string[]> =>
  (await client.messenger.messages(`group:${groupId}`, { limit: 500 })).messages
    .filter((m: MessageEntry) => m.system)
    .map((m) => m.text)
    .reverse();

/** Transports that record every multi-recipient send body (HTTP or `send-multi` frame) on its way to the server. */
const recording = (): { http: HttpTransport; sockets: SocketFactory; multi: SendMultiRequest[] } => {
  const multi: SendMultiRequest[] = [];
  return {
    multi,
    sockets: {
      connect: (url) => {
        const socket = wsSocketFactory.connect(url);
        const send = socket.send.bind(socket);
        socket.send = (text) => {
          const frame = JSON.parse(text) as { type?: string; message?: SendMultiRequest };
          if (frame.type === 'send-multi' && frame.message) multi.push(frame.message);
          send(text);
        };
        return socket;
      },
    },
    http: {
      request: (request) => {
        if (request.method === 'PUT' && request.url.endsWith('/v1/messages/multi') && request.body)
          multi.push(JSON.parse(request.body) as SendMultiRequest);
        return fetchTransport.request(request);
      },
    },
  };
};

describe('group chats between clients', () => {
  let server: TestServer;
  let ann: TestClient;
  let ben: TestClient;
  let cat: TestClient;
  let dan: TestClient;
  const wire = recording();
  let group: GroupEntry;
  const title = 'Canary Hikers 7f3a';
  const secretText = 'canary-plaintext-5c2e';

  beforeAll(async () => {
    server = await startTestServer();
    ann = await newClient(server.url, 'ann', { http: wire.http, sockets: wire.sockets, oneTimePreKeys: 5 });
    ben = await newClient(server.url, 'ben', { oneTimePreKeys: 5 });
    cat = await newClient(server.url, 'cat', { oneTimePreKeys: 5 });
    dan = await newClient(server.url, 'dan', { oneTimePreKeys: 5 });
    await Promise.all([ann, ben, cat, dan].map((c) => c.messenger.connect()));
  }, 300_000);

  afterAll(async () => {
    for (const client of [ann, ben, cat, dan]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should create a group of three and chat, every member seeing every message with its sender', async () => {
    group = await ann.messenger.createGroup(title, ['ben', 'cat']);
    expect(group.id).toMatch(/^[0-9a-f]{64}$/);
    for (const member of [ben, cat])
      await until(`${member.name} joins`, async () => (await member.messenger.group(group.id))?.revision === 0);
    expect((await ben.messenger.group(group.id))?.members.map((m) => [m.username, m.role])).toEqual([
      ['ann', 'admin'],
      ['ben', 'member'],
      ['cat', 'member'],
    ]);
    expect(await systemLines(ben, group.id)).toEqual(['ann created the group "Canary Hikers 7f3a"']);

    await ann.messenger.sendGroupText(group.id, secretText);
    await ben.messenger.sendGroupText(group.id, 'ben here');
    await cat.messenger.sendGroupText(group.id, 'cat here');
    for (const member of [ann, ben, cat])
      await until(`${member.name} has all three`, async () => (await groupTexts(member, group.id)).length === 3);
    const seen = (await cat.messenger.messages(`group:${group.id}`)).messages.filter((m) => !m.system);
    expect(new Set(seen.map((m) => `${m.authorAccountId}:${m.text}`))).toEqual(
      new Set([`${ann.accountId}:${secretText}`, `${ben.accountId}:ben here`, `${cat.accountId}:cat here`]),
    );
    // The conversation list shows the group next to the direct conversations.
    const listed = (await ben.messenger.conversations()).find((c) => c.id === `group:${group.id}`);
    expect(listed).toMatchObject({ kind: 'group', title, groupId: group.id });
    // One ciphertext per message, in one request, for every member device.
    const first = wire.multi.at(-1);
    expect(first?.type).toBe('senderkey');
    expect(first?.recipients.map((r) => r.accountId).sort()).toEqual([ben.accountId, cat.accountId].sort());
  });

  it('should give a late member the current state and the new messages only', async () => {
    await ann.messenger.addMembers(group.id, ['dan']);
    await until('dan joins', async () => (await dan.messenger.group(group.id))?.revision === 1);
    await until('ben learns of dan', async () => (await ben.messenger.group(group.id))?.revision === 1);
    await ben.messenger.sendGroupText(group.id, 'welcome dan');
    await until('dan gets it', async () => (await groupTexts(dan, group.id)).includes('welcome dan'));
    expect(await groupTexts(dan, group.id)).toEqual(['welcome dan']);
    expect(await systemLines(ben, group.id)).toContain('ann added dan');
  });

  it('should refuse a forged update from a member who is not an admin', async () => {
    const held = (await ben.messenger.group(group.id))!;
    const forged = {
      ...held,
      revision: held.revision + 1,
      members: held.members.map((m) => (m.accountId === ben.accountId ? { ...m, role: 'admin' as const } : m)),
      title: 'Taken over',
    };
    const ctx = {
      platform: ben.platform,
      sequencer: { next: () => `${Date.now()}` },
      timestamps: { next: () => Date.now() },
    };
    // Ben's own client would refuse this change; it is written straight into his outbox, as a modified client would.
    const entry = newOutboxEntry(ctx as never, {
      destination: ann.accountId,
      kind: 'group-control',
      timestamp: Date.now(),
      content: encodeContent(updateContent(forged, Date.now())),
    });
    await ben.platform.storage.commit([{ op: 'put', table: 'outbox', key: entry.id, value: entry }]);
    await ben.messenger.flushOutbox();
    await until('ann refuses', () =>
      ann.events.some((e) => e.type === 'group-update-rejected' && e.accountId === ben.accountId),
    );
    expect(ann.events.find((e) => e.type === 'group-update-rejected')).toMatchObject({ reason: 'forbidden' });
    expect((await ann.messenger.group(group.id))?.title).toBe(title);
    expect((await ann.messenger.group(group.id))?.revision).toBe(held.revision);
    await expect(ben.messenger.setGroupTitle(group.id, 'Taken over')).rejects.toThrow('only an admin');
  });

  it('should leave a removed member unable to decrypt anything new, checked on the wire', async () => {
    await ann.messenger.removeMembers(group.id, ['cat']);
    await until('cat learns she is out', async () => (await cat.messenger.group(group.id))?.active === false);
    await until('ben applies it', async () => (await ben.messenger.group(group.id))?.revision === 2);
    expect(await systemLines(cat, group.id)).toContain('ann removed cat');
    const before = wire.multi.length;
    await ann.messenger.sendGroupText(group.id, 'after cat left');
    await ann.messenger.flushOutbox();
    const captured = wire.multi.slice(before).at(-1)!;
    expect(captured.recipients.map((r) => r.accountId)).not.toContain(cat.accountId);
    // Cat takes the ciphertext anyway and tries every sender key she holds: none opens it.
    const zone = new ProtocolZone(
      cat.platform.storage,
      (await cat.platform.storage.get('meta', 'account')) as never,
      Date.now,
    );
    const annDevice = ProtocolAddress.new(ann.accountId, (await ann.messenger.account()).deviceId);
    await expect(
      groupDecrypt(annDevice, zone.senderKeyStore, new Uint8Array(fromBase64(captured.content))),
    ).rejects.toMatchObject({ code: ErrorCode.NoSenderKeyState });
    await until('ben gets it', async () => (await groupTexts(ben, group.id)).includes('after cat left'));
    await ben.messenger.sendGroupText(group.id, 'ben after cat left');
    await until('ann gets ben', async () => (await groupTexts(ann, group.id)).includes('ben after cat left'));
    expect(await groupTexts(cat, group.id)).not.toContain('after cat left');
    expect(await groupTexts(cat, group.id)).not.toContain('ben after cat left');
    await expect(cat.messenger.sendGroupText(group.id, 'let me back')).rejects.toThrow('no longer in this group');
  });

  it('should let an offline member catch up on what was sent meanwhile', async () => {
    await ben.messenger.close();
    await ben.platform.close();
    for (const text of ['while away 1', 'while away 2', 'while away 3'])
      await ann.messenger.sendGroupText(group.id, text);
    await ann.messenger.flushOutbox();
    ben = await openClient(ben.name, ben.dataDir);
    await ben.messenger.connect();
    await until('ben catches up', async () => (await groupTexts(ben, group.id)).includes('while away 3'));
    const got = await groupTexts(ben, group.id);
    expect(got.slice(-3)).toEqual(['while away 1', 'while away 2', 'while away 3']);
  });

  it('should keep group titles, ids, master keys and plaintext off the server', async () => {
    const held = (await ann.messenger.group(group.id))!;
    const hits = await findOnServer(server, [
      title,
      secretText,
      'welcome dan',
      held.id,
      new Uint8Array(held.masterKey),
    ]);
    expect(hits).toEqual([]);
  });
});

describe('a member unlinking a device', () => {
  let server: TestServer;
  let ann: TestClient;
  let ben: TestClient;
  let phone: TestClient;
  const wire = recording();

  beforeAll(async () => {
    server = await startTestServer();
    ann = await newClient(server.url, 'unlink_ann', { http: wire.http, sockets: wire.sockets, oneTimePreKeys: 5 });
    ben = await newClient(server.url, 'unlink_ben', { oneTimePreKeys: 5 });
    await Promise.all([ann, ben].map((c) => c.messenger.connect()));
    phone = await openClient('unlink_phone', await mkdtemp(join(tmpdir(), 'cove-link-unlink_phone-')));
    const account = await phone.messenger.linkNewDevice({
      serverUrl: server.url,
      oneTimePreKeys: 5,
      onLinkUri: (uri) => {
        void ben.messenger.addDevice(uri);
      },
    });
    phone.accountId = account.accountId;
    await phone.messenger.connect();
  }, 300_000);

  afterAll(async () => {
    for (const client of [ann, ben, phone]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should leave the unlinked device unable to decrypt the next group message, checked on the wire', async () => {
    const group = await ann.messenger.createGroup('Unlink canary', ['unlink_ben']);
    const sent = await ann.messenger.sendGroupText(group.id, 'with the phone');
    await ann.messenger.flushOutbox();
    // The phone held ann's chain: it read the message.
    await until('the phone reads it', async () => (await groupTexts(phone, group.id)).includes('with the phone'));
    // The phone asks for it again (as after a failed decryption; written into its outbox as its inbox would): ann
    // re-sends it pairwise and owes the phone her key again, but must still count it as holding her chain.
    const ctx = {
      platform: phone.platform,
      sequencer: { next: () => `${Date.now()}` },
      timestamps: { next: () => Date.now() },
    };
    const retry = newOutboxEntry(ctx as never, {
      destination: ann.accountId,
      kind: 'retry',
      timestamp: Date.now(),
      timestamps: [sent.timestamp],
    });
    await phone.platform.storage.commit([{ op: 'put', table: 'outbox', key: retry.id, value: retry }]);
    await phone.messenger.flushOutbox();
    await until('ann re-sends it to the phone', async () => {
      const logged = await ann.platform.storage.get('resendLog', groupResendLogKey(sent.timestamp));
      return typeof logged === 'object' && logged.devices.some((d) => d.accountId === ben.accountId && d.resent > 0);
    });
    const phoneDevice = (await phone.messenger.account()).deviceId;
    await ben.messenger.removeDevice(phoneDevice);
    await until('the phone is told it was removed', () =>
      phone.events.some((e) => e.type === 'connection' && e.state === 'removed'),
    );
    const before = wire.multi.length;
    await ann.messenger.sendGroupText(group.id, 'after the unlink');
    await ann.messenger.flushOutbox();
    // Ann still listed the phone: a 409 dropped it (here the one answering the 1:1 send that hands the phone her key
    // again, in the same send), and the request the server took names ben's first device only.
    const captured = wire.multi.slice(before).at(-1)!;
    expect(captured.recipients.find((r) => r.accountId === ben.accountId)?.devices.map((d) => d.deviceId)).toEqual([1]);
    // The phone takes the ciphertext anyway and tries every sender key it holds: none opens it.
    const zone = new ProtocolZone(
      phone.platform.storage,
      (await phone.platform.storage.get('meta', 'account')) as never,
      Date.now,
    );
    const annDevice = ProtocolAddress.new(ann.accountId, (await ann.messenger.account()).deviceId);
    await expect(
      groupDecrypt(annDevice, zone.senderKeyStore, new Uint8Array(fromBase64(captured.content))),
    ).rejects.toMatchObject({ code: ErrorCode.NoSenderKeyState });
    await until('ben reads it', async () => (await groupTexts(ben, group.id)).includes('after the unlink'));
    expect(await groupTexts(phone, group.id)).not.toContain('after the unlink');
  });
});

describe('a 100-member group on one server', () => {
  let server: TestServer;
  let clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    for (let i = 0; i < 100; i += 1) clients.push(await newClient(server.url, `m${i}_100`, { oneTimePreKeys: 2 }));
  }, 600_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    clients = [];
    await server?.close();
  });

  it('should send each message in one request to all 99 other members', async () => {
    const [admin, ...rest] = clients as [TestClient, ...TestClient[]];
    const group = await admin.messenger.createGroup(
      'Hundred',
      rest.map((c) => c.name),
    );
    await admin.messenger.flushOutbox();
    const before = admin.messenger.multiRecipientRequests;
    await admin.messenger.sendGroupText(group.id, 'first to a hundred');
    await admin.messenger.flushOutbox();
    const afterFirst = admin.messenger.multiRecipientRequests;
    await admin.messenger.sendGroupText(group.id, 'second to a hundred');
    await admin.messenger.flushOutbox();
    expect(afterFirst - before).toBe(1);
    expect(admin.messenger.multiRecipientRequests - afterFirst).toBe(1);
    // Every member gets both (each fetches once: update, sender key, then the two messages).
    for (const member of [rest[0]!, rest[49]!, rest[98]!]) {
      await member.messenger.fetchPending();
      await until(`${member.name} has both`, async () => (await groupTexts(member, group.id)).length === 2);
    }
    const sent = (await admin.messenger.messages(`group:${group.id}`)).messages.filter((m) => !m.system);
    expect(sent.map((m) => m.status)).toEqual(['sent', 'sent']);
  });
});

describe('cove group commands', () => {
  let server: TestServer;
  let a: TestClient;
  let b: TestClient;
  let c: TestClient;

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    a = await newClient(server.url, 'gcli_a', { oneTimePreKeys: 5 });
    b = await newClient(server.url, 'gcli_b', { oneTimePreKeys: 5 });
    c = await newClient(server.url, 'gcli_c', { oneTimePreKeys: 5 });
    for (const client of [a, b, c]) {
      await client.messenger.close();
      await client.platform.close();
    }
  }, 300_000);

  afterAll(async () => {
    for (const client of [a, b, c]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should create, send, listen, add, remove, leave and list from the command line', async () => {
    const created = await cove(a.dataDir, ['group', 'create', 'CLI crew', 'gcli_b'], { json: true });
    expect(created.code).toBe(0);
    const { groupId } = JSON.parse(created.lines[0]!) as { groupId: string };
    expect(groupId).toMatch(/^[0-9a-f]{64}$/);
    const plain = await cove(a.dataDir, ['group', 'list']);
    expect(plain.stdout).toContain(groupId);

    const listener = listen(b.dataDir);
    try {
      await listener.waitFor('the group arrives', (e) => e.type === 'group-update' && e.groupId === groupId);
      expect((await cove(a.dataDir, ['send', '--group', groupId, 'hello from the cli'])).code).toBe(0);
      const message = await listener.waitFor('the message', (e) => e.type === 'message' && e.groupId === groupId);
      expect(message).toMatchObject({ text: 'hello from the cli', username: 'gcli_a', groupId });
      // A command next to the running listener goes through it.
      expect((await cove(b.dataDir, ['send', '--group', groupId, 'reply'])).code).toBe(0);
    } finally {
      await listener.stop();
    }
    expect((await cove(a.dataDir, ['group', 'add', groupId, 'gcli_c'])).code).toBe(0);
    const listed = await cove(a.dataDir, ['group', 'list'], { json: true });
    const entry = JSON.parse(listed.lines[0]!) as { groupId: string; members: { username: string }[] };
    expect(entry.groupId).toBe(groupId);
    expect(entry.members.map((m) => m.username)).toEqual(['gcli_a', 'gcli_b', 'gcli_c']);
    expect((await cove(a.dataDir, ['group', 'remove', groupId, 'gcli_c'])).code).toBe(0);
    expect((await cove(b.dataDir, ['--json', 'listen', '--exit-when-idle'])).code).toBe(0);
    const left = await cove(b.dataDir, ['group', 'leave', groupId], { json: true });
    expect(left.code).toBe(0);
    expect(JSON.parse(left.lines[0]!)).toMatchObject({ groupId, active: false });
    // Non-admins, unknown groups and bad ids are refused with a usage error.
    expect((await cove(b.dataDir, ['group', 'add', groupId, 'gcli_c'])).code).toBe(2);
    expect((await cove(a.dataDir, ['send', '--group', 'nope', 'x'])).code).toBe(2);
  });
});
