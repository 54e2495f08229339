/**
 * Everything a 1:1 chat has, in a group, end to end: three Node clients and the real `cove` CLI on one real server.
 * Replies with quotes, reactions, edits with history, delete for everyone, a photo with a caption (uploaded once),
 * typing indicators sent with the sender key, delivery and read receipts going 1:1 to the author (message info
 * per member), and members named by their profile name. The attacks: an edit or delete naming another member's
 * message, a reaction naming a message outside the group, an edit from a member after their removal, and a group
 * action from someone who is not in the group — each refused, nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { GroupEntry, MessageEntry } from '@cove/client';
import { encodeContent } from '@cove/protocol';
import type { Content } from '@cove/protocol';

import { fromHex } from '../../packages/client/src/groups.js';
import { newOutboxEntry } from '../../packages/client/src/outbox.js';
import { cove, ensureCliBuilt, listen } from '../support/cli.js';
import { destroyClient, newClient, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(600_000);

const inGroup = async (client: TestClient, groupId: string): Promise<MessageEntry[]> =>
  (await client.messenger.messages(`group:${groupId}`, { limit: 500 })).messages.filter((m) => !m.system).reverse();

/** The copy of the message sent at `timestamp` by `author` that `client` holds. */
const copyOf = async (
  client: TestClient,
  groupId: string,
  author: TestClient,
  timestamp: number,
): Promise<MessageEntry | undefined> =>
  (await inGroup(client, groupId)).find((m) => m.authorAccountId === author.accountId && m.timestamp === timestamp);

/**
 * Writes `content` straight into a client's outbox — as a modified client would, past every check of its own — to
 * the group (one sender-key message to every member) or to one account (pairwise), and sends it.
 */
const forge = async (client: TestClient, destination: string, content: Content): Promise<void> => {
  const ctx = {
    platform: client.platform,
    sequencer: { next: () => `${Date.now()}` },
    timestamps: { next: () => Date.now() },
  };
  const timestamp = Date.now();
  const entry = newOutboxEntry(ctx as never, {
    destination,
    kind: destination.startsWith('group:') ? 'group' : 'action',
    timestamp,
    content: encodeContent(content),
  });
  await client.platform.storage.commit([{ op: 'put', table: 'outbox', key: entry.id, value: entry }]);
  await client.messenger.flushOutbox();
};

describe('message actions, attachments, typing and receipts in a group', () => {
  let server: TestServer;
  let ann: TestClient;
  let ben: TestClient;
  let cat: TestClient;
  let dan: TestClient;
  let group: GroupEntry;
  let context: { id: Uint8Array; revision: number };
  let annFirst: MessageEntry;
  let benReply: MessageEntry;

  beforeAll(async () => {
    server = await startTestServer();
    ann = await newClient(server.url, 'gact_ann', { oneTimePreKeys: 5 });
    ben = await newClient(server.url, 'gact_ben', { oneTimePreKeys: 5 });
    cat = await newClient(server.url, 'gact_cat', { oneTimePreKeys: 5 });
    dan = await newClient(server.url, 'gact_dan', { oneTimePreKeys: 5 });
    await Promise.all([ann, ben, cat, dan].map((c) => c.messenger.connect()));
    group = await ann.messenger.createGroup('Actions', ['gact_ben', 'gact_cat']);
    context = { id: fromHex(group.id), revision: 0 };
    for (const member of [ben, cat])
      await until(`${member.name} joins`, async () => (await member.messenger.group(group.id))?.revision === 0);
  }, 300_000);

  afterAll(async () => {
    for (const client of [ann, ben, cat, dan]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should carry a reply with its quote, and name members by their profile name', async () => {
    await ben.messenger.setProfile({ name: 'Benjamin B.' });
    annFirst = await ann.messenger.sendGroupText(group.id, 'Saturday or Sunday?');
    const atBen = await until('ben gets it', () => copyOf(ben, group.id, ann, annFirst.timestamp));
    const quote = { timestamp: atBen.timestamp, authorAccountId: ann.accountId, text: atBen.text };
    benReply = await ben.messenger.sendGroupText(group.id, 'Sunday!', { quote });
    for (const member of [ann, cat]) {
      const reply = await until(`${member.name} gets the reply`, () =>
        copyOf(member, group.id, ben, benReply.timestamp),
      );
      expect(reply.quote).toEqual(quote);
    }
    // A quote of a message that is not in the group is refused before anything is stored.
    await expect(
      ben.messenger.sendGroupText(group.id, 'x', { quote: { ...quote, timestamp: quote.timestamp - 1 } }),
    ).rejects.toThrow('not in this group');
    // Ben's profile key came with his group message: Ann (never in a 1:1 chat with him) shows his profile name.
    await until('ann names ben by his profile', async () => {
      const names = await ann.messenger.groupMemberNames(group.id);
      return names[ben.accountId] === 'Benjamin B.' && names[ann.accountId] === 'You';
    });
    expect((await cat.messenger.groupMemberNames(group.id))[ann.accountId]).toBe('gact_ann');
  });

  it("should apply a reaction to another member's message for everyone, and replace it", async () => {
    const atCat = (await copyOf(cat, group.id, ben, benReply.timestamp))!;
    await cat.messenger.sendReaction(atCat.id, '👍');
    for (const member of [ann, ben])
      await until(`${member.name} sees cat's reaction`, async () => {
        const copy = await copyOf(member, group.id, ben, benReply.timestamp);
        return copy?.reactions?.length === 1 && copy.reactions[0]?.emoji === '👍' ? copy : null;
      });
    expect(ann.events.some((e) => e.type === 'reaction' && e.conversationId === `group:${group.id}`)).toBe(true);
    await cat.messenger.sendReaction(atCat.id, '🎉');
    await until('ben sees it replaced', async () => {
      const copy = await copyOf(ben, group.id, ben, benReply.timestamp);
      return copy?.reactions?.map((r) => `${r.authorAccountId}:${r.emoji}`).join() === `${cat.accountId}:🎉`;
    });
  });

  it('should edit with history and delete for everyone, only by the author', async () => {
    await ben.messenger.editMessage(benReply.id, 'Sunday! (after 10)');
    for (const member of [ann, cat])
      await until(`${member.name} sees the edit`, async () => {
        const copy = await copyOf(member, group.id, ben, benReply.timestamp);
        return copy?.text === 'Sunday! (after 10)' && copy.edits?.[0]?.text === 'Sunday!';
      });
    const atBen = (await copyOf(ben, group.id, ann, annFirst.timestamp))!;
    await expect(ben.messenger.editMessage(atBen.id, 'mine now')).rejects.toThrow('only your own');
    await expect(ben.messenger.deleteForEveryone(atBen.id)).rejects.toThrow('only your own');
    const doomed = await ann.messenger.sendGroupText(group.id, 'oops, wrong group');
    await until('cat has it', () => copyOf(cat, group.id, ann, doomed.timestamp));
    await ann.messenger.deleteForEveryone(doomed.id);
    for (const member of [ben, cat])
      await until(`${member.name} sees the deletion`, async () => {
        const copy = await copyOf(member, group.id, ann, doomed.timestamp);
        return copy?.deletedAt !== undefined && copy.text === '';
      });
  });

  it('should send a photo with its caption once to every member', async () => {
    const photo = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251);
    const sent = await cat.messenger.sendGroupAttachment(group.id, {
      source: photo,
      contentType: 'image/png',
      fileName: 'summit.png',
      caption: 'the view',
      width: 640,
      height: 480,
    });
    await cat.messenger.flushOutbox();
    expect((await cat.messenger.message(sent.id))?.status).not.toBe('failed');
    for (const member of [ann, ben]) {
      const copy = await until(`${member.name} gets the photo`, () => copyOf(member, group.id, cat, sent.timestamp));
      expect(copy.text).toBe('the view');
      expect(copy.attachments?.[0]).toMatchObject({ contentType: 'image/png', fileName: 'summit.png', width: 640 });
      await member.messenger.downloadAttachment(copy.id, 0);
      const chunks: Uint8Array[] = [];
      for await (const chunk of member.messenger.readAttachment(copy.id, 0)) chunks.push(chunk);
      expect(Buffer.concat(chunks)).toEqual(Buffer.from(photo));
    }
  });

  it('should show typing with the sender key, and receipts per member in the message info', async () => {
    await until('ben tells the group he is typing', () => ben.messenger.sendTyping(`group:${group.id}`, 'started'));
    for (const member of [ann, cat])
      await until(`${member.name} sees ben typing`, () =>
        member.events.some(
          (e) => e.type === 'typing' && e.conversationId === `group:${group.id}` && e.accountId === ben.accountId,
        ),
      );
    const asked = await ann.messenger.sendGroupText(group.id, 'who has read this?');
    await until('delivered to both', async () => (await ann.messenger.message(asked.id))?.status === 'delivered');
    const delivered = (await ann.messenger.messageInfo(asked.id))!;
    expect(delivered.recipients.map((r) => r.accountId).sort()).toEqual([ben.accountId, cat.accountId].sort());
    expect(delivered.recipients.every((r) => r.deliveredAt !== null && r.readAt === null)).toBe(true);
    await until('ben has it', () => copyOf(ben, group.id, ann, asked.timestamp));
    await ben.messenger.markRead(`group:${group.id}`);
    await until('ann learns ben read it', async () => {
      const info = await ann.messenger.messageInfo(asked.id);
      return info?.recipients.find((r) => r.accountId === ben.accountId)?.readAt != null;
    });
    // Read by one of two members: still only delivered; read once cat reads it too.
    expect((await ann.messenger.message(asked.id))?.status).toBe('delivered');
    await until('cat has it', () => copyOf(cat, group.id, ann, asked.timestamp));
    await cat.messenger.markRead(`group:${group.id}`);
    await until('read by all', async () => (await ann.messenger.message(asked.id))?.status === 'read');
  });

  it("should refuse an edit or delete naming another member's message, and a reaction to one outside the group", async () => {
    const benText = (await copyOf(ann, group.id, ben, benReply.timestamp))!.text;
    const annRejections = (): number =>
      ann.events.filter((e) => e.type === 'message-rejected' && e.accountId === cat.accountId).length;
    // Cat's modified client edits and deletes Ben's message, in the group, with her own sender key.
    await forge(cat, `group:${group.id}`, {
      kind: 'edit',
      edit: { timestamp: Date.now(), targetTimestamp: benReply.timestamp, text: 'cat was here', group: context },
    });
    await forge(cat, `group:${group.id}`, {
      kind: 'delete',
      delete: { timestamp: Date.now(), targetTimestamp: benReply.timestamp, group: context },
    });
    // Ann and Cat have a 1:1 chat; a reaction "in the group" naming that 1:1 message finds nothing in the group.
    const direct = await ann.messenger.sendText('gact_cat', 'just between us');
    await until('cat has the 1:1 message', async () =>
      (await cat.messenger.messages('gact_ann')).messages.some((m) => m.timestamp === direct.timestamp),
    );
    await forge(cat, `group:${group.id}`, {
      kind: 'reaction',
      reaction: {
        timestamp: Date.now(),
        emoji: '💀',
        targetAuthorAccountId: ann.accountId,
        targetTimestamp: direct.timestamp,
        group: context,
      },
    });
    // And a 1:1 reaction (no group) naming Ben's group message is not applied to the group either.
    await forge(cat, ann.accountId, {
      kind: 'reaction',
      reaction: {
        timestamp: Date.now(),
        emoji: '💀',
        targetAuthorAccountId: ben.accountId,
        targetTimestamp: benReply.timestamp,
      },
    });
    const marker = await cat.messenger.sendGroupText(group.id, 'marker after the forgeries');
    for (const member of [ann, ben])
      await until(`${member.name} got the marker`, () => copyOf(member, group.id, cat, marker.timestamp));
    await until('ann has the 1:1 reaction attempt', async () => (await ann.messenger.outboxSize()) === 0);
    for (const member of [ann, ben]) {
      const copy = (await copyOf(member, group.id, ben, benReply.timestamp))!;
      expect(copy.text).toBe(benText);
      expect(copy.deletedAt).toBeUndefined();
      expect(copy.reactions?.some((r) => r.emoji === '💀') ?? false).toBe(false);
    }
    expect((await ann.messenger.message(direct.id))?.reactions).toBeUndefined();
    expect(annRejections()).toBe(0);
  });

  it('should refuse a group action from someone not in the group, and from a member after removal', async () => {
    // Dan was never in the group: his action naming it (pairwise; he has no sender key of it) is refused.
    await forge(dan, ann.accountId, {
      kind: 'reaction',
      reaction: {
        timestamp: Date.now(),
        emoji: '😈',
        targetAuthorAccountId: ann.accountId,
        targetTimestamp: annFirst.timestamp,
        group: context,
      },
    });
    await until('ann refuses dan', () =>
      ann.events.some(
        (e) => e.type === 'message-rejected' && e.accountId === dan.accountId && e.reason === 'group_refused',
      ),
    );
    expect((await ann.messenger.message(annFirst.id))?.reactions ?? []).toEqual([]);

    // Cat's own message, then her removal; afterwards her edit and delete of it (pairwise: the group's keys rotated).
    const catText = await cat.messenger.sendGroupText(group.id, 'cat before removal');
    await until('ann has it', () => copyOf(ann, group.id, cat, catText.timestamp));
    await ann.messenger.removeMembers(group.id, ['gact_cat']);
    await until('cat learns she is out', async () => (await cat.messenger.group(group.id))?.active === false);
    await expect(cat.messenger.editMessage(catText.id, 'rewritten')).rejects.toThrow('no longer in this group');
    const removedContext = { id: context.id, revision: 1 };
    await forge(cat, ann.accountId, {
      kind: 'edit',
      edit: { timestamp: Date.now(), targetTimestamp: catText.timestamp, text: 'rewritten', group: removedContext },
    });
    await forge(cat, ann.accountId, {
      kind: 'delete',
      delete: { timestamp: Date.now(), targetTimestamp: catText.timestamp, group: removedContext },
    });
    await until(
      'ann refuses both',
      () =>
        ann.events.filter(
          (e) => e.type === 'message-rejected' && e.accountId === cat.accountId && e.reason === 'group_refused',
        ).length >= 2,
    );
    const kept = (await copyOf(ann, group.id, cat, catText.timestamp))!;
    expect(kept.text).toBe('cat before removal');
    expect(kept.deletedAt).toBeUndefined();
  });
});

describe('group message actions from the command line', () => {
  let server: TestServer;
  let a: TestClient;
  let b: TestClient;

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    a = await newClient(server.url, 'gactcli_a', { oneTimePreKeys: 5 });
    b = await newClient(server.url, 'gactcli_b', { oneTimePreKeys: 5 });
    for (const client of [a, b]) {
      await client.messenger.close();
      await client.platform.close();
    }
  }, 300_000);

  afterAll(async () => {
    for (const client of [a, b]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should react, edit, delete for everyone and send a file with --group, and listen --json show the group', async () => {
    const created = await cove(a.dataDir, ['group', 'create', 'CLI actions', 'gactcli_b'], { json: true });
    const { groupId } = JSON.parse(created.lines[0]!) as { groupId: string };
    const listener = listen(b.dataDir);
    try {
      await listener.waitFor('the group', (e) => e.type === 'group-update' && e.groupId === groupId);
      const sent = await cove(a.dataDir, ['send', '--group', groupId, 'first draft'], { json: true });
      expect(sent.code).toBe(0);
      const mine = JSON.parse(sent.lines[0]!) as { id: string };
      const received = await listener.waitFor('the text', (e) => e.type === 'message' && e.text === 'first draft');
      expect(received).toMatchObject({ groupId, author: a.accountId });

      // B reacts through its running listener; A's listen prints it with the group.
      expect((await cove(b.dataDir, ['react', '--group', groupId, String(received.id), '🔥'])).code).toBe(0);
      const seen = await cove(a.dataDir, ['--json', 'listen', '--exit-when-idle']);
      const reaction = seen.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.type === 'reaction');
      expect(reaction).toMatchObject({ groupId, emoji: '🔥', author: b.accountId, messageId: mine.id });

      expect((await cove(a.dataDir, ['edit', '--group', groupId, mine.id, 'final text'])).code).toBe(0);
      expect(await listener.waitFor('the edit', (e) => e.type === 'edit')).toMatchObject({
        groupId,
        text: 'final text',
        messageId: received.id,
      });
      // The message must be in the group named; the old positional form still wants a contact.
      expect((await cove(a.dataDir, ['edit', '--group', groupId, 'group:nope/1', 'x'])).code).toBe(2);
      expect((await cove(a.dataDir, ['react', mine.id, '🔥'])).code).toBe(2);

      expect((await cove(a.dataDir, ['delete', '--for-everyone', '--group', groupId, mine.id])).code).toBe(0);
      expect(await listener.waitFor('the deletion', (e) => e.type === 'delete')).toMatchObject({
        groupId,
        messageId: received.id,
      });

      const file = join(a.dataDir, 'notes.txt');
      await writeFile(file, 'packing list: boots, water, map\n');
      expect(
        (await cove(a.dataDir, ['send', '--group', groupId, '--file', file, '--caption', 'for sunday'])).code,
      ).toBe(0);
      const withFile = await listener.waitFor('the file', (e) => e.type === 'message' && e.text === 'for sunday');
      expect(withFile.groupId).toBe(groupId);
      const saved = (withFile.attachments as { path: string }[])[0]!;
      expect(await readFile(saved.path, 'utf8')).toBe('packing list: boots, water, map\n');
    } finally {
      await listener.stop();
    }
  });
});
