/**
 * The strict layer between the bytes and the generated decoder, exercised field by field from the generated
 * descriptors themselves (so a field added to content.proto is covered without editing this file): every known field
 * of every message refuses every wrong wire type, oneofs take one member, lists are counted across packed and
 * unpacked records, enum values are checked once their message is read, unknown fields are skipped everywhere.
 */
import { ScalarType } from '@bufbuild/protobuf';
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';

import { ContentError, MAX_RETRY_TIMESTAMPS, decodeContent } from '../../src/content/index.js';
import type { ContentErrorReason } from '../../src/content/index.js';
import * as pb from '../../src/content/generated/content_pb.js';

const SERVER = 1_800_000_000_000;
const context = { serverTimestamp: SERVER };
const AUTHOR = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';
/** `DataMessage.notice` (content.proto): an organization notice. */
const DATA_MESSAGE_NOTICE_FIELD = 21;

/** Every message reachable from Content, with the field numbers that lead to it. */
const messages = (): Array<{ desc: DescMessage; path: number[] }> => {
  const found: Array<{ desc: DescMessage; path: number[] }> = [{ desc: pb.ContentSchema, path: [] }];
  for (let i = 0; i < found.length; i += 1) {
    const { desc, path } = found[i]!;
    for (const field of desc.fields)
      if (field.fieldKind === 'message') found.push({ desc: field.message, path: [...path, field.number] });
  }
  return found;
};

/** Content version 1, then `write` inside the messages on `path`. */
const inside = (path: number[], write: (writer: BinaryWriter) => void): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  for (const no of path) writer.tag(no, WireType.LengthDelimited).fork();
  write(writer);
  for (let i = 0; i < path.length; i += 1) writer.join();
  return writer.finish();
};

/** One record of field `no` with wire type `wire` and a well-formed payload of that wire type. */
const record = (writer: BinaryWriter, no: number, wire: WireType): void => {
  writer.tag(no, wire);
  switch (wire) {
    case WireType.Varint:
      writer.uint64(1);
      break;
    case WireType.Bit64:
      writer.fixed64(1);
      break;
    case WireType.LengthDelimited:
      writer.bytes(new Uint8Array(0));
      break;
    case WireType.Bit32:
      writer.fixed32(1);
      break;
    case WireType.StartGroup:
      writer.tag(no, WireType.EndGroup);
      break;
    case WireType.EndGroup:
      break;
  }
};

/** The wire types a field may arrive with, restated from the protobuf encoding spec rather than from the checker. */
const acceptedWireTypes = (field: DescField): WireType[] => {
  const ofScalar = (scalar: ScalarType): WireType => {
    if (scalar === ScalarType.STRING || scalar === ScalarType.BYTES) return WireType.LengthDelimited;
    if ([ScalarType.DOUBLE, ScalarType.FIXED64, ScalarType.SFIXED64].includes(scalar)) return WireType.Bit64;
    if ([ScalarType.FLOAT, ScalarType.FIXED32, ScalarType.SFIXED32].includes(scalar)) return WireType.Bit32;
    return WireType.Varint;
  };
  switch (field.fieldKind) {
    case 'message':
    case 'map':
      return [WireType.LengthDelimited];
    case 'enum':
      return [WireType.Varint];
    case 'scalar':
      return [ofScalar(field.scalar)];
    case 'list': {
      if (field.listKind === 'message') return [WireType.LengthDelimited];
      const element = field.listKind === 'enum' ? WireType.Varint : ofScalar(field.scalar);
      return [...new Set([element, WireType.LengthDelimited])];
    }
  }
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

const expectRefused = (bytes: Uint8Array, reason: ContentErrorReason, message: RegExp): void => {
  const error = refusal(() => decodeContent(bytes, context));
  expect(error.reason).toBe(reason);
  expect(error.message).toMatch(message);
};

const WIRE_TYPES = [WireType.Varint, WireType.Bit64, WireType.LengthDelimited, WireType.StartGroup, WireType.Bit32];

describe('Content wire check', () => {
  it('should refuse every wrong wire type on every known field of every message', () => {
    let checked = 0;
    for (const { desc, path } of messages()) {
      for (const field of desc.fields) {
        const accepted = acceptedWireTypes(field);
        expect(accepted.length).toBeGreaterThan(0);
        for (const wire of WIRE_TYPES.filter((w) => !accepted.includes(w))) {
          expectRefused(
            inside(path, (writer) => record(writer, field.number, wire)),
            'malformed',
            /wrong wire type/,
          );
          checked += 1;
        }
      }
    }
    // 7 messages with 20 fields between them: 3 wrong wire types for each list, 4 for every other field.
    expect(checked).toBeGreaterThanOrEqual(60);
  });

  it('should skip unknown fields of every wire type in every message', () => {
    /** What each message needs to be valid without a context (the empty messages are valid as they are). */
    const minimal = new Map<string, (writer: BinaryWriter) => void>([
      [pb.ContentSchema.typeName, (writer) => writer.tag(6, WireType.LengthDelimited).fork().join()],
      [pb.QuoteSchema.typeName, (writer) => writer.tag(2, WireType.LengthDelimited).string(AUTHOR)],
      [pb.ReceiptMessageSchema.typeName, (writer) => writer.tag(2, WireType.Varint).uint64(1)],
      [pb.RetryRequestSchema.typeName, (writer) => writer.tag(1, WireType.Varint).uint64(1)],
      [
        pb.ReactionMessageSchema.typeName,
        (writer) =>
          writer.tag(2, WireType.LengthDelimited).string('👍').tag(3, WireType.LengthDelimited).string(AUTHOR),
      ],
      [pb.EditMessageSchema.typeName, (writer) => writer.tag(3, WireType.LengthDelimited).string('edited')],
      [
        pb.GroupUpdateSchema.typeName,
        (writer) => {
          writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(32));
          writer.tag(2, WireType.LengthDelimited).bytes(new Uint8Array(32));
          writer
            .tag(7, WireType.LengthDelimited)
            .fork()
            .tag(1, WireType.LengthDelimited)
            .bytes(new Uint8Array(16))
            .join();
        },
      ],
      [
        pb.SyncMessageSchema.typeName,
        (writer) => {
          writer.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).fork();
          writer.tag(1, WireType.LengthDelimited).string(AUTHOR).tag(3, WireType.Varint).uint64(1);
          writer.join().join();
        },
      ],
      [
        pb.SentTranscriptSchema.typeName,
        (writer) =>
          writer.tag(1, WireType.LengthDelimited).string(AUTHOR).tag(2, WireType.LengthDelimited).fork().join(),
      ],
      [
        pb.ReadSyncSchema.typeName,
        (writer) => {
          writer.tag(1, WireType.LengthDelimited).fork();
          writer.tag(1, WireType.LengthDelimited).string(AUTHOR).tag(3, WireType.Varint).uint64(1);
          writer.join();
        },
      ],
      [
        pb.ActionTranscriptSchema.typeName,
        (writer) => {
          writer.tag(1, WireType.LengthDelimited).string(AUTHOR);
          writer.tag(4, WireType.LengthDelimited).fork().join();
        },
      ],
      [
        pb.ContactsSyncSchema.typeName,
        (writer) =>
          writer.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(AUTHOR).join(),
      ],
      [pb.ContactRecordSchema.typeName, (writer) => writer.tag(1, WireType.LengthDelimited).string(AUTHOR)],
      [
        pb.ConversationsSyncSchema.typeName,
        (writer) =>
          writer.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(AUTHOR).join(),
      ],
      [pb.ConversationRecordSchema.typeName, (writer) => writer.tag(1, WireType.LengthDelimited).string(AUTHOR)],
      [pb.OwnProfileSyncSchema.typeName, (writer) => writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(32))],
      [
        pb.ReadPositionSchema.typeName,
        (writer) => writer.tag(1, WireType.LengthDelimited).string(AUTHOR).tag(3, WireType.Varint).uint64(1),
      ],
      [pb.GroupContextSchema.typeName, (writer) => writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(32))],
      // A notice carries text, and a certificate body and signature of their exact sizes.
      [pb.DataMessageSchema.typeName, (writer) => writer.tag(1, WireType.LengthDelimited).string('text')],
      [
        pb.OrganizationNoticeSchema.typeName,
        (writer) =>
          writer
            .tag(1, WireType.LengthDelimited)
            .bytes(new Uint8Array(34))
            .tag(2, WireType.LengthDelimited)
            .bytes(new Uint8Array(64)),
      ],
      [
        pb.ProfileKeyUpdateSchema.typeName,
        (writer) => writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(32)),
      ],
      [
        pb.SenderKeyDistributionSchema.typeName,
        (writer) => {
          writer.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(32));
          writer.tag(2, WireType.LengthDelimited).bytes(new Uint8Array(1));
        },
      ],
      [
        pb.AttachmentPointerSchema.typeName,
        (writer) => {
          writer.tag(1, WireType.LengthDelimited).string('id');
          writer.tag(2, WireType.LengthDelimited).bytes(new Uint8Array(32));
          writer.tag(3, WireType.LengthDelimited).bytes(new Uint8Array(32));
          writer.tag(4, WireType.Varint).uint64(1);
          writer.tag(6, WireType.LengthDelimited).string('a/b');
        },
      ],
    ]);
    /** What a message needs beside the oneof body the path continues into (an action transcript's destination). */
    const besideBody = new Map<string, (writer: BinaryWriter) => void>([
      [pb.ActionTranscriptSchema.typeName, (writer) => writer.tag(1, WireType.LengthDelimited).string(AUTHOR)],
    ]);
    /** Like `inside`, with the messages enclosing the one tested made valid too (a group update's avatar). */
    const insideValid = (path: number[], write: (writer: BinaryWriter) => void): Uint8Array => {
      const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
      let desc: DescMessage = pb.ContentSchema;
      for (const [at, no] of path.entries()) {
        const next = desc.fields.find((f) => f.number === no);
        if (next?.fieldKind !== 'message') throw new Error('path leaves the messages');
        // A notice's sent transcript names no destination (a notice goes to everyone): its message is the path's.
        const noticeTranscript =
          desc.typeName === pb.SentTranscriptSchema.typeName && path[at + 1] === DATA_MESSAGE_NOTICE_FIELD;
        // A message whose path continues into one of its oneof bodies gets that body only (a second one is refused).
        if (next.oneof === undefined) {
          if (!noticeTranscript) minimal.get(desc.typeName)?.(writer);
        } else besideBody.get(desc.typeName)?.(writer);
        writer.tag(no, WireType.LengthDelimited).fork();
        desc = next.message;
      }
      write(writer);
      for (let i = 0; i < path.length; i += 1) writer.join();
      return writer.finish();
    };
    let checked = 0;
    for (const { desc, path } of messages()) {
      for (const wire of WIRE_TYPES) {
        const bytes = insideValid(path, (writer) => {
          record(writer, 1000, wire);
          minimal.get(desc.typeName)?.(writer);
          record(writer, 1001, wire);
        });
        expect(() => decodeContent(bytes)).not.toThrow();
        checked += 1;
      }
    }
    expect(checked).toBe(messages().length * WIRE_TYPES.length);
  });

  it('should refuse a second body, or the same body twice, after reading the first', () => {
    const typing = (writer: BinaryWriter): void => {
      writer.tag(4, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.Varint).uint64(SERVER);
      writer.join();
    };
    const twice = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    typing(twice);
    typing(twice);
    expectRefused(twice.finish(), 'malformed', /more than one content body/);
    const two = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
    typing(two);
    two.tag(6, WireType.LengthDelimited).fork().join();
    expectRefused(two.finish(), 'malformed', /more than one content body/);
  });

  it('should count list entries across packed and unpacked records while reading them', () => {
    const retry = (packed: number, unpacked: number): Uint8Array =>
      inside([5], (writer) => {
        writer.tag(1, WireType.LengthDelimited).fork();
        for (let i = 0; i < packed; i += 1) writer.uint64(SERVER - i);
        writer.join();
        for (let i = 0; i < unpacked; i += 1) writer.tag(1, WireType.Varint).uint64(SERVER - packed - i);
      });
    expect(decodeContent(retry(60, MAX_RETRY_TIMESTAMPS - 60), context)).toMatchObject({ kind: 'retry' });
    expectRefused(retry(60, MAX_RETRY_TIMESTAMPS - 59), 'too_large', /more than 100 entries/);
    // Counted while read: the entry past the limit is refused before the bad bytes behind it are reached.
    const overflowThenGarbage = inside([5], (writer) => {
      for (let i = 0; i <= MAX_RETRY_TIMESTAMPS; i += 1) writer.tag(1, WireType.Varint).uint64(SERVER - i);
      writer.tag(1, WireType.Bit64).fixed64(1);
    });
    expectRefused(overflowThenGarbage, 'too_large', /more than 100 entries/);
  });

  it('should check an enum value once its message is read, so the last value counts', () => {
    const receipt = (types: number[]): Uint8Array =>
      inside([3], (writer) => {
        for (const type of types) writer.tag(1, WireType.Varint).uint32(type);
        writer.tag(2, WireType.Varint).uint64(SERVER);
      });
    expect(decodeContent(receipt([7, 1]), context)).toEqual({
      kind: 'receipt',
      receipt: { type: 'read', timestamps: [SERVER] },
    });
    expectRefused(receipt([1, 7]), 'out_of_range', /unknown receipt type/);
  });

  it('should merge a quote given twice, as protobuf specifies', () => {
    const bytes = inside([2], (writer) => {
      writer.tag(1, WireType.LengthDelimited).string('hi');
      writer.tag(2, WireType.Varint).uint64(SERVER);
      writer.tag(3, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.Varint).uint64(5);
      writer.tag(2, WireType.LengthDelimited).string(AUTHOR);
      writer.tag(3, WireType.LengthDelimited).string('first');
      writer.join();
      writer.tag(3, WireType.LengthDelimited).fork();
      writer.tag(3, WireType.LengthDelimited).string('second');
      writer.join();
    });
    expect(decodeContent(bytes, context)).toEqual({
      kind: 'data',
      data: { text: 'hi', timestamp: SERVER, quote: { timestamp: 5, authorAccountId: AUTHOR, text: 'second' } },
    });
  });
});
