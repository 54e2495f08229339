/**
 * Maps the outcome of a request carried by a WebSocket frame to the `status` and `body` of its `result` frame: the
 * same status and body the HTTP error filter answers for the same outcome (an `ApiError` as it is, an unreachable
 * database as `503 unavailable`, anything else as `500 internal_error`). It does not log, send or close anything;
 * the WebSocket service does.
 */
import { ErrorCode, type RequestId, type SendMessagesResponse } from '@cove/protocol';

import { isDatabaseUnavailable } from '../repositories/database.repository.js';
import { ApiError } from './api-error.js';

/** The `status` and `body` of a `result` frame. */
export type RequestResult = { status: number; body: Record<string, unknown> };

/** What a failed request answers, and whether its failure was unexpected (to be logged as an internal error). */
export type FailedResult = RequestResult & { kind: 'refused' | 'unavailable' | 'internal' };

/** A request that succeeded answers 200 with its response body. */
export function okResult(body: object): RequestResult {
  return { status: 200, body: { ...body } };
}

/**
 * The whole `result` frame of a stored 1:1 send, written directly (the hot path): byte for byte the JSON of
 * `{ type: 'result', id, status: 200, body }` with `body` = {@link okResult} of the response.
 */
export function storedResultFrame(id: RequestId, response: SendMessagesResponse): string {
  const quoted = typeof id === 'number' ? String(id) : JSON.stringify(id);
  return `{"type":"result","id":${quoted},"status":200,"body":{"serverTimestamp":${response.serverTimestamp}}}`;
}

/** The result of a request that threw `error`. */
export function failedResult(error: unknown): FailedResult {
  if (error instanceof ApiError) return { kind: 'refused', status: error.getStatus(), body: error.body };
  if (isDatabaseUnavailable(error)) {
    return {
      kind: 'unavailable',
      status: 503,
      body: { error: ErrorCode.Unavailable, message: 'the database is unavailable; retry later' },
    };
  }
  return { kind: 'internal', status: 500, body: { error: ErrorCode.Internal, message: 'internal error' } };
}
