import { beforeAll, describe, expect, it } from '@jest/globals';
import * as libsignal from '@signalapp/libsignal-client';
import * as ours from '../../src/index.js';
import { Party, type Impl } from './harness.js';

beforeAll(async () => {
  await ours.ready();
});
const impls: Record<string, Impl> = { ours, libsignal: libsignal as unknown as Impl };
describe('smoke', () => {
  for (const [an, a] of Object.entries(impls))
    for (const [bn, b] of Object.entries(impls)) {
      it(`${an} -> ${bn}`, async () => {
        const alice = new Party(a, 'alice');
        const bob = new Party(b, 'bob');
        await alice.processBundle(bob, await bob.newBundle(true));
        const m1 = await alice.encrypt(bob, Uint8Array.of(1, 2, 3));
        expect(Array.from(await bob.decrypt(alice, m1))).toEqual([1, 2, 3]);
        for (let i = 0; i < 30; i++) {
          const r = await bob.encrypt(alice, Uint8Array.of(i));
          expect(Array.from(await alice.decrypt(bob, r))).toEqual([i]);
          const s = await alice.encrypt(bob, Uint8Array.of(i, i));
          expect(Array.from(await bob.decrypt(alice, s))).toEqual([i, i]);
        }
      });
    }
});
