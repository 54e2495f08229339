/**
 * The WebSocket `result` mapper: a thrown `ApiError` becomes the status and body the HTTP error filter answers for
 * it (extra fields included, in the same order), an unreachable database `503 unavailable`, anything else `500
 * internal_error` without its message. The frames on a real socket are the contract suite's.
 */
import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cove/protocol';

import { ApiError } from '../../src/services/api-error.js';
import { failedResult, okResult, storedResultFrame } from '../../src/services/result.mapper.js';

describe('result mapper', () => {
  it("should write a stored send's result frame byte for byte as the JSON of the 200 result", () => {
    for (const id of [0, 42, Number.MAX_SAFE_INTEGER, 'req-1', 'quote " and \\ and \u2028']) {
      const response = { serverTimestamp: 1_765_000_000_123 };
      expect(storedResultFrame(id, response)).toBe(
        JSON.stringify({ type: 'result', id, status: 200, body: okResult(response).body }),
      );
    }
  });

  it('should answer 200 with the response body', () => {
    expect(okResult({ serverTimestamp: 5 })).toEqual({ status: 200, body: { serverTimestamp: 5 } });
  });

  it('should render an ApiError as its status and `{ error, message, ...extra }`, byte for byte', () => {
    const error = new ApiError(409, ErrorCode.MismatchedDevices, 'not exactly', {
      missingDevices: [2],
      extraDevices: [],
    });
    const result = failedResult(error);
    expect(result).toEqual({
      kind: 'refused',
      status: 409,
      body: { error: ErrorCode.MismatchedDevices, message: 'not exactly', missingDevices: [2], extraDevices: [] },
    });
    expect(JSON.stringify(result.body)).toBe(
      '{"error":"mismatched_devices","message":"not exactly","missingDevices":[2],"extraDevices":[]}',
    );
    /** The same body the HTTP exception filter sends. */
    expect(result.body).toEqual(error.getResponse());
  });

  it('should answer 503 unavailable for an unreachable database', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(failedResult(error)).toEqual({
      kind: 'unavailable',
      status: 503,
      body: { error: ErrorCode.Unavailable, message: 'the database is unavailable; retry later' },
    });
  });

  it('should answer 500 internal_error for anything else, without its message', () => {
    const result = failedResult(new TypeError('secret detail'));
    expect(result).toEqual({
      kind: 'internal',
      status: 500,
      body: { error: ErrorCode.Internal, message: 'internal error' },
    });
    expect(JSON.stringify(result)).not.toContain('secret');
  });
});
