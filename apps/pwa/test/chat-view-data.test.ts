/**
 * The chat's view data for drafts, timers and system lines: a stored draft shows (cut to one line's worth), a
 * stored timer is shown only when it is one, a timer system line becomes `system` (on or off) and anything malformed
 * in those fields is ignored rather than shown; timers read in the UI's language.
 */
import { describe, expect, it } from '@jest/globals';
import { toChatMessage, toSummary } from '../src/app/view-data.js';
import { formatTimer } from '../src/ui/format.js';

const conversation = { peerUsername: 'bob', unreadCount: 0, lastMessageAt: 1 };

describe('chat view data', () => {
  it('should carry a draft and a valid timer into the summary, and nothing malformed', () => {
    expect(toSummary('direct:x', conversation, undefined, undefined, undefined, 'unsent').draft).toBe('unsent');
    expect(toSummary('direct:x', conversation, undefined, undefined, undefined, '   ').draft).toBeUndefined();
    expect(toSummary('direct:x', conversation, undefined, undefined, undefined, 'x'.repeat(5000)).draft).toHaveLength(
      200,
    );
    expect(toSummary('direct:x', { ...conversation, expireTimerSeconds: 3600 }, undefined, undefined)).toMatchObject({
      expireTimerSeconds: 3600,
    });
    for (const bad of [0, -5, 1.5, '3600', 1e12, null, Number.NaN])
      expect(
        toSummary('direct:x', { ...conversation, expireTimerSeconds: bad }, undefined, undefined).expireTimerSeconds,
      ).toBeUndefined();
  });

  it('should turn a stored timer change into a system line, on or off, and ignore malformed ones', () => {
    const base = { direction: 'incoming', authorAccountId: 'a', text: 'x', timestamp: 1, status: 'received' };
    const line = (actor: string | null, seconds: number | null) => ({
      kind: 'timer',
      actor,
      members: [],
      title: null,
      expireTimerSeconds: seconds,
    });
    expect(
      toChatMessage('k', { ...base, system: { kind: 'timer', expireTimerSeconds: 30 } }, 'direct:a').system,
    ).toEqual(line('a', 30));
    expect(
      toChatMessage('k', { ...base, system: { kind: 'timer', expireTimerSeconds: null } }, 'direct:a').system,
    ).toEqual(line('a', null));
    const mine = { ...base, direction: 'outgoing', status: 'sent', system: { kind: 'timer', expireTimerSeconds: 60 } };
    expect(toChatMessage('k', mine, 'direct:a').system).toEqual(line(null, 60));
    // A group change is no line in a direct conversation; a timer out of bounds is no timer line anywhere.
    for (const bad of [
      { kind: 'timer', expireTimerSeconds: -1 },
      { kind: 'timer', expireTimerSeconds: 1.5 },
      { kind: 'timer', expireTimerSeconds: 1e12 },
      { kind: 'title' },
      { kind: 'added', members: [] },
      'timer',
      7,
    ])
      expect(toChatMessage('k', { ...base, system: bad }, 'direct:a').system).toBeUndefined();
    expect(toChatMessage('k', base, 'direct:a').author).toBe('a');
  });

  it('should name timers in the largest whole unit, in English and Chinese, and survive hostile values', () => {
    expect(formatTimer(30, 'en')).toBe('30 seconds');
    expect(formatTimer(3600, 'en')).toBe('1 hour');
    expect(formatTimer(2_419_200, 'en')).toBe('4 weeks');
    expect(formatTimer(28_800, 'zh-CN')).toBe('8小时');
    expect(formatTimer(90, 'en', 'short')).toBe('2 min');
    for (const bad of [Number.NaN, -1, 'x', undefined, Infinity]) expect(formatTimer(bad, 'en')).toBe('0 seconds');
  });
});
