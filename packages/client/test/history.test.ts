import { describe, expect, it } from '@jest/globals';

import { isStatusAdvance } from '../src/history.js';
import type { MessageStatus } from '../src/tables.js';

describe('outgoing status machine', () => {
  const order: MessageStatus[] = ['sending', 'sent', 'delivered', 'read'];

  it('should only move forward through sending → sent → delivered → read', () => {
    for (const [i, from] of order.entries()) {
      for (const [j, to] of order.entries()) expect(isStatusAdvance(from, to)).toBe(j > i);
    }
  });

  it('should let a failed message be retried or be confirmed by a late receipt', () => {
    expect(isStatusAdvance('failed', 'sending')).toBe(true);
    expect(isStatusAdvance('failed', 'sent')).toBe(true);
    expect(isStatusAdvance('failed', 'read')).toBe(true);
    expect(isStatusAdvance('sent', 'failed')).toBe(false);
  });

  it('should never apply outgoing statuses to incoming messages', () => {
    expect(isStatusAdvance('received', 'read')).toBe(false);
    expect(isStatusAdvance('undecryptable', 'delivered')).toBe(false);
  });
});
