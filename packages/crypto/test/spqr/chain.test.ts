/**
 * The SPQR key chain against its HKDF definitions (recomputed here with Node's own HKDF), direction matching,
 * out-of-order keys, the jump and history limits, and the epoch bookkeeping.
 */
import { hkdfSync } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import { addEpochSecret, openChain, receivingKey, sendingKey } from '../../src/ratchet/spqr/chain.js';
import type { KeyChain } from '../../src/ratchet/spqr/chain.js';
import { SPQR_MAX_JUMP, SPQR_MAX_OOO_KEYS } from '../../src/constants.js';
import { asSpqrEpochSecret } from '../../src/ratchet/key-roles.js';
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

/** The receiving key with the default jump limit. */
const recvKey = (chain: KeyChain, epoch: number, index: number): { chain: KeyChain; key: Uint8Array } =>
  receivingKey(chain, epoch, index, SPQR_MAX_JUMP);

function sendN(chain: KeyChain, epoch: number, n: number): { chain: KeyChain; keys: string[] } {
  const keys: string[] = [];
  let c = chain;
  for (let i = 0; i < n; i++) {
    const r = sendingKey(c, epoch);
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
    const a = openChain(authKey, 'A2B');
    expect(hex(a.rootKey)).toBe(hex(gen.slice(0, 32)));
    const expectA2B = referenceKeys(gen.slice(32, 64), 5);
    const expectB2A = referenceKeys(gen.slice(64, 96), 5);
    expect(sendN(a, 0, 5).keys).toEqual(expectA2B);
    expect(sendN(openChain(authKey, 'B2A'), 0, 5).keys).toEqual(expectB2A);
  });

  it('adds epochs with HKDF(next_root, secret, "… Add Epoch")', () => {
    const gen0 = hkdf(zero, authKey, 'Signal PQ Ratchet V1 Chain  Start', 96);
    const secret = new Uint8Array(32).fill(7);
    const gen1 = hkdf(gen0.slice(0, 32), secret, 'Signal PQ Ratchet V1 Chain Add Epoch', 96);
    const a = addEpochSecret(openChain(authKey, 'A2B'), 1, asSpqrEpochSecret(secret));
    expect(a.newestEpoch).toBe(1);
    expect(hex(a.rootKey)).toBe(hex(gen1.slice(0, 32)));
    expect(sendN(a, 1, 3).keys).toEqual(referenceKeys(gen1.slice(32, 64), 3));
    const b = addEpochSecret(openChain(authKey, 'B2A'), 1, asSpqrEpochSecret(secret));
    expect(sendN(b, 1, 3).keys).toEqual(referenceKeys(gen1.slice(64, 96), 3));
  });

  it("matches directions: A's send keys are B's receive keys, in any order", () => {
    let a = openChain(Buffer.from('1'), 'A2B');
    let b = openChain(Buffer.from('1'), 'B2A');
    const sent: [number, string][] = [];
    for (let i = 0; i < 50; i++) {
      const r = sendingKey(a, 0);
      a = r.chain;
      sent.push([r.index, hex(r.key)]);
    }
    // Receive in a scrambled order.
    const order = [...sent].sort((x, y) => ((x[0] * 37) % 50) - ((y[0] * 37) % 50));
    for (const [index, key] of order) {
      const r = recvKey(b, 0, index);
      b = r.chain;
      expect(hex(r.key)).toBe(key);
    }
    a = addEpochSecret(a, 1, asSpqrEpochSecret(Uint8Array.of(2)));
    b = addEpochSecret(b, 1, asSpqrEpochSecret(Uint8Array.of(2)));
    const r = sendingKey(a, 1);
    expect(r.index).toBe(1);
    expect(hex(recvKey(b, 1, 1).key)).toBe(hex(r.key));
    // And the other way round.
    const back = sendingKey(b, 1);
    expect(hex(recvKey(a, 1, back.index).key)).toBe(hex(back.key));
  });

  it('never hands out a key twice and reports trimmed keys', () => {
    let a = openChain(Buffer.from('1'), 'A2B');
    a = recvKey(a, 0, 2).chain;
    expect(() => recvKey(a, 0, 2)).toThrow(expect.objectContaining({ kind: 'KeyAlreadyRequested' }));
    a = recvKey(a, 0, 1).chain;
    expect(() => recvKey(a, 0, 1)).toThrow(expect.objectContaining({ kind: 'KeyAlreadyRequested' }));
    expect(() => recvKey(a, 0, 0)).toThrow(expect.objectContaining({ kind: 'KeyAlreadyRequested' }));
    // Jump far ahead: keys more than SPQR_MAX_OOO_KEYS behind are gone.
    a = recvKey(a, 0, 2 + SPQR_MAX_OOO_KEYS + 10).chain;
    expect(() => recvKey(a, 0, 5)).toThrow(expect.objectContaining({ kind: 'KeyTrimmed' }));
    // Keys inside the window are kept.
    expect(recvKey(a, 0, 2 + SPQR_MAX_OOO_KEYS + 9).key).toHaveLength(32);
  });

  it('refuses jumps over SPQR_MAX_JUMP and allows exactly SPQR_MAX_JUMP', () => {
    const a = openChain(Buffer.from('1'), 'A2B');
    expect(() => recvKey(a, 0, SPQR_MAX_JUMP + 1)).toThrow(expect.objectContaining({ kind: 'KeyJump' }));
    const far = recvKey(a, 0, SPQR_MAX_JUMP);
    const ref = referenceKeys(hkdf(zero, Buffer.from('1'), 'Signal PQ Ratchet V1 Chain  Start', 96).slice(64, 96), 3);
    expect(far.key).toHaveLength(32);
    // Keys just behind the jump stay available, older ones were never stored.
    expect(recvKey(far.chain, 0, SPQR_MAX_JUMP - 1).key).toHaveLength(32);
    expect(() => recvKey(far.chain, 0, 2)).toThrow(expect.objectContaining({ kind: 'KeyTrimmed' }));
    expect(hex(recvKey(a, 0, 3).key)).toBe(ref[2]);
  });

  it('keeps its history bounded while receiving far out of order', () => {
    let a = openChain(Buffer.from('1'), 'A2B');
    for (let i = 1; i <= 6; i++) a = recvKey(a, 0, i * 1500).chain;
    const prev = a.epochs[0]!.receiving.skipped;
    expect(prev.size).toBeLessThanOrEqual(Math.floor((SPQR_MAX_OOO_KEYS * 11) / 10) + 1);
    for (const index of prev.keys())
      expect(index).toBeGreaterThanOrEqual(a.epochs[0]!.receiving.counter - SPQR_MAX_OOO_KEYS - 1500);
  });

  it('keeps the send epoch and one before it, and rejects epochs out of range', () => {
    let a = openChain(authKey, 'A2B');
    a = sendingKey(a, 0).chain;
    a = addEpochSecret(a, 1, asSpqrEpochSecret(Uint8Array.of(1)));
    a = addEpochSecret(a, 2, asSpqrEpochSecret(Uint8Array.of(2)));
    expect(a.epochs).toHaveLength(3);
    a = sendingKey(a, 2).chain;
    expect(a.epochs).toHaveLength(2);
    expect(a.epochs[0]!.sending.chainKey).toBeNull();
    expect(() => recvKey(a, 0, 1)).toThrow(expect.objectContaining({ kind: 'Other' }));
    expect(recvKey(a, 1, 1).key).toHaveLength(32);
    expect(() => recvKey(a, 3, 1)).toThrow(expect.objectContaining({ kind: 'Other' }));
    expect(() => sendingKey(a, 1)).toThrow();
    expect(() => addEpochSecret(a, 4, asSpqrEpochSecret(Uint8Array.of(4)))).toThrow(
      expect.objectContaining({ kind: 'StateCorrupt' }),
    );
  });

  it('is persistent: operations never change their input', () => {
    const a = openChain(authKey, 'A2B');
    const snapshot = JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));
    sendingKey(a, 0);
    recvKey(a, 0, 5);
    addEpochSecret(a, 1, asSpqrEpochSecret(Uint8Array.of(1)));
    expect(JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v))).toBe(snapshot);
  });
});
