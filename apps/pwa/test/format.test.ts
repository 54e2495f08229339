/**
 * Unit tests of the UI's formatting and of the conversion of stored records into view data: both must be total,
 * because a stored message can carry any value (a timestamp past JavaScript's date range, a string where a number
 * belongs, a negative count) and one such value must never take down a screen.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { TFunction } from 'i18next';
import { toChatMessage, toSummary } from '../src/app/view-data.js';
import {
  NO_VALUE,
  formatCount,
  formatDay,
  formatListTime,
  formatTime,
  isSameDay,
  isoTime,
  validTime,
} from '../src/ui/format.js';

const t = ((key: string) => key) as unknown as TFunction;
/** A fixed "now" (2026-11-26T12:00:00Z) so day names do not depend on when the test runs. */
const NOW = Date.UTC(2026, 10, 26, 12);

/** Values a hostile or corrupted record can hold where a timestamp belongs. */
const HOSTILE_TIMES: unknown[] = [
  9e15,
  -9e15,
  8.64e15,
  -8.64e15,
  2 ** 53 - 1,
  Number.MAX_VALUE,
  -1e300,
  NaN,
  Infinity,
  -Infinity,
  '1700000000000',
  null,
  undefined,
  {},
  [],
  true,
];

describe('format', () => {
  it('should give the placeholder, never an exception, for a time that names no date', () => {
    for (const value of HOSTILE_TIMES) {
      for (const language of ['en', 'zh-CN']) {
        expect(formatTime(value, language)).toBe(NO_VALUE);
        expect(formatDay(value, language, t, NOW)).toBe(NO_VALUE);
        expect(formatListTime(value, language, t, NOW)).toBe(NO_VALUE);
      }
      expect(isoTime(value)).toBeUndefined();
      expect(validTime(value)).toBeNull();
      expect(() => isSameDay(value, NOW)).not.toThrow();
    }
  });

  it('should never throw for any number, language or clock', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.integer(), fc.constantFrom(...HOSTILE_TIMES)),
        fc.oneof(fc.double(), fc.constant(NOW)),
        fc.constantFrom('en', 'zh-CN', 'xx-invalid-tag-!!', ''),
        (value, now, language) => {
          for (const text of [
            formatTime(value, language),
            formatDay(value, language, t, now),
            formatListTime(value, language, t, now),
            formatCount(value, language),
          ])
            expect(typeof text).toBe('string');
          isoTime(value);
          isSameDay(value, now);
        },
      ),
    );
  });

  it('should format real dates as before', () => {
    expect(formatDay(NOW, 'en', t, NOW)).toBe('time.today');
    expect(formatDay(NOW - 86_400_000, 'en', t, NOW)).toBe('time.yesterday');
    expect(formatTime(NOW, 'en')).toMatch(/\d{1,2}:00/);
    expect(formatListTime(NOW - 30 * 86_400_000, 'en', t, NOW)).toMatch(/Oct/);
    expect(isoTime(NOW)).toBe('2026-11-26T12:00:00.000Z');
    expect(isSameDay(NOW, NOW + 1)).toBe(true);
    expect(isSameDay(9e15, 'x')).toBe(true);
    expect(isSameDay(9e15, NOW)).toBe(false);
  });

  it('should show counts as non-negative integers, capped for a badge', () => {
    expect(formatCount(1, 'en')).toBe('1');
    expect(formatCount(2.7, 'en')).toBe('2');
    expect(formatCount(1_000_000, 'en')).toBe('999+');
    for (const bad of [-1, NaN, Infinity, '3', null, {}]) expect(formatCount(bad, 'en')).toBe(NO_VALUE);
  });
});

describe('view data', () => {
  it('should turn a message with hostile fields into a safe view, keyed by its storage key', () => {
    const view = toChatMessage(
      'conv/1',
      { id: { evil: true }, direction: 'outgoing', text: { not: 'text' }, timestamp: 9e15, status: 'pwned' },
      'conv',
    );
    expect(view).toEqual({
      id: 'conv/1',
      conversationId: 'conv',
      outgoing: true,
      kind: 'text',
      text: '',
      sentAt: null,
      unshowable: true,
    });
    expect(toChatMessage('k', null, 'c')).toMatchObject({ id: 'k', outgoing: false, sentAt: null, unshowable: true });
    expect(toChatMessage('k', { text: 'hi', timestamp: NOW, direction: 'incoming' }, 'c')).toEqual({
      id: 'k',
      conversationId: 'c',
      outgoing: false,
      kind: 'text',
      text: 'hi',
      sentAt: NOW,
    });
  });

  it('should show reactions, edits, quotes and deletion from any stored value, and nothing malformed', () => {
    const peer = '22222222-2222-4222-8222-222222222222';
    const conversation = `direct:${peer}`;
    const view = toChatMessage(
      'k',
      {
        direction: 'incoming',
        text: 'now',
        timestamp: 1,
        reactions: [
          { authorAccountId: peer, emoji: '👍' },
          { authorAccountId: 'me', emoji: '👍' },
          { authorAccountId: peer, emoji: 42 },
          { authorAccountId: peer, emoji: 'x'.repeat(5000) },
          null,
        ],
        edits: [{ text: 'before', timestamp: 9e99 }, 'junk'],
        quote: { text: 'quoted', authorAccountId: peer, timestamp: 5 },
      },
      conversation,
    );
    expect(view.reactions).toEqual([{ emoji: '👍', count: 2, mine: true }]);
    expect(view.edits).toEqual([
      { text: 'before', at: null },
      { text: '', at: null },
    ]);
    expect(view.quote).toEqual({ text: 'quoted', byMe: false, sentAt: 5 });
    const deleted = toChatMessage(
      'k',
      { direction: 'outgoing', text: 'secret', deletedAt: 3, reactions: 'x' },
      conversation,
    );
    expect(deleted).toMatchObject({ deleted: true, text: '' });
    expect(deleted.reactions).toBeUndefined();
    expect(
      toChatMessage('k', { text: 'a', reactions: 'not a list', edits: {}, quote: 7 }, conversation),
    ).not.toHaveProperty('reactions');
  });

  it('should turn a conversation with hostile fields into a safe summary', () => {
    const summary = toSummary(
      'acct-1234-5678',
      { peerUsername: ['x'], unreadCount: 'many', lastMessageAt: 9e15 },
      undefined,
      { trust: 'verified', changedAt: 'never' },
    );
    expect(summary).toEqual({
      id: 'acct-1234-5678',
      title: 'acct-123',
      unread: 0,
      updatedAt: 0,
      identityChanged: false,
      verified: true,
      request: false,
      blocked: false,
    });
    expect(toSummary('a', { unreadCount: -3, lastMessageAt: NaN }, undefined, undefined)).toMatchObject({
      unread: 0,
      updatedAt: 0,
    });
  });

  it('should title a chat with the nickname, else the profile name, else the username, and show the avatar', () => {
    const stored = { peerUsername: 'Bob_UX' };
    const avatar = new Uint8Array([0xff, 0xd8, 0xff]);
    const names = (nickname: unknown, profileName: unknown, image: unknown = undefined) => ({
      nickname,
      profileName,
      avatar: image,
    });
    expect(toSummary('direct:b', stored, undefined, undefined, names('Bobby', 'Robert', avatar))).toMatchObject({
      title: 'Bobby',
      avatar,
    });
    expect(toSummary('direct:b', stored, undefined, undefined, names(undefined, 'Robert')).title).toBe('Robert');
    expect(toSummary('direct:b', stored, undefined, undefined, names('', null)).title).toBe('Bob_UX');
    // Hostile values from storage: not strings or bytes, ignored; a long name is cut by characters, not code units.
    const hostile = toSummary('direct:b', stored, undefined, undefined, names(42, { name: 'x' }, 'not bytes'));
    expect(hostile.title).toBe('Bob_UX');
    expect(hostile.avatar).toBeUndefined();
    expect([...toSummary('direct:b', stored, undefined, undefined, names('🇨🇳'.repeat(40), null)).title]).toHaveLength(
      64,
    );
  });
});
