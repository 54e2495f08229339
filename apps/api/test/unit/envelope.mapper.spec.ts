/**
 * The envelope mapper's `envelope` frame: written directly, it must be byte for byte the JSON of
 * `{ type: 'envelope', envelope }` for every envelope the server sends (identified, sealed, and strings that need
 * escaping or are not ASCII), so clients see no difference. The frames on a real socket are the contract suite's.
 */
import { describe, expect, it } from '@jest/globals';
import type { Envelope } from '@cove/protocol';

import { envelopeFrame, toEnvelope } from '../../src/services/envelope.mapper.js';

const identified: Envelope = {
  guid: '0b9e3a3c-5f0e-4a8e-9c1d-6f2d1f6d2a11',
  type: 'whisper',
  sourceAccountId: '5d1c8c2e-0f5b-4f4c-8f0a-3b7a5d1e9c22',
  sourceDeviceId: 3,
  timestamp: 1_765_000_000_123,
  serverTimestamp: 1_765_000_000_456,
  content: Buffer.from('hello, world').toString('base64'),
};

describe('envelope mapper', () => {
  it("should write an envelope frame byte for byte as the JSON of `{ type: 'envelope', envelope }`", () => {
    const sealed: Envelope = {
      guid: identified.guid,
      type: 'unidentified-sender',
      timestamp: 0,
      serverTimestamp: Number.MAX_SAFE_INTEGER,
      content: '',
    };
    const odd = {
      ...identified,
      guid: 'quote " and \\ and \n and \u2028 and é and \ud800',
      type: 'prekey',
      content: '\u0000\u001f\u007f~ ',
    } as Envelope;
    for (const envelope of [identified, sealed, odd]) {
      expect(envelopeFrame(envelope)).toBe(JSON.stringify({ type: 'envelope', envelope }));
    }
  });

  it("should write a stored envelope's frame as the JSON of its wire envelope", () => {
    for (const [sourceAccountId, sourceDeviceId] of [
      [identified.sourceAccountId ?? null, 2],
      [null, null],
    ] as const) {
      const envelope = toEnvelope({
        guid: identified.guid,
        type: 'whisper',
        sourceAccountId,
        sourceDeviceId,
        timestamp: 7,
        serverTimestamp: 8,
        content: new Uint8Array([0, 1, 2, 250, 251]),
      });
      expect(envelopeFrame(envelope)).toBe(JSON.stringify({ type: 'envelope', envelope }));
    }
  });
});
