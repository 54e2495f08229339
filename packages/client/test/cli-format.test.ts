/**
 * The CLI's and the core's formatting functions are total and terminal-safe, checked with fast-check: for any stored
 * value (hostile numbers such as 9e15, NaN or strings where numbers belong, values of any shape) they return a
 * string without throwing; human-readable lines never carry a control, bidi or line-separator character from
 * others' text; JSON lines read back exactly.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { escapeText, formatTimestamp, hasUnsafeText } from '../src/display.js';
import { conversationLine, jsonLine, messageJson, messageLine } from '../src/node/cli/format.js';
import { formatSafetyNumber } from '../src/trust.js';

/** Characters a peer would use to forge lines or drive the terminal. */
const hostileChar = fc.constantFrom(
  '\n',
  '\r',
  '\t',
  '\u001b',
  '\u0007',
  '\u0000',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u061c',
  '\u200e',
  '\u200f',
  '\u2028',
  '\u2029',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
);
const hostileText = fc
  .array(fc.oneof(hostileChar, fc.string({ maxLength: 4 }), fc.constant('[2026-01-01 00:00:00] bob: ')), {
    maxLength: 12,
  })
  .map((parts) => parts.join(''));
const hostileNumber = fc.oneof(
  fc.constantFrom(
    9e15,
    8.64e15,
    8.64e15 + 1,
    -8.64e15 - 1,
    Number.MAX_SAFE_INTEGER,
    Number.NaN,
    Infinity,
    -Infinity,
    -0,
  ),
  fc.double(),
  fc.integer(),
);
const anyField = fc.oneof(hostileNumber, hostileText, fc.anything({ maxDepth: 2, withNullPrototype: true }));

/** Records shaped like stored messages and conversations, every field possibly hostile or of the wrong type. */
const storedMessage = fc.record(
  {
    id: anyField,
    conversationId: anyField,
    direction: fc.oneof(fc.constantFrom('incoming', 'outgoing'), anyField),
    authorAccountId: anyField,
    timestamp: anyField,
    storedAt: anyField,
    serverTimestamp: anyField,
    text: fc.oneof(hostileText, anyField),
    status: anyField,
    quote: anyField,
    expireTimerSeconds: anyField,
  },
  { requiredKeys: [] },
);
const storedConversation = fc.record(
  { id: anyField, peerAccountId: anyField, peerUsername: fc.oneof(hostileText, anyField), unreadCount: anyField },
  { requiredKeys: [] },
);
const anything = fc.oneof(storedMessage, storedConversation, fc.anything({ maxDepth: 3, withNullPrototype: true }));

const expectSafeLine = (line: string): void => {
  expect(typeof line).toBe('string');
  expect(hasUnsafeText(line)).toBe(false);
};

describe('CLI formatting', () => {
  it('should show any stored message or conversation on one safe line, without throwing', () => {
    fc.assert(
      fc.property(anything, fc.oneof(hostileText, anyField), (value, who) => {
        expectSafeLine(messageLine(value, who));
        expectSafeLine(messageLine(value, who, { at: who, body: '(x)' }));
        expectSafeLine(conversationLine(value));
        expectSafeLine(formatTimestamp(value));
        expectSafeLine(escapeText(value));
        expect(typeof formatSafetyNumber(value as string)).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });

  it('should print JSON lines that read back exactly and carry no raw control or bidi character', () => {
    fc.assert(
      fc.property(fc.oneof(storedMessage, storedConversation), hostileText, (value, peer) => {
        const line = jsonLine({ type: 'message', ...messageJson(value, peer) });
        expect(hasUnsafeText(line)).toBe(false);
        expect(line).not.toContain('\n');
        expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify({ type: 'message', ...messageJson(value, peer) })));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const line = jsonLine(value);
        expect(hasUnsafeText(line)).toBe(false);
        expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it('should never throw on unprintable values', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(JSON.parse(jsonLine(cyclic))).toEqual({ type: 'error', error: 'unprintable' });
    expect(JSON.parse(jsonLine(10n))).toEqual({ type: 'error', error: 'unprintable' });
    expect(jsonLine(undefined)).toBe(JSON.stringify({ type: 'error', error: 'unprintable' }));
  });

  it('should format valid times as UTC and name invalid ones', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        expect(formatTimestamp(ms)).toBe(new Date(ms).toISOString().slice(0, 19).replace('T', ' '));
      }),
    );
    expect(formatTimestamp(9e15)).toBe('(invalid time)');
    expect(formatTimestamp(Number.NaN)).toBe('(invalid time)');
    expect(formatTimestamp('1700000000000')).toBe('(invalid time)');
    expect(formatTimestamp(8.64e15)).toBe('275760-09-13 00:00:00');
    expect(formatTimestamp(-8.64e15)).toBe('-271821-04-20 00:00:00');
  });

  it('should show forged lines and escape sequences in a visible escaped form', () => {
    const forged = 'hi\n[2026-01-01 00:00:00] bob: send me the code\u001b[2J\u202etxt.exe';
    const line = messageLine({ direction: 'incoming', timestamp: 1_800_000_000_000, text: forged }, 'mallory');
    expect(line).toBe(
      '[2027-01-15 08:00:00] mallory: hi\\n[2026-01-01 00:00:00] bob: send me the code\\x1b[2J\\u202etxt.exe',
    );
    expect(line.split('\n')).toHaveLength(1);
    expect(escapeText('plain text, ünïcödé and emoji 👋 stay as they are')).toBe(
      'plain text, ünïcödé and emoji 👋 stay as they are',
    );
  });
});
