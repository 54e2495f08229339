/**
 * SPQR's receiving jump limit is part of the state from its creation: 25,000 for a session between two accounts,
 * none for a note-to-self session (`selfSession`), as libsignal does. The limit survives serialization (state
 * format 2 carries it; a default-limit state is still written as format 1, byte for byte as before), and states
 * saved before the limit existed load with the default.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from '@jest/globals';

import { SPQR_MAX_JUMP, SPQR_UNLIMITED_JUMPS } from '../../src/constants.js';
import type { SpqrState } from '../../src/ratchet/spqr/index.js';
import { SpqrState as State, spqrInitialState, spqrRecv, spqrSend } from '../../src/ratchet/spqr/index.js';
import { ready } from '../../src/primitives/sodium.js';

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const GAP = 25_010;

/** Alice's state after a few exchanged messages, and Bob's; then GAP messages from Alice of which Bob gets none. */
function afterGap(selfSession: boolean): { bob: SpqrState; last: { message: Uint8Array; key: Uint8Array } } {
  const authKey = rng(32);
  let alice = spqrInitialState(authKey, 'A2B', { selfSession });
  let bob = spqrInitialState(authKey, 'B2A', { selfSession });
  for (let i = 0; i < 3; i++) {
    const a = spqrSend(alice, rng);
    alice = a.state;
    bob = spqrRecv(bob, a.message).state;
    const b = spqrSend(bob, rng);
    bob = b.state;
    alice = spqrRecv(alice, b.message).state;
  }
  let last = spqrSend(alice, rng);
  for (let i = 1; i < GAP; i++) last = spqrSend(last.state, rng);
  return { bob: State.deserialize(bob.serialize()), last };
}

describe('SPQR jump limit', () => {
  beforeAll(ready);

  it('should refuse a gap of 25,010 with KeyJump in a session between two accounts, changing nothing', () => {
    const { bob, last } = afterGap(false);
    expect(bob.jumpLimit).toBe(SPQR_MAX_JUMP);
    const before = bob.serialize();
    expect(() => spqrRecv(bob, last.message)).toThrow(expect.objectContaining({ kind: 'KeyJump' }));
    expect(bob.serialize()).toEqual(before);
  });

  it('should accept a gap of 25,010 in a note-to-self session, after a save and a load', () => {
    const { bob, last } = afterGap(true);
    expect(bob.jumpLimit).toBe(SPQR_UNLIMITED_JUMPS);
    const received = spqrRecv(bob, last.message);
    expect(hex(received.key)).toBe(hex(last.key));
    expect(received.state.jumpLimit).toBe(SPQR_UNLIMITED_JUMPS);
  });

  it('should write format 1 for the default limit and format 2 with the limit otherwise', () => {
    const authKey = rng(32);
    const normal = spqrInitialState(authKey, 'A2B').serialize();
    const self = spqrInitialState(authKey, 'A2B', { selfSession: true }).serialize();
    expect(normal[0]).toBe(1);
    expect(self[0]).toBe(2);
    // Format 2 is format 1 with the varint limit (0xffffffff: ff ff ff ff 0f) after the format byte.
    expect(hex(self)).toBe(`02ffffffff0f${hex(normal.subarray(1))}`);
    const loaded = State.deserialize(self);
    expect(loaded.jumpLimit).toBe(SPQR_UNLIMITED_JUMPS);
    expect(hex(loaded.serialize())).toBe(hex(self));
    expect(hex(spqrSend(loaded, rng).state.serialize()).slice(0, 12)).toBe('02ffffffff0f');
  });

  it('should load every state saved before the limit existed with the default limit', () => {
    const fixtures = JSON.parse(readFileSync(new URL('./fixtures/spqr-states-v1.json', import.meta.url), 'utf8')) as {
      byTag: Record<string, string>;
    };
    for (const h of Object.values(fixtures.byTag)) {
      const state = State.deserialize(new Uint8Array(Buffer.from(h, 'hex')));
      expect(state.jumpLimit).toBe(SPQR_MAX_JUMP);
      expect(spqrSend(state, rng).state.serialize()[0]).toBe(1);
    }
  });

  it('should refuse a format-2 state with a zero limit or a limit past the wire range', () => {
    const body = spqrInitialState(rng(32), 'B2A').serialize().subarray(1);
    for (const limit of [[0x00], [0x80, 0x80, 0x80, 0x80, 0x10]]) {
      expect(() => State.deserialize(Uint8Array.of(2, ...limit, ...body))).toThrow(
        expect.objectContaining({ kind: 'StateCorrupt' }),
      );
    }
    expect(() => State.deserialize(Uint8Array.of(3, ...body))).toThrow(
      expect.objectContaining({ kind: 'StateCorrupt' }),
    );
  });
});
