/**
 * Every numeric and string field of decoded Content has a bound: a valid encoding carrying a hostile value (a
 * timestamp past JavaScript's date range, a week in the future, a timer of decades, a list of thousands, a username
 * with control characters) is refused with a ContentError whose `reason` says why.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';

import {
  ContentError,
  MAX_EXPIRE_SECONDS,
  MAX_RETRY_TIMESTAMPS,
  MAX_TIMESTAMP_AHEAD_MS,
  MAX_TIMESTAMP_BEHIND_MS,
  MAX_TIMESTAMP_MS,
  decodeContent,
  encodeContent,
} from '../../src/content/index.js';
import type { ContentErrorReason } from '../../src/content/index.js';

const SERVER = 1_800_000_000_000;
const context = { serverTimestamp: SERVER };
const AUTHOR = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';

/** A data message written field by field, so that values the encoder refuses can be put on the wire. */
const dataBytes = (fields: {
  timestamp?: bigint;
  expire?: number;
  username?: string;
  quote?: { timestamp: bigint; author: string };
}): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(2, WireType.LengthDelimited).fork();
  writer.tag(1, WireType.LengthDelimited).string('hi');
  writer.tag(2, WireType.Varint).uint64(fields.timestamp ?? BigInt(SERVER));
  if (fields.quote) {
    writer.tag(3, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.Varint).uint64(fields.quote.timestamp);
    writer.tag(2, WireType.LengthDelimited).string(fields.quote.author);
    writer.tag(3, WireType.LengthDelimited).string('earlier');
    writer.join();
  }
  if (fields.expire !== undefined) writer.tag(4, WireType.Varint).uint32(fields.expire);
  if (fields.username !== undefined) writer.tag(5, WireType.LengthDelimited).string(fields.username);
  writer.join();
  return writer.finish();
};

const timestampsBytes = (body: 3 | 4 | 5, values: bigint[]): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(body, WireType.LengthDelimited).fork();
  if (body === 4) {
    writer.tag(1, WireType.Varint).uint64(values[0] ?? 0n);
  } else {
    writer.tag(body === 3 ? 2 : 1, WireType.LengthDelimited).fork();
    for (const value of values) writer.uint64(value);
    writer.join();
  }
  writer.join();
  return writer.finish();
};

const refusal = (run: () => unknown): ContentError => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ContentError);
    return error as ContentError;
  }
  throw new Error('expected a ContentError');
};

const expectReason = (run: () => unknown, reason: ContentErrorReason): void => {
  expect(refusal(run).reason).toBe(reason);
};

describe('Content bounds', () => {
  it('should refuse the timestamp that bricked date formatting, with or without a context', () => {
    expect(() => new Date(9e15).toISOString()).toThrow(RangeError);
    expectReason(() => decodeContent(dataBytes({ timestamp: 9_000_000_000_000_000n })), 'out_of_range');
    expectReason(() => decodeContent(dataBytes({ timestamp: 9_000_000_000_000_000n }), context), 'out_of_range');
    expectReason(() => decodeContent(dataBytes({ timestamp: BigInt(MAX_TIMESTAMP_MS) + 1n })), 'out_of_range');
    const last = decodeContent(dataBytes({ timestamp: BigInt(MAX_TIMESTAMP_MS) }));
    expect(last).toMatchObject({ kind: 'data', data: { timestamp: MAX_TIMESTAMP_MS } });
    expect(() => new Date(MAX_TIMESTAMP_MS).toISOString()).not.toThrow();
  });

  it('should hold a send time to its window around the server timestamp', () => {
    const at = (offset: number): Uint8Array => dataBytes({ timestamp: BigInt(SERVER + offset) });
    expect(decodeContent(at(MAX_TIMESTAMP_AHEAD_MS), context)).toMatchObject({ kind: 'data' });
    expect(decodeContent(at(-MAX_TIMESTAMP_BEHIND_MS), context)).toMatchObject({ kind: 'data' });
    expectReason(() => decodeContent(at(MAX_TIMESTAMP_AHEAD_MS + 1), context), 'out_of_range');
    expectReason(() => decodeContent(at(-MAX_TIMESTAMP_BEHIND_MS - 1), context), 'out_of_range');
    expectReason(() => decodeContent(dataBytes({ timestamp: 0n }), context), 'out_of_range');

    const typing = (offset: number): Uint8Array => timestampsBytes(4, [BigInt(SERVER + offset)]);
    expect(decodeContent(typing(0), context)).toMatchObject({ kind: 'typing' });
    expectReason(() => decodeContent(typing(MAX_TIMESTAMP_AHEAD_MS + 1), context), 'out_of_range');
    expectReason(() => decodeContent(typing(-MAX_TIMESTAMP_BEHIND_MS - 1), context), 'out_of_range');
  });

  it('should let a reference to another message be old but not in the future', () => {
    const limit = BigInt(SERVER + MAX_TIMESTAMP_AHEAD_MS);
    for (const body of [3, 5] as const) {
      expect(decodeContent(timestampsBytes(body, [1n, limit]), context)).toBeDefined();
      expectReason(() => decodeContent(timestampsBytes(body, [limit + 1n]), context), 'out_of_range');
    }
    const quoted = (timestamp: bigint): Uint8Array => dataBytes({ quote: { timestamp, author: AUTHOR } });
    expect(decodeContent(quoted(1n), context)).toMatchObject({ data: { quote: { timestamp: 1 } } });
    expectReason(() => decodeContent(quoted(limit + 1n), context), 'out_of_range');
  });

  it('should refuse an envelope whose own server timestamp is out of range', () => {
    const bytes = dataBytes({});
    for (const serverTimestamp of [-1, Number.NaN, MAX_TIMESTAMP_MS + 1, 1.5])
      expectReason(() => decodeContent(bytes, { serverTimestamp }), 'out_of_range');
  });

  it('should bound the disappearing timer at a year', () => {
    expect(decodeContent(dataBytes({ expire: MAX_EXPIRE_SECONDS }), context)).toMatchObject({
      data: { expireTimerSeconds: MAX_EXPIRE_SECONDS },
    });
    expectReason(() => decodeContent(dataBytes({ expire: MAX_EXPIRE_SECONDS + 1 }), context), 'out_of_range');
    expectReason(() => decodeContent(dataBytes({ expire: 0xffffffff }), context), 'out_of_range');
  });

  it('should cap retry requests at a hundred timestamps per list, while they are read', () => {
    const ok = Array.from({ length: MAX_RETRY_TIMESTAMPS }, (_, i) => BigInt(SERVER - i));
    expect(decodeContent(timestampsBytes(5, ok), context)).toMatchObject({ kind: 'retry' });
    expectReason(() => decodeContent(timestampsBytes(5, [...ok, 5n]), context), 'too_large');
    expect(() => encodeContent({ kind: 'retry', retry: { timestamps: ok.map(Number).concat([5]) } })).toThrow(
      ContentError,
    );
  });

  it('should refuse a claimed username or quoted author that does not have its format', () => {
    for (const username of ['a\nb', 'x', 'é'.repeat(10), 'bob\u202e', 'a b c', '\u001b[2J'])
      expectReason(() => decodeContent(dataBytes({ username }), context), 'invalid_format');
    expectReason(() => decodeContent(dataBytes({ username: 'a'.repeat(33) }), context), 'too_large');
    expect(decodeContent(dataBytes({ username: 'bob.b_2' }), context)).toMatchObject({
      data: { senderUsername: 'bob.b_2' },
    });
    expectReason(
      () => decodeContent(dataBytes({ quote: { timestamp: 1n, author: 'not-an-id' } }), context),
      'invalid_format',
    );
    // One spelling per id: the author's id is read in lower case.
    expect(decodeContent(dataBytes({ quote: { timestamp: 1n, author: AUTHOR.toUpperCase() } }), context)).toMatchObject(
      { data: { quote: { authorAccountId: AUTHOR } } },
    );
  });

  it('should say that a newer version is unsupported', () => {
    const bytes = new BinaryWriter().tag(1, WireType.Varint).uint32(2).finish();
    expectReason(() => decodeContent(bytes), 'unsupported');
  });

  it('should read a null message, skipping whatever it carries', () => {
    expect(decodeContent(encodeContent({ kind: 'null' }), context)).toEqual({ kind: 'null' });
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(6, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(40));
    writer.join();
    expect(decodeContent(writer.finish(), context)).toEqual({ kind: 'null' });
  });
});
