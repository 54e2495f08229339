/**
 * The disappearing-timer update of a 1:1 conversation (DataMessage.expire_timer_update): it round-trips with and
 * without a timer, and a forged one that also carries text, a quote, an attachment or a group is refused on both
 * encode and decode (a "setting" must not smuggle a message past the UI as a system line).
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';

import { ContentError, decodeContent, encodeContent } from '../../src/content/index.js';
import type { Content } from '../../src/content/index.js';

const NOW = 1_764_000_000_123;

/** A data message with the update flag, written field by field so that what the encoder refuses reaches the wire. */
const forged = (text: string): Uint8Array => {
  const writer = new BinaryWriter().tag(1, WireType.Varint).uint32(1);
  writer.tag(2, WireType.LengthDelimited).fork();
  writer.tag(1, WireType.LengthDelimited).string(text);
  writer.tag(2, WireType.Varint).uint64(BigInt(NOW));
  writer.tag(4, WireType.Varint).uint32(3600);
  writer.tag(20, WireType.Varint).bool(true);
  writer.join();
  return writer.finish();
};

describe('Timer update content', () => {
  it('should round-trip an update setting a timer and one turning it off', () => {
    const on: Content = {
      kind: 'data',
      data: { text: '', timestamp: NOW, expireTimerSeconds: 3600, expireTimerUpdate: true },
    };
    const off: Content = { kind: 'data', data: { text: '', timestamp: NOW, expireTimerUpdate: true } };
    expect(decodeContent(encodeContent(on))).toEqual(on);
    expect(decodeContent(encodeContent(off))).toEqual(off);
  });

  it('should leave ordinary messages without the flag', () => {
    const plain: Content = { kind: 'data', data: { text: 'hi', timestamp: NOW, expireTimerSeconds: 30 } };
    expect(decodeContent(encodeContent(plain))).toEqual(plain);
  });

  it('should refuse an update that carries a message, encoded or decoded', () => {
    expect(decodeContent(forged('')).kind).toBe('data');
    expect(() => decodeContent(forged('hidden text'))).toThrow(ContentError);
    expect(() =>
      encodeContent({ kind: 'data', data: { text: 'hidden', timestamp: NOW, expireTimerUpdate: true } }),
    ).toThrow(ContentError);
    expect(() =>
      encodeContent({
        kind: 'data',
        data: {
          text: '',
          timestamp: NOW,
          expireTimerUpdate: true,
          quote: { timestamp: NOW - 1, authorAccountId: '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b', text: 'q' },
        },
      }),
    ).toThrow(ContentError);
    expect(() =>
      encodeContent({
        kind: 'data',
        data: { text: '', timestamp: NOW, expireTimerUpdate: true, group: { id: new Uint8Array(32), revision: 1 } },
      }),
    ).toThrow(ContentError);
  });
});
