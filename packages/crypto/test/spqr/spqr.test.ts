/**
 * SPQR end to end between two of our own states: keys agree for every message in ping-pong, bursts, loss and
 * reordering; epochs advance in both roles; serialized states resume; bad input is refused without changing the
 * state.
 */
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import type { SpqrState } from '../../src/ratchet/spqr/index.js';
import { SpqrError, SpqrState as State, spqrInitialState, spqrRecv, spqrSend } from '../../src/ratchet/spqr/index.js';
import { decodeMessage, encodeMessage, MessageType } from '../../src/ratchet/spqr/message.js';
import { ready } from '../../src/primitives/sodium.js';

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** A small deterministic PRNG so failures replay. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface InFlight {
  message: Uint8Array;
  key: Uint8Array;
}

class Party {
  state: SpqrState;
  /** Store and reload the state after every step (checks every reachable state against the loader). */
  reload = false;
  constructor(state: SpqrState) {
    this.state = state;
  }
  private commit(next: SpqrState): void {
    this.state = this.reload ? State.deserialize(next.serialize()) : next;
  }
  send(): InFlight {
    const out = spqrSend(this.state, rng);
    this.commit(out.state);
    return { message: out.message, key: out.key };
  }
  recv(m: InFlight): void {
    const out = spqrRecv(this.state, m.message);
    expect(Buffer.from(out.key).toString('hex')).toBe(Buffer.from(m.key).toString('hex'));
    this.commit(out.state);
  }
}

function pair(): [Party, Party] {
  const authKey = rng(32);
  return [new Party(spqrInitialState(authKey, 'A2B')), new Party(spqrInitialState(authKey, 'B2A'))];
}

describe('SPQR between two of our states', () => {
  beforeAll(ready);

  it('ping-pong agrees on every key and advances epochs in both roles', () => {
    const [alice, bob] = pair();
    const epochs = new Set<number>();
    for (let i = 0; i < 400; i++) {
      bob.recv(alice.send());
      alice.recv(bob.send());
      epochs.add(decodeMessage(alice.send().message).epoch);
      // (the extra send above is dropped on purpose: loss of single messages must not matter)
    }
    expect(alice.state.epoch).toBeGreaterThanOrEqual(8);
    expect(bob.state.epoch).toBeGreaterThanOrEqual(8);
    expect(Math.max(...epochs)).toBe(alice.state.epoch);
  });

  it('keys agree with bursts, loss and reordering, passing many epochs', () => {
    const random = prng(7);
    const [alice, bob] = pair();
    alice.reload = true;
    bob.reload = true;
    const toBob: InFlight[] = [];
    const toAlice: InFlight[] = [];
    let dropped = 0;
    const deliver = (queue: InFlight[], to: Party, all: boolean): void => {
      while (queue.length > 0 && (all || random() < 0.7)) {
        // Deliver out of order within a small window.
        const pick = Math.floor(random() * Math.min(queue.length, 4));
        const [m] = queue.splice(pick, 1);
        if (random() < 0.1) {
          dropped++;
          continue;
        }
        to.recv(m as InFlight);
      }
    };
    for (let round = 0; round < 900; round++) {
      const burstA = random() < 0.5 ? 1 + Math.floor(random() * 6) : 0;
      const burstB = random() < 0.5 ? 1 + Math.floor(random() * 6) : 0;
      for (let i = 0; i < burstA; i++) toBob.push(alice.send());
      for (let i = 0; i < burstB; i++) toAlice.push(bob.send());
      deliver(toBob, bob, false);
      deliver(toAlice, alice, false);
    }
    deliver(toBob, bob, true);
    deliver(toAlice, alice, true);
    expect(dropped).toBeGreaterThan(50);
    expect(Math.min(alice.state.epoch, bob.state.epoch)).toBeGreaterThanOrEqual(10);
  });

  it('resumes from serialized state at every step', () => {
    const [alice, bob] = pair();
    for (let i = 0; i < 120; i++) {
      alice.state = State.deserialize(alice.state.serialize());
      bob.recv(alice.send());
      bob.state = State.deserialize(bob.state.serialize());
      if (i % 3 !== 0) alice.recv(bob.send());
    }
    expect(alice.state.epoch).toBeGreaterThan(2);
    const bytes = alice.state.serialize();
    expect(bytes[0]).toBe(1);
    expect(State.deserialize(bytes).serialize()).toEqual(bytes);
  });

  it('refuses V0 (empty) with MinimumVersion and leaves the state alone', () => {
    const [, bob] = pair();
    const before = bob.state.serialize();
    expect(() => spqrRecv(bob.state, new Uint8Array(0))).toThrow(expect.objectContaining({ kind: 'MinimumVersion' }));
    expect(() => spqrRecv(bob.state, Uint8Array.of(0, 1, 1, 0))).toThrow(SpqrError);
    expect(bob.state.serialize()).toEqual(before);
  });

  it('rejects malformed and forged messages without touching the input state', () => {
    const [alice, bob] = pair();
    // Drive to a state where the header is pending on Bob's side.
    const first = alice.send();
    const before = bob.state.serialize();
    const truncated = first.message.slice(0, first.message.length - 1);
    expect(() => spqrRecv(bob.state, truncated)).toThrow(expect.objectContaining({ kind: 'Malformed' }));
    // A forged header (all three chunks replaced) fails the header MAC.
    const forged = (index: number, chain: number): Uint8Array =>
      encodeMessage({ epoch: 1, index: chain, type: MessageType.Hdr, chunk: { index, data: rng(32) } });
    let s = bob.state;
    s = spqrRecv(s, forged(0, 1)).state;
    s = spqrRecv(s, forged(1, 2)).state;
    const mid = s.serialize();
    expect(() => spqrRecv(s, forged(2, 3))).toThrow(expect.objectContaining({ kind: 'Other' }));
    expect(s.serialize()).toEqual(mid);
    expect(bob.state.serialize()).toEqual(before);
    // Bob still accepts Alice's real message afterwards.
    bob.recv(first);
  });

  it('deserialize of garbage throws StateCorrupt', () => {
    const [alice] = pair();
    alice.send();
    const good = alice.state.serialize();
    const cases = [new Uint8Array(0), Uint8Array.of(9), good.slice(0, good.length - 1), Uint8Array.of(...good, 0)];
    for (const c of cases) {
      expect(() => State.deserialize(c)).toThrow(expect.objectContaining({ kind: 'StateCorrupt' }));
    }
    const random = prng(3);
    for (let i = 0; i < 300; i++) {
      const bad = good.slice();
      const at = Math.floor(random() * bad.length);
      bad[at] = bad[at]! ^ (1 << Math.floor(random() * 8));
      try {
        State.deserialize(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(SpqrError);
        expect((e as SpqrError).kind).toBe('StateCorrupt');
      }
    }
  });

  it('answers arbitrary bytes with an SpqrError and never changes the state', () => {
    const [alice, bob] = pair();
    for (let i = 0; i < 40; i++) {
      bob.recv(alice.send());
      alice.recv(bob.send());
    }
    const random = prng(11);
    for (const party of [alice, bob]) {
      const before = party.state.serialize();
      const genuine = party === alice ? bob.send().message : alice.send().message;
      for (let i = 0; i < 400; i++) {
        let input: Uint8Array;
        if (i % 2 === 0) {
          input = genuine.slice(0, Math.floor(random() * (genuine.length + 1)));
          if (input.length > 0) {
            const at = Math.floor(random() * input.length);
            input[at] = input[at]! ^ (1 << Math.floor(random() * 8));
          }
        } else {
          input = Uint8Array.from({ length: Math.floor(random() * 48) }, () => Math.floor(random() * 256));
        }
        try {
          spqrRecv(party.state, input);
        } catch (e) {
          expect(e).toBeInstanceOf(SpqrError);
        }
      }
      expect(party.state.serialize()).toEqual(before);
    }
  });
});
