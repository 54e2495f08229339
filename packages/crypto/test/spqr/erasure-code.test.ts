/**
 * GF(2^16) arithmetic and the systematic Reed–Solomon chunk code: field laws, systematic chunks equal to the raw
 * bytes, decoding from any n distinct chunks (with erasures and parity), and the decoder's keep/ignore rules.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  addChunk,
  chunkAt,
  decoded,
  gfDiv,
  gfMul,
  newDecoder,
  newEncoder,
  nextChunk,
} from '../../src/ratchet/spqr/erasure-code.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Carry-less multiplication reduced by 0x1100b, bit by bit: an independent reference for gfMul. */
function slowMul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 16; i++) if ((b >> i) & 1) r ^= a << i;
  for (let i = 31; i >= 16; i--) if ((r >> i) & 1) r ^= 0x1100b << (i - 16);
  return r;
}

describe('GF(2^16)', () => {
  it('multiplies like the carry-less reference and divides back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }), (a, b) => {
        expect(gfMul(a, b)).toBe(slowMul(a, b));
        expect(gfDiv(gfMul(a, b), b)).toBe(a);
      }),
      { numRuns: 2000 },
    );
    expect(gfMul(0x8000, 2)).toBe(0x100b);
    expect(() => gfDiv(1, 0)).toThrow(RangeError);
  });

  it('x generates the whole multiplicative group (0x1100b is primitive)', () => {
    const seen = new Uint8Array(0x10000);
    let v = 1;
    let repeats = 0;
    for (let i = 0; i < 0xffff; i++) {
      if (seen[v] === 1) repeats++;
      seen[v] = 1;
      v = slowMul(v, 2);
    }
    expect(repeats).toBe(0);
    expect(v).toBe(1);
  });
});

describe('Reed–Solomon chunk code', () => {
  it('emits the raw bytes as the first n chunks, then parity', () => {
    const msg = new Uint8Array(randomBytes(96));
    let enc = newEncoder(msg);
    const chunks = [];
    for (let i = 0; i < 6; i++) {
      const r = nextChunk(enc);
      enc = r.encoder;
      chunks.push(r.chunk);
    }
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 3; i++) expect(hex(chunks[i]!.data)).toBe(hex(msg.subarray(i * 32, i * 32 + 32)));
    // A constant value makes every polynomial constant, so parity equals the systematic chunks.
    const flat = new Uint8Array(96);
    for (let i = 0; i < 96; i += 32) flat.set(msg.subarray(0, 32), i);
    expect(hex(chunkAt(flat, 7))).toBe(hex(msg.subarray(0, 32)));
  });

  it('evaluates parity as the interpolating polynomial (n = 2: a line through two points)', () => {
    const msg = new Uint8Array(randomBytes(64));
    const sym = (b: Uint8Array, p: number): number => (b[2 * p]! << 8) | b[2 * p + 1]!;
    for (const x of [2, 3, 100, 65535]) {
      const parity = chunkAt(msg, x);
      for (let p = 0; p < 16; p++) {
        const y0 = sym(msg, p);
        const y1 = sym(msg.subarray(32), p);
        // f(x) = y0 + (y1 - y0)·x over GF(2^16) (nodes 0 and 1).
        expect(sym(parity, p)).toBe(y0 ^ slowMul(y0 ^ y1, x));
      }
    }
  });

  it('decodes from any n distinct chunks, systematic or parity', () => {
    for (const n of [3, 5, 30, 36]) {
      const msg = new Uint8Array(randomBytes(n * 32));
      fc.assert(
        fc.property(fc.shuffledSubarray([...Array(2 * n + 5).keys()], { minLength: n, maxLength: n }), (indices) => {
          let dec = newDecoder(n * 32);
          for (const [k, index] of indices.entries()) {
            expect(decoded(dec)).toBeNull();
            dec = addChunk(dec, { index, data: chunkAt(msg, index) });
            expect(dec.chunks).toHaveLength(k + 1);
          }
          expect(hex(decoded(dec)!)).toBe(hex(msg));
        }),
        { numRuns: n > 10 ? 15 : 60 },
      );
    }
  });

  it('ignores repeated chunks and parity it no longer needs', () => {
    const msg = new Uint8Array(randomBytes(96));
    let dec = newDecoder(96);
    dec = addChunk(dec, { index: 5, data: chunkAt(msg, 5) });
    dec = addChunk(dec, { index: 5, data: new Uint8Array(32) });
    expect(dec.chunks).toHaveLength(1);
    dec = addChunk(dec, { index: 9, data: chunkAt(msg, 9) });
    dec = addChunk(dec, { index: 0, data: chunkAt(msg, 0) });
    expect(hex(decoded(dec)!)).toBe(hex(msg));
    // Full: more parity is ignored, systematic chunks are still taken.
    const full = addChunk(dec, { index: 11, data: chunkAt(msg, 11) });
    expect(full).toBe(dec);
    expect(addChunk(dec, { index: 1, data: chunkAt(msg, 1) }).chunks).toHaveLength(4);
  });

  it('wraps chunk indices at 2^16 like the wire format', () => {
    const msg = new Uint8Array(randomBytes(96));
    const r = nextChunk({ message: msg, next: 0x10001 });
    expect(r.chunk.index).toBe(1);
    expect(hex(r.chunk.data)).toBe(hex(msg.subarray(32, 64)));
  });

  it('refuses lengths that are not whole chunks', () => {
    expect(() => newEncoder(new Uint8Array(33))).toThrow(RangeError);
    expect(() => newDecoder(0)).toThrow(RangeError);
  });
});
