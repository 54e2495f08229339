import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  MIN_PADDED_LENGTH,
  PaddingError,
  padContent,
  paddedLength,
  padmeLength,
  unpadContent,
} from '../../src/content/index.js';

describe('content padding', () => {
  it('should pad every short message to the same length', () => {
    for (const length of [0, 1, 50, 100, MIN_PADDED_LENGTH - 1]) {
      expect(padContent(new Uint8Array(length)).length).toBe(MIN_PADDED_LENGTH);
    }
  });

  it('should round-trip any content, including trailing zeros and 0x80 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (content) => {
        expect(unpadContent(padContent(content))).toEqual(content);
      }),
    );
    const tricky = new Uint8Array([1, 0x80, 0, 0, 0x80, 0]);
    expect(unpadContent(padContent(tricky))).toEqual(tricky);
  });

  it('should keep the overhead under 12 % past the minimum and grow monotonically', () => {
    let previous = 0;
    for (let length = 0; length < 70_000; length += 37) {
      const padded = paddedLength(length);
      expect(padded).toBeGreaterThan(length);
      expect(padded).toBeGreaterThanOrEqual(previous);
      if (length >= MIN_PADDED_LENGTH) expect(padded / (length + 1)).toBeLessThanOrEqual(1.12);
      previous = padded;
    }
  });

  it('should reveal few distinct lengths (Padmé buckets)', () => {
    const buckets = new Set<number>();
    for (let length = 1000; length < 2000; length += 1) buckets.add(padmeLength(length));
    // 1000-1023 round to 1024; 1024-2047 round up to multiples of 64: 17 lengths for 1,000 sizes.
    expect(buckets.size).toBe(17);
    expect(padmeLength(1000)).toBe(1024);
    expect(padmeLength(1025)).toBe(1088);
  });

  it('should refuse padding without the marker', () => {
    expect(() => unpadContent(new Uint8Array(160))).toThrow(PaddingError);
    expect(() => unpadContent(new Uint8Array([1, 2, 3, 0, 0]))).toThrow(PaddingError);
  });
});
