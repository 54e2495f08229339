/**
 * Group content: the group update (a whole state), the sender-key distribution and the group context of a data
 * message. Round trips, a 1,000-member state inside one envelope, and every bound refused with a ContentError whose
 * `reason` says why — also when a hostile sender writes the value on the wire with the generated encoder, which
 * bounds nothing.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from '@jest/globals';

import {
  ContentError,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_TITLE_CHARS,
  decodeContent,
  encodeContent,
  padContent,
} from '../../src/index.js';
import type { Content, GroupUpdate } from '../../src/index.js';
import * as pb from '../../src/content/generated/content_pb.js';

const TIMESTAMP = 1_764_000_000_123;
const ctx = { serverTimestamp: TIMESTAMP };
const uuid = (i: number): string => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;

const state = (members = 3): GroupUpdate => ({
  id: new Uint8Array(32).fill(1),
  masterKey: new Uint8Array(32).fill(2),
  revision: 5,
  title: 'Hikers 🥾',
  description: 'Sundays',
  members: Array.from({ length: members }, (_, i) => ({
    accountId: uuid(i + 1),
    role: i === 0 ? ('admin' as const) : ('member' as const),
    username: `user_${i}`,
  })),
  expireTimerSeconds: 3600,
  timestamp: TIMESTAMP,
});

const reasonOf = (bytes: Uint8Array): string | undefined => {
  try {
    decodeContent(bytes, ctx);
    return undefined;
  } catch (error) {
    return error instanceof ContentError ? error.reason : 'other';
  }
};

const wire = (update: MessageInitShape<typeof pb.GroupUpdateSchema>): Uint8Array =>
  toBinary(
    pb.ContentSchema,
    create(pb.ContentSchema, {
      version: 1,
      body: {
        case: 'groupUpdate',
        value: create(pb.GroupUpdateSchema, {
          id: new Uint8Array(32),
          masterKey: new Uint8Array(32),
          revision: 1,
          title: 'x',
          members: [create(pb.GroupMemberSchema, { accountId: new Uint8Array(16).fill(1) })],
          timestamp: BigInt(TIMESTAMP),
          ...update,
        }),
      },
    }),
  );

describe('group content', () => {
  it('should round-trip a group update, a sender key and a group message', () => {
    const contents: Content[] = [
      { kind: 'group-update', groupUpdate: state() },
      {
        kind: 'sender-key',
        senderKey: { groupId: new Uint8Array(32).fill(3), distributionMessage: new Uint8Array(90).fill(4) },
      },
      {
        kind: 'data',
        data: { text: 'hi', timestamp: TIMESTAMP, group: { id: new Uint8Array(32).fill(1), revision: 5 } },
      },
    ];
    for (const content of contents) expect(decodeContent(encodeContent(content), ctx)).toEqual(content);
  });

  it('should carry an organization-notice sender key with no group, and refuse one mixed with a group', () => {
    const notice: Content = {
      kind: 'sender-key',
      senderKey: { groupId: new Uint8Array(0), distributionMessage: new Uint8Array(90).fill(4), notice: true },
    };
    expect(decodeContent(encodeContent(notice), ctx)).toEqual(notice);
    // A notice key naming a group, and a group key naming none: refused both ways (encoder, and hostile wire bytes).
    const wire = (groupId: Uint8Array, isNotice: boolean): Uint8Array =>
      toBinary(
        pb.ContentSchema,
        create(pb.ContentSchema, {
          version: 1,
          body: {
            case: 'senderKeyDistribution',
            value: { groupId, distributionMessage: new Uint8Array(90).fill(4), notice: isNotice },
          },
        }),
      );
    for (const [groupId, isNotice] of [
      [new Uint8Array(32).fill(3), true],
      [new Uint8Array(0), false],
    ] as const) {
      expect(() =>
        encodeContent({
          kind: 'sender-key',
          senderKey: {
            groupId,
            distributionMessage: new Uint8Array(90).fill(4),
            ...(isNotice ? { notice: true } : {}),
          },
        }),
      ).toThrow(ContentError);
      expect(() => decodeContent(wire(groupId, isNotice), ctx)).toThrow(ContentError);
    }
  });

  it('should fit a 1,000-member state, usernames included, in one padded envelope', () => {
    const big = encodeContent({
      kind: 'group-update',
      groupUpdate: {
        ...state(MAX_GROUP_MEMBERS),
        members: state(MAX_GROUP_MEMBERS).members.map((m) => ({ ...m, username: 'u'.repeat(32) })),
      },
    });
    // A Signal message adds under 100 bytes of header and MAC to the padded plaintext.
    expect(padContent(big).length + 100).toBeLessThan(MAX_ENVELOPE_CONTENT_BYTES);
  });

  it('should refuse out-of-bounds states when encoding', () => {
    const bad: Array<Partial<GroupUpdate>> = [
      { id: new Uint8Array(31) },
      { masterKey: new Uint8Array(33) },
      { title: 'x'.repeat(MAX_GROUP_TITLE_CHARS + 1) },
      { members: [] },
      { members: [{ accountId: 'not-a-uuid', role: 'admin' }] },
      {
        members: [
          { accountId: uuid(1), role: 'admin' },
          { accountId: uuid(1).toUpperCase(), role: 'member' },
        ],
      },
      { members: [{ accountId: uuid(1), role: 'admin', username: 'bad name!' }] },
      { revision: 2 ** 32 },
      { timestamp: TIMESTAMP + 8.64e15 },
    ];
    for (const b of bad)
      expect(() => encodeContent({ kind: 'group-update', groupUpdate: { ...state(), ...b } })).toThrow(ContentError);
  });

  it('should refuse hostile values on the wire', () => {
    expect(reasonOf(wire({}))).toBeUndefined();
    expect(reasonOf(wire({ id: new Uint8Array(5) }))).toBe('invalid_format');
    expect(reasonOf(wire({ members: [create(pb.GroupMemberSchema, { accountId: new Uint8Array(15) })] }))).toBe(
      'invalid_format',
    );
    expect(
      reasonOf(
        wire({
          members: [create(pb.GroupMemberSchema, { accountId: new Uint8Array(16), role: 7 as pb.GroupMember_Role })],
        }),
      ),
    ).toBe('out_of_range');
    const tooMany = Array.from({ length: MAX_GROUP_MEMBERS + 1 }, (_, i) =>
      create(pb.GroupMemberSchema, {
        accountId: Uint8Array.from({ length: 16 }, (_, j) => (j < 2 ? (i >> (8 * j)) & 255 : 0)),
      }),
    );
    expect(reasonOf(wire({ members: tooMany }))).toBe('too_large');
    expect(reasonOf(wire({ timestamp: BigInt(TIMESTAMP + 2 * 86_400_000) }))).toBe('out_of_range');
    const longKey = toBinary(
      pb.ContentSchema,
      create(pb.ContentSchema, {
        version: 1,
        body: {
          case: 'senderKeyDistribution',
          value: create(pb.SenderKeyDistributionSchema, {
            groupId: new Uint8Array(32),
            distributionMessage: new Uint8Array(257),
          }),
        },
      }),
    );
    expect(reasonOf(longKey)).toBe('too_large');
  });
});

describe('group context of actions and typing indicators (field 16)', () => {
  const group = { id: new Uint8Array(32).fill(9), revision: 4 };
  const author = uuid(7);
  const actions: Content[] = [
    {
      kind: 'reaction',
      reaction: {
        timestamp: TIMESTAMP,
        emoji: '👍',
        targetAuthorAccountId: author,
        targetTimestamp: TIMESTAMP - 5,
        group,
      },
    },
    { kind: 'delete', delete: { timestamp: TIMESTAMP, targetTimestamp: TIMESTAMP - 5, group } },
    { kind: 'edit', edit: { timestamp: TIMESTAMP, targetTimestamp: TIMESTAMP - 5, text: 'fixed', group } },
    { kind: 'typing', typing: { timestamp: TIMESTAMP, action: 'stopped', group } },
  ];

  it('round-trips the group of each kind, and leaves it absent for 1:1 ones', () => {
    for (const content of actions) expect(decodeContent(encodeContent(content), ctx)).toEqual(content);
    const direct: Content = { kind: 'edit', edit: { timestamp: TIMESTAMP, targetTimestamp: TIMESTAMP - 5, text: 'x' } };
    expect(decodeContent(encodeContent(direct), ctx)).toEqual(direct);
  });

  it('refuses a hostile group id or revision written with the unbounded generated encoder', () => {
    const hostile = (id: Uint8Array, revision = 1): Uint8Array[] => {
      const g = create(pb.GroupContextSchema, { id, revision });
      const bodies: pb.Content['body'][] = [
        {
          case: 'reactionMessage',
          value: create(pb.ReactionMessageSchema, {
            timestamp: BigInt(TIMESTAMP),
            emoji: '👍',
            targetAuthorAccountId: author,
            targetTimestamp: 1n,
            group: g,
          }),
        },
        {
          case: 'deleteMessage',
          value: create(pb.DeleteMessageSchema, {
            timestamp: BigInt(TIMESTAMP),
            targetTimestamp: 1n,
            group: g,
          }),
        },
        {
          case: 'editMessage',
          value: create(pb.EditMessageSchema, {
            timestamp: BigInt(TIMESTAMP),
            targetTimestamp: 1n,
            text: 'x',
            group: g,
          }),
        },
        { case: 'typingMessage', value: create(pb.TypingMessageSchema, { timestamp: BigInt(TIMESTAMP), group: g }) },
      ];
      return bodies.map((body) => toBinary(pb.ContentSchema, create(pb.ContentSchema, { version: 1, body })));
    };
    for (const bytes of hostile(new Uint8Array(31))) expect(reasonOf(bytes)).toBe('invalid_format');
    for (const bytes of hostile(new Uint8Array(33))) expect(reasonOf(bytes)).toBe('too_large');
    for (const bytes of hostile(new Uint8Array(32), 2 ** 32 - 1)) expect(reasonOf(bytes)).toBe('out_of_range');
    for (const bytes of hostile(new Uint8Array(32), 3)) expect(reasonOf(bytes)).toBeUndefined();
  });
});
