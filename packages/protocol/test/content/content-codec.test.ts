import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  CONTENT_VERSION,
  ContentError,
  MAX_TEXT_BYTES,
  MAX_TIMESTAMP_MS,
  decodeContent,
  encodeContent,
} from '../../src/content/index.js';
import type { Content } from '../../src/content/index.js';

const roundTrip = (content: Content): Content => decodeContent(encodeContent(content));

describe('Content codec', () => {
  it('should round-trip a data message with quote and expiry', () => {
    const content: Content = {
      kind: 'data',
      data: {
        text: 'hello 👋 世界',
        timestamp: 1_764_000_000_123,
        quote: {
          timestamp: 1_764_000_000_000,
          authorAccountId: '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b',
          text: 'earlier',
        },
        expireTimerSeconds: 3600,
        senderUsername: 'alice.b',
      },
    };
    expect(roundTrip(content)).toEqual(content);
  });

  it('should round-trip receipts, typing and retry requests', () => {
    const contents: Content[] = [
      { kind: 'receipt', receipt: { type: 'delivery', timestamps: [1, 2, 3] } },
      { kind: 'receipt', receipt: { type: 'read', timestamps: [MAX_TIMESTAMP_MS] } },
      { kind: 'typing', typing: { timestamp: 5, action: 'started' } },
      { kind: 'typing', typing: { timestamp: 6, action: 'stopped' } },
      { kind: 'retry', retry: { timestamps: [10, 11] } },
      { kind: 'retry', retry: { timestamps: [], unavailable: [12] } },
      { kind: 'retry', retry: { timestamps: [13], unavailable: [14, 15] } },
      { kind: 'null' },
    ];
    for (const content of contents) expect(roundTrip(content)).toEqual(content);
  });

  it('should round-trip arbitrary data messages', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat({ max: MAX_TIMESTAMP_MS }), (text, timestamp) => {
        const content: Content = { kind: 'data', data: { text, timestamp } };
        expect(roundTrip(content)).toEqual(content);
      }),
    );
  });

  it('should write the version first', () => {
    const bytes = encodeContent({ kind: 'typing', typing: { timestamp: 1, action: 'started' } });
    expect(bytes[0]).toBe(0x08);
    expect(bytes[1]).toBe(CONTENT_VERSION);
  });

  it('should refuse content from a newer version', () => {
    const bytes = new BinaryWriter()
      .tag(1, WireType.Varint)
      .uint32(CONTENT_VERSION + 1)
      .finish();
    expect(() => decodeContent(bytes)).toThrow(/newer/);
  });

  it('should refuse content without a version or body', () => {
    expect(() => decodeContent(new Uint8Array(0))).toThrow(ContentError);
    expect(() => decodeContent(new BinaryWriter().tag(1, WireType.Varint).uint32(1).finish())).toThrow(/no body/);
  });

  it('should refuse two bodies', () => {
    const typing = encodeContent({ kind: 'typing', typing: { timestamp: 1, action: 'started' } });
    const receipt = encodeContent({ kind: 'receipt', receipt: { type: 'read', timestamps: [1] } });
    // Concatenated protobufs merge: the result carries both bodies.
    const both = new Uint8Array([...typing, ...receipt]);
    expect(() => decodeContent(both)).toThrow(/more than one/);
  });

  it('should refuse a wrong wire type', () => {
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(2, WireType.Varint).uint32(5);
    expect(() => decodeContent(writer.finish())).toThrow(/wrong wire type/);
  });

  it('should refuse truncated bytes', () => {
    const bytes = encodeContent({ kind: 'data', data: { text: 'hello world', timestamp: 1 } });
    expect(() => decodeContent(bytes.slice(0, bytes.length - 3))).toThrow(ContentError);
  });

  it('should refuse invalid UTF-8', () => {
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(2, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0xff, 0xfe]));
    writer.join();
    expect(() => decodeContent(writer.finish())).toThrow(/UTF-8/);
  });

  it('should refuse timestamps beyond the range of JavaScript dates', () => {
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(4, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.Varint).uint64(2n ** 60n);
    writer.join();
    expect(() => decodeContent(writer.finish())).toThrow(/too large/);
  });

  it('should refuse unknown enum values', () => {
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(3, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.Varint).uint32(7);
    writer.tag(2, WireType.Varint).uint64(1);
    writer.join();
    expect(() => decodeContent(writer.finish())).toThrow(/receipt type/);
  });

  it('should refuse empty receipts and oversized text', () => {
    expect(() => encodeContent({ kind: 'receipt', receipt: { type: 'read', timestamps: [] } })).toThrow(/empty/);
    expect(() => encodeContent({ kind: 'data', data: { text: 'x'.repeat(MAX_TEXT_BYTES + 1), timestamp: 1 } })).toThrow(
      /longer/,
    );
  });

  it('should skip unknown fields for forward compatibility', () => {
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(99, WireType.LengthDelimited).string('from the future');
    writer.tag(2, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).string('hi');
    writer.tag(2, WireType.Varint).uint64(7);
    writer.tag(50, WireType.Varint).uint32(1);
    writer.join();
    expect(decodeContent(writer.finish())).toEqual({ kind: 'data', data: { text: 'hi', timestamp: 7 } });
  });

  it('should read unpacked repeated timestamps', () => {
    const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    writer.tag(5, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.Varint).uint64(3);
    writer.tag(1, WireType.Varint).uint64(4);
    writer.join();
    expect(decodeContent(writer.finish())).toEqual({ kind: 'retry', retry: { timestamps: [3, 4] } });
  });
});
