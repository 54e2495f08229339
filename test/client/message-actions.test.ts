/**
 * Message actions between real clients over the real server: reactions (one per person, replacing, removable),
 * edits (with history), delete for everyone (a placeholder everywhere, local blobs gone), message info (delivered and
 * read times), forward and delete for me; and the attacks: a crafted sender (test/support/raw-device.ts) forging
 * edits, deletes and reactions aimed at someone else's message, editing after the window, more than ten edits,
 * duplicate deliveries, hostile emoji strings and huge values, actions for messages nobody has. Refused actions must
 * leave the stored message byte-for-byte as it was. The `cove` CLI (a real process) reacts, edits and deletes by
 * the id `history --json` prints and shows what the peer did in `listen --json` and `history`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode, resendLogKey } from '@cove/client';
import type { MessageEntry } from '@cove/client';
import { encodeContent } from '@cove/protocol';
import type { Content } from '@cove/protocol';

import { cove, ensureCliBuilt, jsonLines } from '../support/cli.js';
import { destroyClient, newClient, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(180_000);

const HOUR = 3600 * 1000;

/** A reaction written field by field, so that values the encoder refuses reach the wire. */
const rawReaction = (fields: { timestamp: bigint; emoji: string; author: string; target: bigint }): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(7, WireType.LengthDelimited).fork();
  writer.tag(1, WireType.Varint).uint64(fields.timestamp);
  writer.tag(2, WireType.LengthDelimited).string(fields.emoji);
  writer.tag(3, WireType.LengthDelimited).string(fields.author);
  writer.tag(4, WireType.Varint).uint64(fields.target);
  writer.join();
  return writer.finish();
};

describe('Message actions between clients', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let mallory: RawDevice;

  const find = async (client: TestClient, peer: string, text: string): Promise<MessageEntry | undefined> =>
    (await transcript(client, peer)).find((m) => m.text === text);
  const stored = async (client: TestClient, id: string): Promise<MessageEntry | undefined> =>
    client.platform.storage.get<MessageEntry>('messages', id);

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'ma_alice');
    bob = await newClient(server.url, 'ma_bob');
    mallory = await RawDevice.register(server.url, 'ma_mallory');
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 180_000);

  afterAll(async () => {
    for (const client of [alice, bob]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should carry reactions, one per person, replaced and removed', async () => {
    const sent = await alice.messenger.sendText('ma_bob', 'react to me');
    const received = await until('bob has it', () => find(bob, alice.accountId, 'react to me'));
    await bob.messenger.sendReaction(received.id, '👍');
    await until('alice sees 👍', async () => (await stored(alice, sent.id))?.reactions?.[0]?.emoji === '👍');
    await bob.messenger.sendReaction(received.id, '❤️');
    const replaced = await until('alice sees ❤️', async () => {
      const m = await stored(alice, sent.id);
      return m?.reactions?.[0]?.emoji === '❤️' ? m : undefined;
    });
    expect(replaced.reactions).toEqual([expect.objectContaining({ authorAccountId: bob.accountId, emoji: '❤️' })]);
    // Alice reacts to her own message too: two people, two reactions.
    await alice.messenger.sendReaction(sent.id, '😂');
    await until('bob sees both', async () => (await stored(bob, received.id))?.reactions?.length === 2);
    await bob.messenger.removeReaction(received.id, '❤️');
    await until('alice sees it removed', async () => (await stored(alice, sent.id))?.reactions?.length === 1);
    expect((await stored(alice, sent.id))?.reactions?.map((r) => r.authorAccountId)).toEqual([alice.accountId]);
    expect(alice.events.some((e) => e.type === 'reaction' && e.remove && e.accountId === bob.accountId)).toBe(true);
    // Not an emoji, or several: refused before anything is stored or sent.
    for (const bad of ['ok', '👍👍', '', '\u202e👍'])
      await expect(bob.messenger.sendReaction(received.id, bad)).rejects.toMatchObject({
        code: ClientErrorCode.InvalidInput,
      });
  });

  it('should edit a message for everyone and keep its history', async () => {
    const sent = await alice.messenger.sendText('ma_bob', 'first draft');
    const received = await until('bob has it', () => find(bob, alice.accountId, 'first draft'));
    await alice.messenger.editMessage(sent.id, 'second draft');
    await alice.messenger.editMessage(sent.id, 'final text');
    const edited = await until('bob sees the edit', async () => {
      const m = await stored(bob, received.id);
      return m?.text === 'final text' ? m : undefined;
    });
    expect(edited.edits?.map((e) => e.text)).toEqual(['first draft', 'second draft']);
    expect(edited.editedAt).toBeGreaterThan(edited.timestamp);
    expect(bob.events.some((e) => e.type === 'message-edited' && e.message.id === received.id)).toBe(true);
    expect((await stored(alice, sent.id))?.text).toBe('final text');
    // Only one's own messages, and not to the same text.
    await expect(bob.messenger.editMessage(received.id, 'bob rewrites alice')).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
    await expect(alice.messenger.editMessage(sent.id, 'final text')).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
  });

  it('should delete for everyone, leaving a placeholder on both sides, and for me only here', async () => {
    const sent = await alice.messenger.sendText('ma_bob', 'regret this');
    const received = await until('bob has it', () => find(bob, alice.accountId, 'regret this'));
    await bob.messenger.sendReaction(received.id, '😮');
    await until('alice sees the reaction', async () => (await stored(alice, sent.id))?.reactions?.length === 1);
    await expect(bob.messenger.deleteForEveryone(received.id)).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
    await alice.messenger.deleteForEveryone(sent.id);
    const gone = await until('bob sees the deletion', async () => {
      const m = await stored(bob, received.id);
      return m?.deletedAt !== undefined ? m : undefined;
    });
    expect(gone).toMatchObject({ text: '', quote: null });
    expect(gone.reactions).toBeUndefined();
    expect(await stored(alice, sent.id)).toMatchObject({ text: '' });
    // Nothing left for a retry request to bring back.
    expect(await alice.platform.storage.get('resendLog', resendLogKey(bob.accountId, sent.timestamp))).toBeUndefined();
    // No reaction or edit for a deleted message.
    await expect(bob.messenger.sendReaction(received.id, '👍')).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
    await expect(alice.messenger.editMessage(sent.id, 'back')).rejects.toMatchObject({
      code: ClientErrorCode.InvalidInput,
    });
    // Delete for me: gone here, still on the other side.
    const mine = await alice.messenger.sendText('ma_bob', 'keep on bob');
    await until('bob has it', () => find(bob, alice.accountId, 'keep on bob'));
    expect(await alice.messenger.deleteForMe(mine.id)).toBe(true);
    expect(await alice.messenger.message(mine.id)).toBeUndefined();
    expect(await find(bob, alice.accountId, 'keep on bob')).toBeDefined();
  });

  it('should report delivery and read times in message info, and forward text', async () => {
    const sent = await alice.messenger.sendText('ma_bob', 'info please');
    await until('delivered', async () => (await stored(alice, sent.id))?.status === 'delivered');
    // Alice wrote first and Bob never answered: a message request, read receipts only once he accepts.
    await bob.messenger.accept(alice.accountId);
    await bob.messenger.markRead(alice.accountId);
    const info = await until('read time', async () => {
      const i = await alice.messenger.messageInfo(sent.id);
      return i?.recipients[0]?.readAt ? i : undefined;
    });
    expect(info.recipients).toEqual([
      expect.objectContaining({ accountId: bob.accountId, username: 'ma_bob', deliveredAt: expect.any(Number) }),
    ]);
    expect(info.recipients[0]!.readAt!).toBeGreaterThanOrEqual(info.recipients[0]!.deliveredAt!);
    expect(info.serverTimestamp).toEqual(expect.any(Number));
    const received = await until('bob has it', () => find(bob, alice.accountId, 'info please'));
    expect((await bob.messenger.messageInfo(received.id))?.recipients).toEqual([]);
    await bob.messenger.forward(received.id, 'ma_alice');
    await until('alice gets the forward', async () =>
      (await transcript(alice, bob.accountId)).some((m) => m.direction === 'incoming' && m.text === 'info please'),
    );
  });

  it('should refuse forged, late, excessive, duplicate and hostile actions and leave messages untouched', async () => {
    const sent = await alice.messenger.sendText('ma_bob', 'only alice may change this');
    const target = await until('bob has it', () => find(bob, alice.accountId, 'only alice may change this'));
    // Mallory's own messages: one fresh, one sent 60 h before the envelope (inside the content window of 3 days,
    // outside the receivers' 24 h + 24 h edit window).
    const now = Date.now();
    const own = now - 1000;
    const old = now - 60 * HOUR;
    for (const [timestamp, text] of [
      [own, 'mallory fresh'],
      [old, 'mallory old'],
    ] as const) {
      const content: Content = { kind: 'data', data: { text, timestamp, senderUsername: 'ma_mallory' } };
      expect((await mallory.send(bob.accountId, encodeContent(content))).status).toBe(200);
    }
    await until('bob has mallory', async () => (await transcript(bob, mallory.accountId)).length === 2);
    const before = structuredClone(await stored(bob, target.id));
    const send = async (content: Content): Promise<void> => {
      expect((await mallory.send(bob.accountId, encodeContent(content))).status).toBe(200);
    };
    let t = Date.now();
    // Forged: alice's message named by its timestamp, by mallory.
    await send({ kind: 'edit', edit: { timestamp: ++t, targetTimestamp: sent.timestamp, text: 'forged' } });
    await send({ kind: 'delete', delete: { timestamp: ++t, targetTimestamp: sent.timestamp } });
    await send({
      kind: 'reaction',
      reaction: {
        timestamp: ++t,
        emoji: '💩',
        targetAuthorAccountId: alice.accountId,
        targetTimestamp: sent.timestamp,
      },
    });
    // Late: mallory's own message, older than the window.
    await send({ kind: 'edit', edit: { timestamp: ++t, targetTimestamp: old, text: 'too late' } });
    await send({ kind: 'delete', delete: { timestamp: ++t, targetTimestamp: old } });
    // For a message nobody has.
    await send({ kind: 'edit', edit: { timestamp: ++t, targetTimestamp: own - 12345, text: 'nothing there' } });
    // Eleven edits of its own fresh message, the first one delivered twice (same content, same timestamps).
    const first: Content = { kind: 'edit', edit: { timestamp: ++t, targetTimestamp: own, text: 'edit 1' } };
    await send(first);
    await send(first);
    for (let i = 2; i <= 11; i += 1)
      await send({ kind: 'edit', edit: { timestamp: ++t, targetTimestamp: own, text: `edit ${i}` } });
    // Hostile values the encoder refuses, written on the wire by hand.
    const hostile: Uint8Array[] = [
      rawReaction({ timestamp: BigInt(++t), emoji: 'not an emoji', author: mallory.accountId, target: BigInt(own) }),
      rawReaction({ timestamp: BigInt(++t), emoji: '👍👎', author: mallory.accountId, target: BigInt(own) }),
      rawReaction({ timestamp: BigInt(++t), emoji: '\u202e👍', author: mallory.accountId, target: BigInt(own) }),
      rawReaction({ timestamp: BigInt(++t), emoji: '👍'.repeat(5000), author: mallory.accountId, target: BigInt(own) }),
      rawReaction({ timestamp: BigInt(++t), emoji: '👍', author: 'not-a-uuid', target: BigInt(own) }),
      rawReaction({ timestamp: BigInt(++t), emoji: '👍', author: mallory.accountId, target: 9_000_000_000_000_000n }),
      rawReaction({ timestamp: 9_000_000_000_000_000n, emoji: '👍', author: mallory.accountId, target: BigInt(own) }),
    ];
    for (const bytes of hostile) expect((await mallory.send(bob.accountId, bytes)).status).toBe(200);
    // A valid reaction last: once it shows, everything before it was processed.
    await send({
      kind: 'reaction',
      reaction: { timestamp: t + 1, emoji: '🎉', targetAuthorAccountId: mallory.accountId, targetTimestamp: own },
    });
    const fresh = await until('the last reaction arrives', async () => {
      const m = (await transcript(bob, mallory.accountId)).find((x) => x.timestamp === own);
      return m?.reactions?.length ? m : undefined;
    });

    expect(await stored(bob, target.id)).toEqual(before);
    expect(fresh.text).toBe('edit 10');
    expect(fresh.edits?.map((e) => e.text)).toEqual([
      'mallory fresh',
      ...Array.from({ length: 9 }, (_, i) => `edit ${i + 1}`),
    ]);
    expect(fresh.reactions).toEqual([expect.objectContaining({ authorAccountId: mallory.accountId, emoji: '🎉' })]);
    const late = (await transcript(bob, mallory.accountId)).find((x) => x.timestamp === old);
    expect(late).toMatchObject({ text: 'mallory old' });
    expect(late?.deletedAt).toBeUndefined();
    expect(late?.edits).toBeUndefined();
    const rejected = bob.events.filter((e) => e.type === 'message-rejected' && e.accountId === mallory.accountId);
    expect(rejected).toHaveLength(hostile.length);
    // And the conversation still works.
    await alice.messenger.sendText('ma_bob', 'still fine');
    await until('bob still receives', () => find(bob, alice.accountId, 'still fine'));
  });
});

describe('Message actions in the cove CLI', () => {
  let server: TestServer;
  let root: string;
  let carolDir: string;
  let dave: TestClient;

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    root = await mkdtemp(join(tmpdir(), 'cove-actions-cli-'));
    carolDir = join(root, 'carol');
    expect((await cove(carolDir, ['register', '--server', server.url, '--username', 'ma_carol'])).code).toBe(0);
    dave = await newClient(server.url, 'ma_dave');
    await dave.messenger.connect();
  }, 180_000);

  afterAll(async () => {
    if (dave) await destroyClient(dave);
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should react, edit and delete by the id history prints, and show what the peer did', async () => {
    const carolId = (JSON.parse((await cove(carolDir, ['whoami'], { json: true })).lines[0]!) as { accountId: string })
      .accountId;
    const fromDave = await dave.messenger.sendText('ma_carol', 'hello carol');
    await dave.messenger.flushOutbox();
    expect((await cove(carolDir, ['listen', '--exit-when-idle'], { json: true })).code).toBe(0);
    expect((await cove(carolDir, ['send', 'ma_dave', 'carol wrote this'])).code).toBe(0);
    const history = jsonLines((await cove(carolDir, ['history', 'ma_dave'], { json: true })).stdout);
    const incomingId = history.find((m) => m.text === 'hello carol')?.id as string;
    const ownId = history.find((m) => m.text === 'carol wrote this')?.id as string;
    expect(incomingId).toMatch(/^direct:/);

    const reacted = await cove(carolDir, ['react', 'ma_dave', incomingId, '👍'], { json: true });
    expect(reacted.code).toBe(0);
    expect(JSON.parse(reacted.lines[0]!)).toMatchObject({ type: 'reacted', id: incomingId, queued: false });
    expect((await cove(carolDir, ['edit', 'ma_dave', ownId, 'carol rewrote this'])).code).toBe(0);
    await until('dave sees the reaction and the edit', async () => {
      const messages = await transcript(dave, carolId);
      const mine = messages.find((m) => m.id === fromDave.id);
      return mine?.reactions?.[0]?.emoji === '👍' && messages.some((m) => m.text === 'carol rewrote this');
    });
    expect((await cove(carolDir, ['delete', 'ma_dave', ownId, '--for-everyone'])).code).toBe(0);
    await until('dave sees the deletion', async () =>
      (await transcript(dave, carolId)).some((m) => m.direction === 'incoming' && m.deletedAt !== undefined),
    );
    // Usage errors: a bad emoji, someone else's message for everyone, an id from another chat.
    expect((await cove(carolDir, ['react', 'ma_dave', incomingId, 'yes'])).code).toBe(2);
    expect((await cove(carolDir, ['delete', 'ma_dave', incomingId, '--for-everyone'])).code).toBe(2);
    expect((await cove(carolDir, ['edit', 'ma_dave', 'direct:nope/1', 'x'])).code).toBe(2);

    // Dave acts; carol's listener shows it.
    const later = await dave.messenger.sendText('ma_carol', 'dave typo');
    await dave.messenger.flushOutbox();
    expect((await cove(carolDir, ['listen', '--exit-when-idle'], { json: true })).code).toBe(0);
    expect((await cove(carolDir, ['send', 'ma_dave', 'carol again'])).code).toBe(0);
    const carolAgain = await until('dave has it', async () =>
      (await transcript(dave, carolId)).find((m) => m.text === 'carol again'),
    );
    await dave.messenger.editMessage(later.id, 'dave fixed');
    await dave.messenger.sendReaction(carolAgain.id, '🔥');
    await dave.messenger.deleteForEveryone(fromDave.id);
    await dave.messenger.flushOutbox();
    const run = await cove(carolDir, ['listen', '--exit-when-idle'], { json: true });
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout);
    expect(events.find((e) => e.type === 'edit')).toMatchObject({ text: 'dave fixed', author: dave.accountId });
    expect(events.find((e) => e.type === 'delete')).toMatchObject({ messageId: incomingId, author: dave.accountId });
    expect(events.find((e) => e.type === 'reaction')).toMatchObject({
      emoji: '🔥',
      remove: false,
      author: dave.accountId,
      targetAuthor: carolId,
    });
    const text = (await cove(carolDir, ['history', 'ma_dave'])).stdout;
    expect(text).toContain('dave fixed (edited)');
    expect(text).toContain('(this message was deleted)');
    expect(text).toMatch(/carol again \[🔥 1\]/);
  });
});
