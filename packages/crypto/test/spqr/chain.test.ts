/**
 * The SPQR key chain against its HKDF definitions (recomputed here with Node's own HKDF), direction matching,
 * out-of-order keys, the jump and history limits, and the epoch bookkeeping.
 */
import { hkdfSync } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import {
  MAX_JUMP,
  MAX_OOO_KEYS,
  chainAddEpoch,
  chainRecvKey,
  chainSendKey,
  chainStart,
} from '../../src/ratchet/spqr/chain.js';
import type { Chain } from '../../src/ratchet/spqr/chain.js';
import { ready } from '../../src/primitives/sodium.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hkdf = (salt: Uint8Array, ikm: Uint8Array, info: Uint8Array | string, len: number): Uint8Array =>
  new Uint8Array(hkdfSync('sha256', ikm, salt, typeof info === 'string' ? Buffer.from(info) : info, len));
const zero = new Uint8Array(32);
const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** Reference key sequence of one chain half, straight from the definition. */
function referenceKeys(start: Uint8Array, count: number): string[] {
  const out: string[] = [];
  let next = start;
  for (let ctr = 1; ctr <= count; ctr++) {
    const gen = hkdf(zero, next, Buffer.concat([be32(ctr), Buffer.from('Signal PQ Ratchet V1 Chain Next')]), 64);
    next = gen.slice(0, 32);
    out.push(hex(gen.slice(32)));
  }
  return out;
}

function sendN(chain: Chain, epoch: number, n: number): { chain: Chain; keys: string[] } {
  const keys: string[] = [];
  let c = chain;
  for (let i = 0; i < n; i++) {
    const r = chainSendKey(c, epoch);
    expect(r.index).toBe(i + 1);
    keys.push(hex(r.key));
    c = r.chain;
  }
  return { chain: c, keys };
}

describe('SPQR chain', () => {
  beforeAll(ready);

  const authKey = new Uint8Array(32).fill(41);

  it('derives start and per-message keys exactly as defined (two spaces before "Start")', () => {
    const gen = hkdf(zero, authKey, 'Signal PQ Ratchet V1 Chain  Start', 96);
    const a = chainStart(authKey, 'A2B');
    expect(hex(a.nextRoot)).toBe(hex(gen.slice(0, 32)));
    const expectA2B = referenceKeys(gen.slice(32, 64), 5);
    const expectB2A = referenceKeys(gen.slice(64, 96), 5);
    expect(sendN(a, 0, 5).keys).toEqual(expectA2B);
    expect(sendN(chainStart(authKey, 'B2A'), 0, 5).keys).toEqual(expectB2A);
  });

  it('adds epochs with HKDF(next_root, secret, "… Add Epoch")', () => {
    const gen0 = hkdf(zero, authKey, 'Signal PQ Ratchet V1 Chain  Start', 96);
    const secret = new Uint8Array(32).fill(7);
    const gen1 = hkdf(gen0.slice(0, 32), secret, 'Signal PQ Ratchet V1 Chain Add Epoch', 96);
    const a = chainAddEpoch(chainStart(authKey, 'A2B'), 1, secret);
    expect(a.currentEpoch).toBe(1);
    expect(hex(a.nextRoot)).toBe(hex(gen1.slice(0, 32)));
    expect(sendN(a, 1, 3).keys).toEqual(referenceKeys(gen1.slice(32, 64), 3));
    const b = chainAddEpoch(chainStart(authKey, 'B2A'), 1, secret);
    expect(sendN(b, 1, 3).keys).toEqual(referenceKeys(gen1.slice(64, 96), 3));
  });

  it("matches directions: A's send keys are B's receive keys, in any order", () => {
    let a = chainStart(Buffer.from('1'), 'A2B');
    let b = chainStart(Buffer.from('1'), 'B2A');
    const sent: [number, string][] = [];
    for (let i = 0; i < 50; i++) {
      const r = chainSendKey(a, 0);
      a = r.chain;
      sent.push([r.index, hex(r.key)]);
    }
    // Receive in a scrambled order.
    const order = [...sent].sort((x, y) => ((x[0] * 37) % 50) - ((y[0] * 37) % 50));
    for (const [index, key] of order) {
      const r = chainRecvKey(b, 0, index);
      b = r.chain;
      expect(hex(r.key)).toBe(key);
    }
    a = chainAddEpoch(a, 1, Uint8Array.of(2));
    b = chainAddEpoch(b, 1, Uint8Array.of(2));
    const r = chainSendKey(a, 1);
    expect(r.index).toBe(1);
    expect(hex(chainRecvKey(b, 1, 1).key)).toBe(hex(r.key));
    // And the other way round.
    const back = chainSendKey(b, 1);
    expect(hex(chainRecvKey(a, 1, back.index).key)).toBe(hex(back.key));
  });

  it('never hands out a key twice and reports trimmed keys', () => {
    let a = chainStart(Buffer.from('1'), 'A2B');
    a = chainRecvKey(a, 0, 2).chain;
    expect(() => chainRecvKey(a, 0, 2)).toThrow(expect.objectContaining({ kind: 'KeyAlreadyRequested' }));
    a = chainRecvKey(a, 0, 1).chain;
    expect(() => chainRecvKey(a, 0, 1)).toThrow(expect.objectContaining({ kind: 'KeyAlreadyRequested' }));
    expect(() => chainRecvKey(a, 0, 0)).toThrow(expect.objectContaining({ kind: 'KeyAlreadyRequested' }));
    // Jump far ahead: keys more than MAX_OOO_KEYS behind are gone.
    a = chainRecvKey(a, 0, 2 + MAX_OOO_KEYS + 10).chain;
    expect(() => chainRecvKey(a, 0, 5)).toThrow(expect.objectContaining({ kind: 'KeyTrimmed' }));
    // Keys inside the window are kept.
    expect(chainRecvKey(a, 0, 2 + MAX_OOO_KEYS + 9).key).toHaveLength(32);
  });

  it('refuses jumps over MAX_JUMP and allows exactly MAX_JUMP', () => {
    const a = chainStart(Buffer.from('1'), 'A2B');
    expect(() => chainRecvKey(a, 0, MAX_JUMP + 1)).toThrow(expect.objectContaining({ kind: 'KeyJump' }));
    const far = chainRecvKey(a, 0, MAX_JUMP);
    const ref = referenceKeys(hkdf(zero, Buffer.from('1'), 'Signal PQ Ratchet V1 Chain  Start', 96).slice(64, 96), 3);
    expect(far.key).toHaveLength(32);
    // Keys just behind the jump stay available, older ones were never stored.
    expect(chainRecvKey(far.chain, 0, MAX_JUMP - 1).key).toHaveLength(32);
    expect(() => chainRecvKey(far.chain, 0, 2)).toThrow(expect.objectContaining({ kind: 'KeyTrimmed' }));
    expect(hex(chainRecvKey(a, 0, 3).key)).toBe(ref[2]);
  });

  it('keeps its history bounded while receiving far out of order', () => {
    let a = chainStart(Buffer.from('1'), 'A2B');
    for (let i = 1; i <= 6; i++) a = chainRecvKey(a, 0, i * 1500).chain;
    const prev = a.links[0]!.recv.prev;
    expect(prev.size).toBeLessThanOrEqual(Math.floor((MAX_OOO_KEYS * 11) / 10) + 1);
    for (const index of prev.keys()) expect(index).toBeGreaterThanOrEqual(a.links[0]!.recv.ctr - MAX_OOO_KEYS - 1500);
  });

  it('keeps the send epoch and one before it, and rejects epochs out of range', () => {
    let a = chainStart(authKey, 'A2B');
    a = chainSendKey(a, 0).chain;
    a = chainAddEpoch(a, 1, Uint8Array.of(1));
    a = chainAddEpoch(a, 2, Uint8Array.of(2));
    expect(a.links).toHaveLength(3);
    a = chainSendKey(a, 2).chain;
    expect(a.links).toHaveLength(2);
    expect(a.links[0]!.send.next).toBeNull();
    expect(() => chainRecvKey(a, 0, 1)).toThrow(expect.objectContaining({ kind: 'Other' }));
    expect(chainRecvKey(a, 1, 1).key).toHaveLength(32);
    expect(() => chainRecvKey(a, 3, 1)).toThrow(expect.objectContaining({ kind: 'Other' }));
    expect(() => chainSendKey(a, 1)).toThrow();
    expect(() => chainAddEpoch(a, 4, Uint8Array.of(4))).toThrow(expect.objectContaining({ kind: 'StateCorrupt' }));
  });

  it('is persistent: operations never change their input', () => {
    const a = chainStart(authKey, 'A2B');
    const snapshot = JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));
    chainSendKey(a, 0);
    chainRecvKey(a, 0, 5);
    chainAddEpoch(a, 1, Uint8Array.of(1));
    expect(JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v))).toBe(snapshot);
  });
});
