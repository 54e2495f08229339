import { describe, expect, it } from '@jest/globals';

import {
  decodePushPayload,
  encodePushPayload,
  MAX_PUSH_ENVELOPE_JSON_BYTES,
  PUSH_PAYLOAD_BYTES,
  PushPayloadError,
  PushSubscriptionRequest,
} from '../src/push.js';

const envelope = {
  guid: '0b7f4c1e-4a0e-4c6f-9d51-2f1d4bb0b4a1',
  type: 'whisper' as const,
  sourceAccountId: '5f0c2a55-3f0b-4e4f-8b5c-8e2b1a9c7d10',
  sourceDeviceId: 1,
  timestamp: 1_790_000_000_000,
  serverTimestamp: 1_790_000_000_123,
  content: 'AAECAwQFBgcICQ==',
};

describe('push payload', () => {
  it('should have the same size whatever it carries', () => {
    const wake = encodePushPayload({ kind: 'wake', pending: 3 });
    const full = encodePushPayload({ kind: 'envelope', pending: 1, envelope });
    expect(wake.length).toBe(PUSH_PAYLOAD_BYTES);
    expect(full.length).toBe(PUSH_PAYLOAD_BYTES);
  });

  it('should round-trip a wake-up and an envelope', () => {
    expect(decodePushPayload(encodePushPayload({ kind: 'wake', pending: 70_000 }))).toEqual({
      kind: 'wake',
      pending: 65_535,
    });
    expect(decodePushPayload(encodePushPayload({ kind: 'envelope', pending: 2, envelope }))).toEqual({
      kind: 'envelope',
      pending: 2,
      envelope,
    });
  });

  it('should fall back to a bare wake-up when the envelope does not fit', () => {
    const big = { ...envelope, content: 'A'.repeat(MAX_PUSH_ENVELOPE_JSON_BYTES) };
    const bytes = encodePushPayload({ kind: 'envelope', pending: 1, envelope: big });
    expect(decodePushPayload(bytes)).toEqual({ kind: 'wake', pending: 1 });
    expect(bytes.subarray(6).every((b) => b === 0)).toBe(true);
  });

  it('should reject malformed payloads', () => {
    expect(() => decodePushPayload(new Uint8Array(10))).toThrow(PushPayloadError);
    const bad = encodePushPayload({ kind: 'wake', pending: 0 });
    bad[PUSH_PAYLOAD_BYTES - 1] = 1;
    expect(() => decodePushPayload(bad)).toThrow(PushPayloadError);
    const kind = encodePushPayload({ kind: 'wake', pending: 0 });
    kind[1] = 9;
    expect(() => decodePushPayload(kind)).toThrow(PushPayloadError);
  });
});

describe('PushSubscriptionRequest', () => {
  const keys = { p256dh: 'B'.repeat(87), auth: 'A'.repeat(22) };

  it('should accept what PushSubscription.toJSON() produces', () => {
    expect(
      PushSubscriptionRequest.safeParse({
        endpoint: 'https://fcm.googleapis.com/fcm/send/x',
        expirationTime: null,
        keys,
      }).success,
    ).toBe(true);
  });

  it('should refuse wrong key sizes, missing keys and non-URLs', () => {
    expect(
      PushSubscriptionRequest.safeParse({ endpoint: 'https://a.example/x', keys: { ...keys, auth: 'AAAA' } }).success,
    ).toBe(false);
    expect(PushSubscriptionRequest.safeParse({ endpoint: 'https://a.example/x' }).success).toBe(false);
    expect(PushSubscriptionRequest.safeParse({ endpoint: 'not a url', keys }).success).toBe(false);
  });
});
