/**
 * Group view data with hostile stored values: sender names and system lines from stored rows (control and
 * bidirectional characters removed, lengths bounded, malformed changes shown as plain messages), the summary of a
 * group conversation, the group-notification title in both languages, and the member colours staying put.
 */
import { describe, expect, it } from '@jest/globals';

import { memberColourClass } from '../src/ui/member-colour.js';
import { notificationStrings, notificationTitle } from '../src/platform/sw/notification-text.js';
import { safeName, toChatMessage, toSummary, type GroupNames } from '../src/app/view-data.js';

const ME = '11111111-1111-4111-8111-111111111111';
const ANN = '22222222-2222-4222-8222-222222222222';
const BEN = '33333333-3333-4333-8333-333333333333';
const names: GroupNames = { me: ME, names: new Map([[ANN, 'ann']]) };
const conversationId = `group:${'ab'.repeat(32)}`;

const message = (fields: Record<string, unknown>): Record<string, unknown> => ({
  direction: 'incoming',
  authorAccountId: ANN,
  timestamp: 1_700_000_000_000,
  text: 'hi',
  status: 'received',
  ...fields,
});

describe('group messages as view data', () => {
  it('should name the sender of another member and not of the user', () => {
    expect(toChatMessage('k', message({}), conversationId, names).sender).toEqual({ accountId: ANN, name: 'ann' });
    expect(toChatMessage('k', message({ authorAccountId: BEN }), conversationId, names).sender?.name).toBe('33333333');
    expect(
      toChatMessage('k', message({ direction: 'outgoing', authorAccountId: ME, status: 'sent' }), conversationId, names)
        .sender,
    ).toBeUndefined();
    // A direct conversation has no sender line at all.
    expect(toChatMessage('k', message({}), 'direct:x').sender).toBeUndefined();
  });

  it('should turn a stored change into a system line, with the user as null actor and empty member name', () => {
    const byAnn = toChatMessage(
      'k',
      message({
        system: {
          kind: 'added',
          revision: 2,
          members: [
            { accountId: BEN, role: 'member', username: 'ben\u202e' },
            { accountId: ME, role: 'member', username: 'me' },
          ],
          title: null,
          expireTimerSeconds: null,
        },
      }),
      conversationId,
      names,
    );
    expect(byAnn.system).toEqual({
      kind: 'added',
      actor: 'ann',
      members: ['ben', ''],
      title: null,
      expireTimerSeconds: null,
    });
    const mine = toChatMessage(
      'k',
      message({
        authorAccountId: ME,
        direction: 'outgoing',
        system: { kind: 'title', members: [], title: 'X'.repeat(500) },
      }),
      conversationId,
      names,
    );
    expect(mine.system?.actor).toBeNull();
    expect(mine.system?.title).toHaveLength(64);
  });

  it('should show a malformed change as an ordinary message rather than fail', () => {
    for (const system of [{ kind: 'takeover' }, 'added', 7, { kind: 'removed', members: 'everyone' }]) {
      const view = toChatMessage('k', message({ system }), conversationId, names);
      if (view.system) expect(view.system.members).toEqual([]);
      else expect(view.text).toBe('hi');
    }
  });

  it('should summarize a group by its title, never a hostile one', () => {
    const summary = toSummary(
      conversationId,
      { kind: 'group', title: '\u0007Team\u2066', unreadCount: 2 },
      undefined,
      undefined,
    );
    expect(summary).toMatchObject({ title: 'Team', group: true, unread: 2 });
    expect(toSummary(conversationId, { kind: 'group', title: 42 }, undefined, undefined).title).toBe('…');
    expect(safeName('   ')).toBeNull();
  });
});

describe('group notifications and colours', () => {
  it('should title a group message "Ann in Team" in English and Chinese, and a direct one by its sender', () => {
    const en = notificationStrings('en', []);
    const zh = notificationStrings('zh-CN', []);
    expect(notificationTitle('ann', 'Team', en)).toBe('ann in Team');
    expect(notificationTitle('ann', 'Team', zh)).toBe('ann（Team）');
    expect(notificationTitle('ann\u202e', null, en)).toBe('ann');
  });

  it('should give an account the same colour every time, and spread accounts over the colours', () => {
    expect(memberColourClass(ANN)).toBe(memberColourClass(ANN));
    const classes = new Set(
      Array.from({ length: 64 }, (_, i) =>
        memberColourClass(`${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`),
      ),
    );
    expect(classes.size).toBeGreaterThan(4);
    for (const c of classes) expect(c).toMatch(/^sender-c[0-7]$/);
  });
});
