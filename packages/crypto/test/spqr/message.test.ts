/**
 * The SPQR wire message: exact bytes for known messages, varint vectors, property round trips, trailing bytes,
 * and strict rejection of everything malformed.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { MessageType, decodeMessage, encodeMessage, readVarint, writeVarint } from '../../src/ratchet/spqr/message.js';
import type { SpqrMessage } from '../../src/ratchet/spqr/message.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const malformed = expect.objectContaining({ kind: 'Malformed' });

describe('SPQR message codec', () => {
  it('encodes varints as minimal LEB128', () => {
    const out: number[] = [];
    writeVarint(out, 0x012c);
    expect(out).toEqual([0xac, 0x02]);
    expect(readVarint(Uint8Array.of(0xff, 0xac, 0x02, 0xff), 1, 1000, 'v')).toEqual([0x012c, 3]);
    expect(readVarint(Uint8Array.of(0), 0, 10, 'v')).toEqual([0, 1]);
    expect(() => readVarint(Uint8Array.of(0x80, 0x00), 0, 10, 'v')).toThrow(malformed);
    expect(() => readVarint(Uint8Array.of(0x80), 0, 10, 'v')).toThrow(malformed);
    expect(() => readVarint(Uint8Array.of(0x0b), 0, 10, 'v')).toThrow(malformed);
  });

  it('produces the documented layout', () => {
    const data = new Uint8Array(32).fill(0xab);
    const hdr = encodeMessage({ epoch: 1, index: 300, type: MessageType.Hdr, chunk: { index: 2, data } });
    expect(hex(hdr)).toBe('0101ac0201' + '02' + 'ab'.repeat(32));
    expect(hex(encodeMessage({ epoch: 5, index: 1, type: MessageType.None, chunk: null }))).toBe('01050100');
    expect(hex(encodeMessage({ epoch: 200, index: 7, type: MessageType.Ct1Ack, chunk: null }))).toBe('01c8010704');
    const ct2 = encodeMessage({ epoch: 3, index: 9, type: MessageType.Ct2, chunk: { index: 40000, data } });
    expect(hex(ct2.subarray(0, 7))).toBe('01030906c0b802');
  });

  const messages = fc
    .record({
      epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      index: fc.integer({ min: 0, max: 0xffff_ffff }),
      type: fc.integer({ min: 0, max: 6 }),
      chunkIndex: fc.integer({ min: 0, max: 0xffff }),
      data: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    })
    .map(({ epoch, index, type, chunkIndex, data }): SpqrMessage => ({
      epoch,
      index,
      type: type,
      chunk: type === 0 || type === 4 ? null : { index: chunkIndex, data },
    }));

  it('round-trips every message, with or without trailing bytes', () => {
    fc.assert(
      fc.property(messages, fc.uint8Array({ maxLength: 8 }), (msg, trailing) => {
        const bytes = encodeMessage(msg);
        const decoded = decodeMessage(Uint8Array.of(...bytes, ...trailing));
        expect(decoded.epoch).toBe(msg.epoch);
        expect(decoded.index).toBe(msg.index);
        expect(decoded.type).toBe(msg.type);
        expect(decoded.chunk?.index).toBe(msg.chunk?.index);
        if (msg.chunk !== null) expect(hex(decoded.chunk!.data)).toBe(hex(msg.chunk.data));
        expect(hex(encodeMessage(decoded))).toBe(hex(bytes));
      }),
    );
  });

  it('rejects every truncation of a message', () => {
    fc.assert(
      fc.property(messages, (msg) => {
        const bytes = encodeMessage(msg);
        for (let n = 0; n < bytes.length; n++) {
          expect(() => decodeMessage(bytes.subarray(0, n))).toThrow(malformed);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('rejects bad versions, epoch 0, unknown types and out-of-range fields', () => {
    const data = new Uint8Array(32);
    const good = encodeMessage({ epoch: 1, index: 1, type: MessageType.Ek, chunk: { index: 1, data } });
    expect(() => decodeMessage(Uint8Array.of(0x02, ...good.subarray(1)))).toThrow(malformed);
    expect(() => decodeMessage(Uint8Array.of(0x01, 0x00, 0x01, 0x00))).toThrow(malformed);
    expect(() => decodeMessage(Uint8Array.of(0x01, 0x01, 0x01, 0x07))).toThrow(malformed);
    expect(() => decodeMessage(Uint8Array.of(0x01, 0x01, 0x01, 0xff))).toThrow(malformed);
    // chain index above u32
    expect(() => decodeMessage(Uint8Array.of(0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00))).toThrow(malformed);
    // chunk index above u16
    expect(() => decodeMessage(Uint8Array.of(0x01, 0x01, 0x01, 0x02, 0x80, 0x80, 0x04, ...data))).toThrow(malformed);
    // epoch beyond 2^53
    expect(() =>
      decodeMessage(Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x00)),
    ).toThrow(malformed);
  });
});
