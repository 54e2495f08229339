/**
 * The size-bucket rule: exact integer edges, agreement with Signal's floating-point formula, and the properties
 * the format relies on (never smaller than the input, at least 541, at most 5 % plus one byte of overhead,
 * monotonic, idempotent, range-checked).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  ATTACHMENT_MAX_PADDED_SIZE,
  ATTACHMENT_MIN_PADDED_SIZE,
  AttachmentError,
  attachmentPaddedSize as paddedSize,
} from '../../src/attachment/index.js';

import { referenceBucket } from './reference.js';

describe('attachmentPaddedSize', () => {
  it('should pad everything up to 541 bytes to 541', () => {
    for (const n of [0, 1, 15, 16, 17, 540, 541]) expect(paddedSize(n)).toBe(ATTACHMENT_MIN_PADDED_SIZE);
  });

  it('should keep bucket edges and move one byte past an edge to the next bucket', () => {
    expect(paddedSize(542)).toBe(568);
    expect(paddedSize(568)).toBe(568);
    expect(paddedSize(569)).toBe(596);
    // floor(1.05^k) for k = 200 computed with integers: 21^200 div 20^200.
    const edge = Number(21n ** 200n / 20n ** 200n);
    expect(paddedSize(edge)).toBe(edge);
    expect(paddedSize(edge - 1)).toBe(edge);
    expect(paddedSize(edge + 1)).toBeGreaterThan(edge);
  });

  it('should agree with Signal’s formula max(541, floor(1.05^ceil(log_1.05 n)))', () => {
    for (let n = 0; n <= 20_000; n++) expect(paddedSize(n)).toBe(referenceBucket(n));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 * 1024 * 1024 }), (n) => paddedSize(n) === referenceBucket(n)),
      { numRuns: 5000 },
    );
  });

  it('should never shrink, cost at most 5 % + 1 byte above 541, be monotonic and idempotent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: ATTACHMENT_MAX_PADDED_SIZE - 1 }), (n) => {
        const p = paddedSize(n);
        return (
          p >= n &&
          p >= ATTACHMENT_MIN_PADDED_SIZE &&
          p <= Math.max(ATTACHMENT_MIN_PADDED_SIZE, Math.floor(n * 1.05) + 1) &&
          paddedSize(p) === p &&
          paddedSize(n + 1) >= p
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('should cap at the format maximum', () => {
    expect(paddedSize(ATTACHMENT_MAX_PADDED_SIZE)).toBe(ATTACHMENT_MAX_PADDED_SIZE);
    expect(paddedSize(ATTACHMENT_MAX_PADDED_SIZE - 1)).toBe(ATTACHMENT_MAX_PADDED_SIZE);
  });

  it('should refuse sizes that are not in 0..2 GiB', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, ATTACHMENT_MAX_PADDED_SIZE + 1, 2 ** 53])
      expect(() => paddedSize(bad)).toThrow(AttachmentError);
    try {
      paddedSize(-1);
    } catch (e) {
      expect(AttachmentError.is(e, 'InvalidArgument')).toBe(true);
    }
  });
});
