/**
 * The mapping of a send's answer (an HTTP response or a WebSocket `result` frame) to an outcome or a typed error:
 * `507 queue_full` becomes a QueueFullError naming the recipient and its full devices.
 */
import { describe, expect, it } from '@jest/globals';

import { sendOutcome } from '../src/api-client.js';
import { ClientError, ClientErrorCode, QueueFullError, ServerResponseError } from '../src/errors.js';

const BOB = '22222222-2222-4222-8222-222222222222';

describe('sendOutcome', () => {
  it('should turn 507 queue_full into a QueueFullError with the recipient and its full devices', () => {
    const body = { error: 'queue_full', message: 'full', accountId: BOB, fullDevices: [1, 3] };
    let thrown: unknown;
    try {
      sendOutcome(507, body);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(QueueFullError);
    expect(thrown).toBeInstanceOf(ClientError);
    const error = thrown as QueueFullError;
    expect(error.code).toBe(ClientErrorCode.QueueFull);
    expect(error.recipient).toBe(BOB);
    expect(error.devices).toEqual([1, 3]);
  });

  it('should leave a 507 without the queue_full body a plain server error', () => {
    expect(() => sendOutcome(507, { error: 'internal_error', message: 'x' })).toThrow(ServerResponseError);
  });

  it('should still return the outcomes callers act on', () => {
    expect(sendOutcome(200, { serverTimestamp: 5 })).toEqual({ kind: 'accepted', serverTimestamp: 5 });
    expect(sendOutcome(410, { error: 'stale_devices', message: 'x', staleDevices: [2] })).toEqual({
      kind: 'stale',
      staleDevices: [2],
    });
  });
});
