/**
 * The Notices conversation's view data: the stored `notices` conversation is neither a group nor a contact (no safety
 * number, a title the UI translates), each incoming notice names the administrator the client confirmed (or the start
 * of the account id, never markup), and a hostile sender name is not shown as one.
 */
import { describe, expect, it } from '@jest/globals';
import { toChatMessage, toSummary } from '../src/app/view-data.js';

const ADMIN = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';

describe('notices view data', () => {
  it('should mark the notices conversation, not as a group or a contact', () => {
    const summary = toSummary(
      'notices',
      { kind: 'notices', title: 'Notices', peerAccountId: '', peerUsername: null, unreadCount: 2, lastMessageAt: 5 },
      undefined,
      undefined,
    );
    expect(summary).toMatchObject({ id: 'notices', notices: true, unread: 2, title: 'Notices' });
    expect(summary.group).toBeUndefined();
    expect(toSummary('direct:x', { peerUsername: 'bob' }, undefined, undefined).notices).toBeUndefined();
  });

  it('should name the sending administrator of each notice', () => {
    const stored = {
      direction: 'incoming',
      authorAccountId: ADMIN,
      text: 'Fire drill at three',
      timestamp: 1,
      status: 'received',
      notice: { role: 'admin', senderUsername: 'alice' },
    };
    expect(toChatMessage('notices/1', stored, 'notices').sender).toEqual({ accountId: ADMIN, name: 'alice' });
    const unnamed = { ...stored, notice: { role: 'admin', senderUsername: null } };
    expect(toChatMessage('notices/2', unnamed, 'notices').sender).toEqual({
      accountId: ADMIN,
      name: ADMIN.slice(0, 8),
    });
    const hostile = { ...stored, notice: { role: 'admin', senderUsername: 'a\u202Eevil\u0007' } };
    expect(toChatMessage('notices/3', hostile, 'notices').sender?.name).not.toContain('\u0007');
    expect(toChatMessage('notices/4', { ...stored, direction: 'outgoing' }, 'notices').sender).toBeUndefined();
  });
});
