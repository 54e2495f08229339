/**
 * Byte-exact regression oracle for SPQR: the deterministic conversations of transcript-scenarios.ts (bursts and
 * loss past epoch 14, late delivery across epochs, far jumps and the jump limit, forged and replayed input) must
 * reproduce the checkpoint digests recorded in fixtures/spqr-transcript-v1.json, which cover every wire message,
 * every message key, every stored state and every refusal. A rewrite of the chain or the braid that changes a
 * single byte anywhere fails here, naming the scenario and the first checkpoint that differs.
 */
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from '@jest/globals';

import { ready } from '../../src/primitives/sodium.js';
import { CHECKPOINT_EVERY, SCENARIOS } from './transcript-scenarios.js';
import type { Transcript } from './transcript-scenarios.js';

const recorded = JSON.parse(readFileSync(new URL('./fixtures/spqr-transcript-v1.json', import.meta.url), 'utf8')) as {
  checkpointEvery: number;
  scenarios: Record<string, Transcript>;
};

describe('SPQR byte-exact transcript', () => {
  beforeAll(ready);

  it('records with the same checkpoint spacing', () => {
    expect(recorded.checkpointEvery).toBe(CHECKPOINT_EVERY);
    expect(Object.keys(recorded.scenarios).sort()).toEqual(Object.keys(SCENARIOS).sort());
  });

  it.each(Object.keys(SCENARIOS))(
    'should reproduce scenario %s byte for byte',
    (name) => {
      const expected = recorded.scenarios[name] as Transcript;
      const actual = (SCENARIOS[name] as () => Transcript)();
      const firstDiff = actual.checkpoints.findIndex((c, i) => c !== expected.checkpoints[i]);
      expect({ scenario: name, firstDifferentStep: firstDiff < 0 ? null : firstDiff * CHECKPOINT_EVERY }).toEqual({
        scenario: name,
        firstDifferentStep: null,
      });
      expect(actual.checkpoints).toEqual(expected.checkpoints);
      expect(actual.errors).toEqual(expected.errors);
      expect(actual.epoch).toBe(expected.epoch);
    },
    120_000,
  );
});
