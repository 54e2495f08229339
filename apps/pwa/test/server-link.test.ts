/** What the connection indicator says for each sequence of the core's connection states and the browser's network. */
import { describe, expect, it } from '@jest/globals';

import type { ConnectionState } from '@cove/client';

import { connectionStatus, effectiveState, ServerLinkTracker } from '../src/app/server-link.js';

const fold = (states: ConnectionState[]): string[] => {
  const tracker = new ServerLinkTracker();
  return states.map((state) => tracker.next(state));
};

describe(ServerLinkTracker.name, () => {
  it('should say connecting until the first failure, then unreachable through retries until online', () => {
    expect(fold(['connecting', 'online'])).toEqual(['connecting', 'online']);
    expect(
      fold(['connecting', 'offline', 'connecting', 'offline', 'connecting', 'online', 'offline', 'connecting']),
    ).toEqual([
      'connecting',
      'unreachable',
      'unreachable',
      'unreachable',
      'unreachable',
      'online',
      'unreachable',
      'unreachable',
    ]);
  });

  it('should say signed out when the server refuses the device, and forget failures when stopped', () => {
    expect(fold(['connecting', 'removed'])).toEqual(['connecting', 'removed']);
    expect(fold(['connecting', 'unauthorized'])).toEqual(['connecting', 'signed-out']);
    expect(fold(['online', 'replaced'])).toEqual(['online', 'signed-out']);
    expect(fold(['offline', 'stopped', 'connecting'])).toEqual(['unreachable', 'unknown', 'connecting']);
  });
});

describe(connectionStatus.name, () => {
  it('should put the browser being offline before the server, and say nothing when online or unknown', () => {
    expect(connectionStatus(false, 'online')).toBe('offline');
    expect(connectionStatus(false, 'unreachable')).toBe('offline');
    expect(connectionStatus(false, 'signed-out')).toBe('signed-out');
    expect(connectionStatus(true, 'removed')).toBe('signed-out');
    expect(connectionStatus(true, 'unreachable')).toBe('unreachable');
    expect(connectionStatus(true, 'connecting')).toBe('connecting');
    expect(connectionStatus(true, 'online')).toBeNull();
    expect(connectionStatus(true, 'unknown')).toBeNull();
  });
});

describe(effectiveState.name, () => {
  it("should read a linked device's refused credential as removed, and the primary's as signed out", () => {
    expect(effectiveState('unauthorized', true)).toBe('removed');
    expect(effectiveState('unauthorized', false)).toBe('unauthorized');
    expect(effectiveState('removed', false)).toBe('removed');
    expect(effectiveState('replaced', true)).toBe('replaced');
    expect(effectiveState('online', true)).toBe('online');
  });
});
