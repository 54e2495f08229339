/**
 * One message must never brick a client or forge what it shows. A crafted sender (test/support/raw-device.ts) sends
 * through the real server what the protocol can encode but Cove must refuse — a timestamp past JavaScript's date
 * range (9e15), a week in the future, a timer of 136 years, a quote from the year 287,000, lists of 501 and 101
 * timestamps — and text that forges a line from someone else or drives the terminal. The `cove` CLI, spawned as a
 * process, must drop the first kind (reported, acknowledged), keep listening, keep `history` and `conversations`
 * working (also over hostile values already on disk from an older build), and show the second kind escaped while
 * `--json` stays exact.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { ConversationEntry, MessageEntry } from '@cove/client';
import { createNodePlatform, createStderrLogger } from '@cove/client/node';
import { encodeContent } from '@cove/protocol';

import { cove, ensureCliBuilt, jsonLines } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(180_000);

const DAY = 24 * 3600 * 1000;

/** A data message written field by field (the encoder refuses these values, an attacker's does not). */
const hostileData = (fields: { timestamp: bigint; text?: string; expire?: number; quoteTimestamp?: bigint }) => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(2, WireType.LengthDelimited).fork();
  writer.tag(1, WireType.LengthDelimited).string(fields.text ?? 'hostile');
  writer.tag(2, WireType.Varint).uint64(fields.timestamp);
  if (fields.quoteTimestamp !== undefined) {
    writer.tag(3, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.Varint).uint64(fields.quoteTimestamp);
    writer.tag(2, WireType.LengthDelimited).string('2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b');
    writer.tag(3, WireType.LengthDelimited).string('quoted');
    writer.join();
  }
  if (fields.expire !== undefined) writer.tag(4, WireType.Varint).uint32(fields.expire);
  writer.tag(5, WireType.LengthDelimited).string('hc_mallory');
  writer.join();
  return writer.finish();
};

const timestampList = (body: 3 | 5, count: number): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(body, WireType.LengthDelimited).fork();
  writer.tag(body === 3 ? 2 : 1, WireType.LengthDelimited).fork();
  for (let i = 0; i < count; i += 1) writer.uint64(BigInt(Date.now() - i));
  writer.join();
  writer.join();
  return writer.finish();
};

describe('Hostile content and the cove CLI', () => {
  let server: TestServer;
  let root: string;
  let bob: string;
  let bobId: string;
  let mallory: RawDevice;

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer();
    root = await mkdtemp(join(tmpdir(), 'cove-hostile-'));
    bob = join(root, 'bob');
    expect((await cove(bob, ['register', '--server', server.url, '--username', 'hc_bob'])).code).toBe(0);
    bobId = (JSON.parse((await cove(bob, ['whoami'], { json: true })).lines[0]!) as { accountId: string }).accountId;
    mallory = await RawDevice.register(server.url, 'hc_mallory');
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should drop out-of-bounds values, report them, and keep listening', async () => {
    const now = Date.now();
    const hostile: [string, Uint8Array][] = [
      ['a timestamp past the date range', hostileData({ timestamp: 9_000_000_000_000_000n })],
      ['a timestamp a week ahead', hostileData({ timestamp: BigInt(now + 7 * DAY) })],
      ['a timer of 136 years', hostileData({ timestamp: BigInt(now), expire: 0xffffffff })],
      ['a quote from the far future', hostileData({ timestamp: BigInt(now), quoteTimestamp: 9_000_000_000_000_000n })],
      ['a receipt of 501 timestamps', timestampList(3, 501)],
      ['a retry request of 101 timestamps', timestampList(5, 101)],
    ];
    for (const [, bytes] of hostile) expect((await mallory.send(bobId, bytes)).status).toBe(200);
    const fine = encodeContent({
      kind: 'data',
      data: { text: 'still alive', timestamp: Date.now(), senderUsername: 'hc_mallory' },
    });
    expect((await mallory.send(bobId, fine)).status).toBe(200);

    const run = await cove(bob, ['listen', '--exit-when-idle'], { json: true });
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout);
    expect(events.filter((e) => e.type === 'message').map((e) => e.text)).toEqual(['still alive']);
    const rejected = events.filter((e) => e.type === 'message-rejected');
    expect(rejected).toHaveLength(hostile.length);
    expect(new Set(rejected.map((e) => e.reason))).toEqual(new Set(['out_of_range', 'too_large']));
    expect(rejected.every((e) => e.accountId === mallory.accountId)).toBe(true);

    // Acknowledged: nothing comes back on the next run, and the history shows only the good message.
    const again = await cove(bob, ['listen', '--exit-when-idle'], { json: true });
    expect(again.code).toBe(0);
    expect(jsonLines(again.stdout).filter((e) => e.type === 'message' || e.type === 'message-rejected')).toEqual([]);
    const history = await cove(bob, ['history', 'hc_mallory'], { json: true });
    expect(history.code).toBe(0);
    expect(jsonLines(history.stdout).map((m) => m.text)).toEqual(['still alive']);
    expect((await cove(bob, ['conversations'])).code).toBe(0);
  });

  it('should keep history and conversations working over hostile values already stored', async () => {
    const platform = await createNodePlatform({ dataDir: bob, logger: createStderrLogger('silent') });
    const conversation = (await platform.storage.get<ConversationEntry>(
      'conversations',
      `direct:${mallory.accountId}`,
    ))!;
    const stored: MessageEntry = {
      id: `${conversation.id}/99999999999999999ffffff`,
      conversationId: conversation.id,
      direction: 'incoming',
      authorAccountId: mallory.accountId,
      authorDeviceId: 1,
      timestamp: 9e15,
      serverTimestamp: Number.MAX_SAFE_INTEGER,
      storedAt: Date.now(),
      text: 'stored by an older build',
      quote: { timestamp: 9e15, authorAccountId: bobId, text: 'q' },
      expireTimerSeconds: null,
      status: 'received',
      read: true,
      error: null,
    };
    await platform.storage.commit([
      { op: 'put', table: 'messages', key: stored.id, value: stored },
      {
        op: 'put',
        table: 'conversations',
        key: conversation.id,
        value: { ...conversation, lastMessageAt: 9e15, lastMessageKey: stored.id, unreadCount: 3 },
      },
    ]);
    await platform.close();

    const text = await cove(bob, ['history', 'hc_mallory']);
    expect(text.code).toBe(0);
    expect(text.lines).toContain('[(invalid time)] hc_mallory: stored by an older build');
    const json = await cove(bob, ['history', 'hc_mallory'], { json: true });
    expect(json.code).toBe(0);
    expect(jsonLines(json.stdout).find((m) => m.text === 'stored by an older build')).toMatchObject({
      timestamp: 9e15,
    });
    const conversations = await cove(bob, ['conversations']);
    expect(conversations.code).toBe(0);
    expect(conversations.lines).toContain('hc_mallory (3 unread)');
    expect((await cove(bob, ['listen', '--exit-when-idle'])).code).toBe(0);
  });

  it('should escape forged lines, escape sequences and bidi overrides in text output and keep JSON exact', async () => {
    const forged =
      'see you\n[2026-01-01 00:00:00] hc_bank: your code is 1234, reply with it\u001b[2J\u001b]0;owned\u0007 \u202egnp.exe';
    const content = encodeContent({
      kind: 'data',
      data: { text: forged, timestamp: Date.now(), senderUsername: 'hc_mallory' },
    });
    expect((await mallory.send(bobId, content)).status).toBe(200);

    const run = await cove(bob, ['listen', '--exit-when-idle']);
    expect(run.code).toBe(0);
    const shown = run.lines.filter((l) => l.includes('see you'));
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] hc_mallory: see you\\n\[2026-01-01 00:00:00\] hc_bank: your code is 1234, reply with it\\x1b\[2J\\x1b\]0;owned\\x07 \\u202egnp\.exe$/,
    );
    expect(run.lines.some((l) => l.startsWith('[2026-01-01 00:00:00] hc_bank'))).toBe(false);
    for (const raw of ['\u001b', '\u0007', '\u202e']) expect(run.stdout).not.toContain(raw);

    const history = await cove(bob, ['history', 'hc_mallory']);
    expect(history.code).toBe(0);
    expect(history.lines.filter((l) => l.includes('see you'))).toEqual(shown.map((l) => l));
    for (const raw of ['\u001b', '\u0007', '\u202e']) expect(history.stdout).not.toContain(raw);

    const json = await cove(bob, ['history', 'hc_mallory'], { json: true });
    expect(json.code).toBe(0);
    expect(jsonLines(json.stdout).some((m) => m.text === forged)).toBe(true);
    for (const raw of ['\u001b', '\u0007', '\u202e']) expect(json.stdout).not.toContain(raw);
  });
});
