/**
 * `decideRange`, the download's reading of an HTTP `Range` header (RFC 9110 §14.1.2 and §15.5.17), on its own: one
 * satisfiable range gives 206 with the bytes clamped to the file, one starting past the end 416, anything it does
 * not serve as a range (absent, several, another unit, malformed, reversed) the whole file.
 */
import { describe, expect, it } from '@jest/globals';

import { decideRange } from '../../src/services/attachment.service.js';

describe(decideRange.name, () => {
  it('should serve the whole file without a usable range', () => {
    for (const header of [undefined, '', 'bytes=', 'bytes=-', 'items=0-1', 'bytes=0-1,4-5', 'bytes=5-2', 'bytes=a-b']) {
      expect({ header, decision: decideRange(header, 100) }).toEqual({
        header,
        decision: { status: 200, range: { start: 0, end: 99 } },
      });
    }
  });

  it('should serve one range, clamped to the file', () => {
    expect(decideRange('bytes=0-0', 100)).toEqual({ status: 206, range: { start: 0, end: 0 } });
    expect(decideRange('bytes=10-19', 100)).toEqual({ status: 206, range: { start: 10, end: 19 } });
    expect(decideRange('bytes=90-500', 100)).toEqual({ status: 206, range: { start: 90, end: 99 } });
    expect(decideRange('bytes=95-', 100)).toEqual({ status: 206, range: { start: 95, end: 99 } });
    expect(decideRange('bytes=-5', 100)).toEqual({ status: 206, range: { start: 95, end: 99 } });
    expect(decideRange('bytes=-500', 100)).toEqual({ status: 206, range: { start: 0, end: 99 } });
  });

  it('should refuse a range that starts past the end, or an empty suffix, with 416', () => {
    expect(decideRange('bytes=100-', 100)).toEqual({ status: 416 });
    expect(decideRange('bytes=100-200', 100)).toEqual({ status: 416 });
    expect(decideRange('bytes=-0', 100)).toEqual({ status: 416 });
  });
});
