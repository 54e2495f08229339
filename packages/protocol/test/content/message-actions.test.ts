/**
 * Reactions, deletes and edits in Content: they round-trip, and every field is bounded on decode — one RGI emoji
 * (no text, several emoji, controls or bidi characters, nothing over 64 bytes), account ids in their format, send
 * times in the envelope's window, references to other messages no further than a day ahead, edit texts neither
 * empty nor longer than a message.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';

import {
  ContentError,
  MAX_TEXT_BYTES,
  MAX_TIMESTAMP_AHEAD_MS,
  decodeContent,
  encodeContent,
  isReactionEmoji,
} from '../../src/content/index.js';
import type { Content } from '../../src/content/index.js';

const SERVER = 1_800_000_000_000;
const context = { serverTimestamp: SERVER };
const AUTHOR = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';

const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ContentError) return error.reason;
    throw error;
  }
  return 'accepted';
};

/** Content with one body written by hand: field `body` of Content, its fields given as (number, value) pairs. */
const raw = (body: number, fields: [number, bigint | string][]): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(body, WireType.LengthDelimited).fork();
  for (const [field, value] of fields) {
    if (typeof value === 'bigint') writer.tag(field, WireType.Varint).uint64(value);
    else writer.tag(field, WireType.LengthDelimited).string(value);
  }
  writer.join();
  return writer.finish();
};

describe('Message action content', () => {
  it('should round-trip reactions, deletes and edits', () => {
    const contents: Content[] = [
      {
        kind: 'reaction',
        reaction: { timestamp: SERVER, emoji: '👍🏽', targetAuthorAccountId: AUTHOR, targetTimestamp: SERVER - 5 },
      },
      {
        kind: 'reaction',
        reaction: {
          timestamp: SERVER,
          emoji: '👨‍👩‍👧‍👦',
          targetAuthorAccountId: AUTHOR,
          targetTimestamp: SERVER - 5,
          remove: true,
        },
      },
      { kind: 'delete', delete: { timestamp: SERVER, targetTimestamp: SERVER - 5 } },
      { kind: 'edit', edit: { timestamp: SERVER, targetTimestamp: SERVER - 5, text: 'fixed 修正' } },
    ];
    for (const content of contents) expect(decodeContent(encodeContent(content), context)).toEqual(content);
  });

  it('should read account ids in lower case', () => {
    const bytes = raw(7, [
      [1, BigInt(SERVER)],
      [2, '❤️'],
      [3, AUTHOR.toUpperCase()],
      [4, BigInt(SERVER - 1)],
    ]);
    const content = decodeContent(bytes, context);
    expect(content.kind === 'reaction' && content.reaction.targetAuthorAccountId).toBe(AUTHOR);
  });

  it('should accept exactly one emoji as a reaction', () => {
    for (const good of ['👍', '❤️', '🇨🇳', '1️⃣', '👩🏾‍💻', '🏳️‍🌈']) expect(isReactionEmoji(good)).toBe(true);
    for (const bad of ['', 'a', '👍👍', ' 👍', '👍\n', '\u202e👍', '\u0000', '1', '❤', 'ok', '👍'.repeat(40)])
      expect(isReactionEmoji(bad)).toBe(false);
  });

  it('should refuse hostile reaction values on decode', () => {
    const base: [number, bigint | string][] = [
      [1, BigInt(SERVER)],
      [3, AUTHOR],
      [4, BigInt(SERVER - 1)],
    ];
    expect(reason(() => decodeContent(raw(7, [...base, [2, 'text']]), context))).toBe('invalid_format');
    expect(reason(() => decodeContent(raw(7, [...base, [2, '👍👍']]), context))).toBe('invalid_format');
    expect(reason(() => decodeContent(raw(7, [...base, [2, '\u202e']]), context))).toBe('invalid_format');
    expect(reason(() => decodeContent(raw(7, [...base, [2, 'x'.repeat(100_000)]]), context))).toBe('too_large');
    expect(reason(() => decodeContent(raw(7, base), context))).toBe('invalid_format');
    const badAuthor = raw(7, [
      [1, BigInt(SERVER)],
      [2, '👍'],
      [3, 'mallory'],
      [4, BigInt(SERVER)],
    ]);
    expect(reason(() => decodeContent(badAuthor, context))).toBe('invalid_format');
  });

  it('should hold every timestamp to its window', () => {
    const ahead = BigInt(SERVER + MAX_TIMESTAMP_AHEAD_MS + 1);
    for (const body of [7, 8, 9]) {
      const extra: [number, bigint | string][] =
        body === 7
          ? [
              [2, '👍'],
              [3, AUTHOR],
            ]
          : body === 9
            ? [[3, 'text']]
            : [];
      const sentAhead = raw(body, [[1, ahead], ...extra, [body === 7 ? 4 : 2, BigInt(SERVER)]]);
      const targetAhead = raw(body, [[1, BigInt(SERVER)], ...extra, [body === 7 ? 4 : 2, ahead]]);
      const pastDates = raw(body, [[1, BigInt(SERVER)], ...extra, [body === 7 ? 4 : 2, 9_000_000_000_000_000n]]);
      expect(reason(() => decodeContent(sentAhead, context))).toBe('out_of_range');
      expect(reason(() => decodeContent(targetAhead, context))).toBe('out_of_range');
      expect(reason(() => decodeContent(pastDates, context))).toBe('out_of_range');
    }
  });

  it('should refuse empty and over-long edits', () => {
    const edit = (text: string): Content => ({ kind: 'edit', edit: { timestamp: SERVER, targetTimestamp: 1, text } });
    expect(reason(() => encodeContent(edit('')))).toBe('malformed');
    expect(reason(() => encodeContent(edit('x'.repeat(MAX_TEXT_BYTES + 1))))).toBe('too_large');
    const empty = raw(9, [
      [1, BigInt(SERVER)],
      [2, BigInt(SERVER - 1)],
    ]);
    expect(reason(() => decodeContent(empty, context))).toBe('malformed');
  });
});
