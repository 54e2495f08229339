/**
 * Stored SPQR states must keep loading: fixtures written by state format 1 (one state for each of the eleven
 * braid states, and a matched Alice/Bob pair in epoch 3+) load, re-serialize to the same bytes, and the pair
 * carries on a conversation with agreeing keys into later epochs.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from '@jest/globals';

import { SpqrState, spqrRecv, spqrSend } from '../../src/ratchet/spqr/index.js';
import { ready } from '../../src/primitives/sodium.js';

interface Fixtures {
  format: number;
  byTag: Record<string, string>;
  pair: { alice: string; bob: string };
}

const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/spqr-states-v1.json', import.meta.url), 'utf8'),
) as Fixtures;
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('SPQR state format 1 fixtures', () => {
  beforeAll(ready);

  it('covers every braid state and loads each one unchanged', () => {
    expect(Object.keys(fixtures.byTag).sort()).toEqual(
      [
        'Ct1Acknowledged',
        'Ct1Received',
        'Ct1Sampled',
        'Ct2Sampled',
        'EkReceivedCt1Sampled',
        'EkSentCt1Received',
        'HeaderReceived',
        'HeaderSent',
        'KeysSampled',
        'KeysUnsampled',
        'NoHeaderReceived',
      ].sort(),
    );
    for (const [tag, h] of Object.entries(fixtures.byTag)) {
      const state = SpqrState.deserialize(bytes(h));
      expect(state.braid.tag).toBe(tag);
      expect(hex(state.serialize())).toBe(h);
      // Every state can still send.
      expect(spqrSend(state, rng).key).toHaveLength(32);
    }
  });

  it('resumes a stored conversation: keys agree and epochs keep advancing', () => {
    let alice = SpqrState.deserialize(bytes(fixtures.pair.alice));
    let bob = SpqrState.deserialize(bytes(fixtures.pair.bob));
    const start = Math.min(alice.epoch, bob.epoch);
    for (let i = 0; i < 150; i++) {
      const a = spqrSend(alice, rng);
      alice = a.state;
      const rb = spqrRecv(bob, a.message);
      bob = rb.state;
      expect(hex(rb.key)).toBe(hex(a.key));
      const b = spqrSend(bob, rng);
      bob = b.state;
      const ra = spqrRecv(alice, b.message);
      alice = ra.state;
      expect(hex(ra.key)).toBe(hex(b.key));
    }
    expect(Math.min(alice.epoch, bob.epoch)).toBeGreaterThanOrEqual(start + 2);
  });
});
