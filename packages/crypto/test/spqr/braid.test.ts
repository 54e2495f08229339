/**
 * The ML-KEM braid state machine on its own: the state sequence of one epoch in both roles, the epoch secret
 * and its agreement, parity chunks under loss, and refusal of forged headers, keys and ciphertexts (the input
 * state is never changed, and genuine chunks still complete the epoch afterwards).
 */
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import type { BraidMessage, BraidState, EpochSecret } from '../../src/ratchet/spqr/braid.js';
import { aliceBraid, bobBraid, braidOnReceive, braidOnSend } from '../../src/ratchet/spqr/braid.js';
import { MessageType } from '../../src/ratchet/spqr/message.js';
import { ready } from '../../src/primitives/sodium.js';

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const snapshot = (s: BraidState): string =>
  JSON.stringify(s, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));

interface Side {
  state: BraidState;
  secrets: EpochSecret[];
  tags: string[];
}

function side(state: BraidState): Side {
  return { state, secrets: [], tags: [state.tag] };
}

function send(s: Side): BraidMessage {
  const r = braidOnSend(s.state, rng);
  s.state = r.state;
  if (r.secret) s.secrets.push(r.secret);
  if (s.tags.at(-1) !== s.state.tag) s.tags.push(s.state.tag);
  return r.message;
}

function recv(s: Side, m: BraidMessage): void {
  const r = braidOnReceive(s.state, m);
  s.state = r.state;
  if (r.secret) s.secrets.push(r.secret);
  if (s.tags.at(-1) !== s.state.tag) s.tags.push(s.state.tag);
}

describe('ML-KEM braid', () => {
  beforeAll(ready);

  it('runs one epoch through every state and agrees on the epoch secret', () => {
    const key = rng(32);
    const a = side(aliceBraid(key));
    const b = side(bobBraid(key));
    for (let i = 0; i < 60 && a.secrets.length === 0; i++) {
      recv(b, send(a));
      recv(a, send(b));
    }
    expect(a.tags).toEqual([
      'KeysUnsampled',
      'KeysSampled',
      'HeaderSent',
      'Ct1Received',
      'EkSentCt1Received',
      'NoHeaderReceived',
    ]);
    expect(b.tags.slice(0, 3)).toEqual(['NoHeaderReceived', 'HeaderReceived', 'Ct1Sampled']);
    expect(b.tags.at(-1)).toBe('Ct2Sampled');
    expect(a.secrets).toHaveLength(1);
    expect(b.secrets).toHaveLength(1);
    expect(a.secrets[0]!.epoch).toBe(1);
    expect(hex(a.secrets[0]!.secret)).toBe(hex(b.secrets[0]!.secret));
    // Any message of epoch 2 moves B into the send_ek role of epoch 2.
    const next = send(a);
    expect(next.epoch).toBe(2);
    expect(next.type).toBe(MessageType.None);
    recv(b, next);
    expect(b.state.tag).toBe('KeysUnsampled');
    expect(b.state.epoch).toBe(2);
  });

  it('completes epochs from parity chunks when most messages are lost', () => {
    const key = rng(32);
    const a = side(aliceBraid(key));
    const b = side(bobBraid(key));
    let parity = 0;
    const limits: Partial<Record<MessageType, number>> = {
      [MessageType.Hdr]: 3,
      [MessageType.Ek]: 36,
      [MessageType.EkCt1Ack]: 36,
      [MessageType.Ct1]: 30,
      [MessageType.Ct2]: 5,
    };
    for (let i = 0; i < 3000 && Math.min(a.secrets.length, b.secrets.length) < 4; i++) {
      // Each side sends a burst of three and only the last one arrives.
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        send(from);
        send(from);
        const m = send(from);
        const limit = limits[m.type];
        if (m.chunk && limit !== undefined && m.chunk.index >= limit) parity++;
        recv(to, m);
      }
    }
    expect(Math.min(a.secrets.length, b.secrets.length)).toBeGreaterThanOrEqual(4);
    expect(parity).toBeGreaterThan(20);
    for (let e = 0; e < 4; e++) {
      const sa = a.secrets.find((s) => s.epoch === e + 1)!;
      const sb = b.secrets.find((s) => s.epoch === e + 1)!;
      expect(hex(sa.secret)).toBe(hex(sb.secret));
    }
  });

  it('ignores old epochs and refuses messages from too far ahead', () => {
    const b = bobBraid(rng(32));
    expect(braidOnReceive(b, { epoch: 1, type: MessageType.None, chunk: null }).state).toBe(b);
    expect(() => braidOnReceive(b, { epoch: 2, type: MessageType.None, chunk: null })).toThrow(
      expect.objectContaining({ kind: 'Other' }),
    );
  });

  it('refuses a forged header, key or ciphertext and keeps the input state', () => {
    const key = rng(32);
    const a = side(aliceBraid(key));
    const b = side(bobBraid(key));
    // Forged header chunks: the MAC check fails once the header is complete.
    let forgedB = b.state;
    for (let i = 0; i < 2; i++) {
      forgedB = braidOnReceive(forgedB, { epoch: 1, type: MessageType.Hdr, chunk: { index: i, data: rng(32) } }).state;
    }
    const before = snapshot(forgedB);
    expect(() =>
      braidOnReceive(forgedB, { epoch: 1, type: MessageType.Hdr, chunk: { index: 2, data: rng(32) } }),
    ).toThrow(expect.objectContaining({ kind: 'Other' }));
    expect(snapshot(forgedB)).toBe(before);

    // Genuine run until B has sent ct1 and waits for the key.
    while (b.state.tag !== 'Ct1Sampled') {
      recv(b, send(a));
      recv(a, send(b));
    }
    // A key that does not match the header is refused when complete.
    let fakeEk: BraidState = b.state;
    for (let i = 0; i < 35; i++) {
      fakeEk = braidOnReceive(fakeEk, {
        epoch: 1,
        type: MessageType.Ek,
        chunk: { index: 100 + i, data: rng(32) },
      }).state;
    }
    expect(() =>
      braidOnReceive(fakeEk, { epoch: 1, type: MessageType.Ek, chunk: { index: 200, data: rng(32) } }),
    ).toThrow(expect.objectContaining({ kind: 'Other' }));

    // Continue genuinely until A waits for ct2; then forge the ciphertext MAC.
    while (a.state.tag !== 'EkSentCt1Received') {
      recv(b, send(a));
      recv(a, send(b));
    }
    let forgedA: BraidState = a.state;
    const ct2Chunks: BraidMessage[] = [];
    while (ct2Chunks.length < 5) {
      const m = send(b);
      if (m.type === MessageType.Ct2) ct2Chunks.push(m);
    }
    // A already holds the first ct2 chunk; feed three genuine ones and one tampered.
    for (const m of ct2Chunks.slice(1, 4)) forgedA = braidOnReceive(forgedA, m).state;
    const last = ct2Chunks[4]!;
    const tampered = last.chunk!.data.slice();
    tampered[31] = tampered[31]! ^ 1;
    const held = snapshot(forgedA);
    expect(() => braidOnReceive(forgedA, { ...last, chunk: { index: last.chunk!.index, data: tampered } })).toThrow(
      expect.objectContaining({ kind: 'Other' }),
    );
    expect(snapshot(forgedA)).toBe(held);
    // The genuine chunk still completes the epoch.
    const done = braidOnReceive(forgedA, last);
    expect(done.secret?.epoch).toBe(1);
    expect(hex(done.secret!.secret)).toBe(hex(b.secrets[0]!.secret));
  });
});
