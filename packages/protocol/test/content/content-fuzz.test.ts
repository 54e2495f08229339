/**
 * Fuzzing of the Content decoder with fast-check: arbitrary bytes, valid messages mutated byte by byte, and
 * protobuf-shaped noise (random field numbers, wire types and huge varints, nested). Whatever the input, the decoder
 * either returns content whose every value is within its bound — checked here independently of the decoder's own
 * code — and that re-encodes to the same value, or throws a ContentError with a known reason; nothing else.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  ContentError,
  ContentErrorReason,
  MAX_TIMESTAMP_MS,
  decodeContent,
  encodeContent,
} from '../../src/content/index.js';
import type { Content } from '../../src/content/index.js';

const DAY = 24 * 3600 * 1000;
const utf8 = new TextEncoder();
const bytesOf = (text: string): number => utf8.encode(text).length;
const REASONS: string[] = Object.values(ContentErrorReason);

/** The bounds the decoder promises, restated from content.proto's comments rather than taken from its code. */
const assertWithinBounds = (content: Content, server: number): void => {
  const sentAt = (t: number): void => {
    expect(Number.isSafeInteger(t)).toBe(true);
    expect(t).toBeGreaterThanOrEqual(Math.max(0, server - 3 * DAY));
    expect(t).toBeLessThanOrEqual(Math.min(server + DAY, 8.64e15));
  };
  const reference = (t: number): void => {
    expect(Number.isSafeInteger(t)).toBe(true);
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThanOrEqual(Math.min(server + DAY, 8.64e15));
    expect(() => new Date(t).toISOString()).not.toThrow();
  };
  switch (content.kind) {
    case 'data': {
      const { data } = content;
      sentAt(data.timestamp);
      expect(typeof data.text).toBe('string');
      expect(bytesOf(data.text)).toBeLessThanOrEqual(64 * 1024);
      if (data.expireTimerSeconds !== undefined) {
        expect(Number.isInteger(data.expireTimerSeconds)).toBe(true);
        expect(data.expireTimerSeconds).toBeGreaterThan(0);
        expect(data.expireTimerSeconds).toBeLessThanOrEqual(365 * 24 * 3600);
      }
      if (data.senderUsername !== undefined) expect(data.senderUsername).toMatch(/^[A-Za-z0-9_.]{3,32}$/);
      if (data.profileKey !== undefined) expect(data.profileKey.length).toBe(32);
      if (data.quote) {
        reference(data.quote.timestamp);
        expect(data.quote.authorAccountId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(bytesOf(data.quote.text)).toBeLessThanOrEqual(2048);
      }
      return;
    }
    case 'receipt':
      expect(['delivery', 'read']).toContain(content.receipt.type);
      expect(content.receipt.timestamps.length).toBeGreaterThan(0);
      expect(content.receipt.timestamps.length).toBeLessThanOrEqual(500);
      content.receipt.timestamps.forEach(reference);
      return;
    case 'typing':
      expect(['started', 'stopped']).toContain(content.typing.action);
      sentAt(content.typing.timestamp);
      return;
    case 'retry': {
      const unavailable = content.retry.unavailable ?? [];
      expect(content.retry.timestamps.length + unavailable.length).toBeGreaterThan(0);
      expect(content.retry.timestamps.length).toBeLessThanOrEqual(100);
      expect(unavailable.length).toBeLessThanOrEqual(100);
      content.retry.timestamps.forEach(reference);
      unavailable.forEach(reference);
      return;
    }
    case 'reaction':
      sentAt(content.reaction.timestamp);
      reference(content.reaction.targetTimestamp);
      expect(content.reaction.targetAuthorAccountId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      // One emoji: never text, whitespace or a control character, and at most 64 bytes.
      expect(bytesOf(content.reaction.emoji)).toBeLessThanOrEqual(64);
      expect(content.reaction.emoji).not.toMatch(/[\p{L}\p{Z}\p{Cc}]/u);
      return;
    case 'delete':
      sentAt(content.delete.timestamp);
      reference(content.delete.targetTimestamp);
      return;
    case 'edit':
      sentAt(content.edit.timestamp);
      reference(content.edit.targetTimestamp);
      expect(content.edit.text.length).toBeGreaterThan(0);
      expect(bytesOf(content.edit.text)).toBeLessThanOrEqual(64 * 1024);
      return;
    case 'null':
      return;
    case 'group-update': {
      const update = content.groupUpdate;
      sentAt(update.timestamp);
      expect(update.id.length).toBe(32);
      expect(update.masterKey.length).toBe(32);
      expect(update.members.length).toBeGreaterThan(0);
      expect(update.members.length).toBeLessThanOrEqual(1000);
      expect([...update.title].length).toBeLessThanOrEqual(128);
      for (const member of update.members) {
        expect(member.accountId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(['admin', 'member']).toContain(member.role);
      }
      return;
    }
    case 'profile-key':
      expect(content.profileKey.length).toBe(32);
      return;
    case 'sender-key':
      expect(content.senderKey.groupId.length).toBe(32);
      expect(content.senderKey.distributionMessage.length).toBeGreaterThan(0);
      expect(content.senderKey.distributionMessage.length).toBeLessThanOrEqual(256);
      return;
    case 'sync': {
      const { sync } = content;
      if (sync.type === 'sent') {
        // A transcript's message keeps the bounds of one received directly, and goes to an account or a group (a
        // notice's to everyone: it names neither).
        assertWithinBounds({ kind: 'data', data: sync.message }, server);
        if (sync.message.notice !== undefined) expect(sync.destinationAccountId).toBeUndefined();
        else expect(sync.destinationAccountId !== undefined || sync.message.group !== undefined).toBe(true);
        if (sync.destinationAccountId !== undefined)
          expect(sync.destinationAccountId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        return;
      }
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      switch (sync.type) {
        case 'action':
          // An action transcript's action keeps the bounds of the same action received directly.
          expect(sync.destinationAccountId).toMatch(uuid);
          if (sync.action.kind === 'reaction')
            assertWithinBounds({ kind: 'reaction', reaction: sync.action.reaction }, server);
          else if (sync.action.kind === 'edit') assertWithinBounds({ kind: 'edit', edit: sync.action.edit }, server);
          else assertWithinBounds({ kind: 'delete', delete: sync.action.delete }, server);
          return;
        case 'contacts':
          expect(sync.contacts.length).toBeGreaterThan(0);
          expect(sync.contacts.length).toBeLessThanOrEqual(500);
          for (const record of sync.contacts) {
            expect(record.accountId).toMatch(uuid);
            if (record.identityKey !== undefined) expect(record.identityKey.length).toBe(33);
            if (record.profileKey !== undefined) expect(record.profileKey.length).toBe(32);
            reference(record.updatedAt);
          }
          return;
        case 'conversations':
          expect(sync.conversations.length).toBeGreaterThan(0);
          expect(sync.conversations.length).toBeLessThanOrEqual(500);
          for (const record of sync.conversations) {
            expect(record.peerAccountId === undefined).not.toBe(record.groupId === undefined);
            if (record.groupId !== undefined) expect(record.groupId.length).toBe(32);
            reference(record.updatedAt);
          }
          return;
        case 'profile':
          expect(sync.profileKey.length).toBe(32);
          return;
        case 'group-state':
          assertWithinBounds({ kind: 'group-update', groupUpdate: sync.groupUpdate }, server);
          return;
        case 'request':
          return;
        case 'read':
          break;
      }
      expect(sync.positions.length).toBeGreaterThan(0);
      expect(sync.positions.length).toBeLessThanOrEqual(100);
      for (const position of sync.positions) {
        expect(position.peerAccountId === undefined).not.toBe(position.groupId === undefined);
        if (position.groupId !== undefined) expect(position.groupId.length).toBe(32);
        reference(position.timestamp);
      }
      return;
    }
  }
};

/** Decodes and checks the contract; returns what happened. */
const decodeChecked = (bytes: Uint8Array, server: number): 'accepted' | 'refused' => {
  let content: Content;
  try {
    content = decodeContent(bytes, { serverTimestamp: server });
  } catch (error) {
    expect(error).toBeInstanceOf(ContentError);
    expect(REASONS).toContain((error as ContentError).reason);
    return 'refused';
  }
  assertWithinBounds(content, server);
  // Accepted content is canonical: it encodes, and reads back as the same value.
  expect(decodeContent(encodeContent(content), { serverTimestamp: server })).toEqual(content);
  return 'accepted';
};

const serverTimestamp = fc.integer({ min: 3 * DAY, max: 4_000_000_000_000 });
const uuid = fc.uuid().map((id) => id.toLowerCase());
const username = fc.stringMatching(/^[A-Za-z0-9_.]{3,32}$/);

/** Valid content for a server timestamp (the seeds the mutations start from). */
const validContent = (server: number): fc.Arbitrary<Content> => {
  const sentAt = fc.integer({ min: server - 3 * DAY, max: server + DAY });
  const reference = fc.integer({ min: 0, max: server + DAY });
  return fc.oneof(
    fc
      .record(
        {
          text: fc.string({ maxLength: 200 }),
          timestamp: sentAt,
          quote: fc.record({ timestamp: reference, authorAccountId: uuid, text: fc.string({ maxLength: 50 }) }),
          expireTimerSeconds: fc.integer({ min: 1, max: 365 * 24 * 3600 }),
          senderUsername: username,
        },
        { requiredKeys: ['text', 'timestamp'] },
      )
      .map((data): Content => ({ kind: 'data', data })),
    fc
      .record({
        type: fc.constantFrom('delivery' as const, 'read' as const),
        timestamps: fc.array(reference, { minLength: 1, maxLength: 20 }),
      })
      .map((receipt): Content => ({ kind: 'receipt', receipt })),
    fc
      .record({ timestamp: sentAt, action: fc.constantFrom('started' as const, 'stopped' as const) })
      .map((typing): Content => ({ kind: 'typing', typing })),
    fc
      .record({
        timestamps: fc.array(reference, { minLength: 1, maxLength: 20 }),
        unavailable: fc.array(reference, { minLength: 1, maxLength: 5 }),
      })
      .map((retry): Content => ({ kind: 'retry', retry })),
    fc.constant<Content>({ kind: 'null' }),
  );
};

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x08, 0x12, 0x0a),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

const mutate = (input: Uint8Array, mutations: Mutation[]): Uint8Array => {
  let bytes = Uint8Array.from(input);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    switch (m.op) {
      case 'flip':
        if (bytes.length > 0) bytes[at] = (bytes[at] ?? 0) ^ (1 << m.bit);
        break;
      case 'set':
        if (bytes.length > 0) bytes[at] = m.value;
        break;
      case 'insert':
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return bytes;
};

/** Protobuf-shaped noise: plausible tags (the schema's field numbers and a few others) with any wire type. */
type Field = { no: number; wire: WireType; varint: bigint; bytes: Uint8Array; nested: Field[] | null };
const { field } = fc.letrec<{ field: Field }>((tie) => ({
  field: fc.record({
    no: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 99),
    wire: fc.constantFrom(
      WireType.Varint,
      WireType.LengthDelimited,
      WireType.Bit32,
      WireType.Bit64,
      WireType.StartGroup,
      WireType.EndGroup,
    ),
    varint: fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(0n, 1n, 2n, 9_000_000_000_000_000n, 8_640_000_000_000_001n, 2n ** 32n, 2n ** 53n),
    ),
    bytes: fc.uint8Array({ maxLength: 16 }),
    nested: fc.option(fc.array(tie('field'), { maxLength: 4 }), { depthSize: 'small' }),
  }),
}));

const writeFields = (writer: BinaryWriter, fields: Field[]): void => {
  for (const f of fields) {
    writer.tag(f.no, f.wire);
    switch (f.wire) {
      case WireType.Varint:
        writer.uint64(f.varint);
        break;
      case WireType.LengthDelimited:
        if (f.nested) {
          writer.fork();
          writeFields(writer, f.nested);
          writer.join();
        } else {
          writer.bytes(f.bytes);
        }
        break;
      case WireType.Bit32:
        writer.fixed32(Number(f.varint & 0xffffffffn));
        break;
      case WireType.Bit64:
        writer.fixed64(f.varint);
        break;
      case WireType.StartGroup:
      case WireType.EndGroup:
        break;
    }
  }
};

const shaped = fc.tuple(fc.constantFrom(0n, 1n, 2n), fc.array(field, { maxLength: 6 })).map(([version, fields]) => {
  const writer = new BinaryWriter();
  if (version > 0n) writer.tag(1, WireType.Varint).uint64(version);
  writeFields(writer, fields);
  return writer.finish();
});

describe('Content decoder under fuzzing', () => {
  it('should refuse or bound arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), serverTimestamp, (bytes, server) => {
        decodeChecked(bytes, server);
      }),
      { numRuns: 3000 },
    );
  });

  it('should refuse or bound mutated valid messages', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        serverTimestamp.chain((server) => fc.tuple(fc.constant(server), validContent(server))),
        fc.array(mutation, { minLength: 0, maxLength: 4 }),
        ([server, content], mutations) => {
          if (decodeChecked(mutate(encodeContent(content), mutations), server) === 'accepted') accepted += 1;
        },
      ),
      { numRuns: 3000 },
    );
    // The seeds are valid, so the property also exercised the accepting path, not only the refusals.
    expect(accepted).toBeGreaterThan(100);
  });

  it('should refuse or bound protobuf-shaped noise', () => {
    fc.assert(
      fc.property(shaped, serverTimestamp, (bytes, server) => {
        decodeChecked(bytes, server);
      }),
      { numRuns: 3000 },
    );
  });

  it('should refuse or bound large inputs up to the envelope size', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32 * 1024, maxLength: 64 * 1024 }), serverTimestamp, (bytes, server) => {
        decodeChecked(bytes, server);
      }),
      { numRuns: 30 },
    );
  });

  it('should refuse deeply nested groups with a ContentError, not a stack overflow', () => {
    const depth = 60_000;
    const bytes = new Uint8Array(2 + depth);
    bytes.set([0x08, 0x01]);
    // Field 7, wire type 3 (start group), repeated: each opens a group inside the previous one.
    bytes.fill((7 << 3) | WireType.StartGroup, 2);
    expect(() => decodeContent(bytes, { serverTimestamp: 1_800_000_000_000 })).toThrow(ContentError);
  });

  it('should accept the boundary timestamps exactly', () => {
    const server = MAX_TIMESTAMP_MS - DAY / 2;
    const content: Content = { kind: 'typing', typing: { timestamp: MAX_TIMESTAMP_MS, action: 'started' } };
    expect(decodeChecked(encodeContent(content), server)).toBe('accepted');
  });
});
