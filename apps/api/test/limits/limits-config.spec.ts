/** The configuration of queue caps, send rate limits and the authentication lockout: defaults, units, refusals. */
import { describe, expect, it } from '@jest/globals';

import { ConfigError, parseConfig } from '../../src/repositories/config.repository.js';

describe('limits configuration', () => {
  it('should default to the documented caps, limits and lockout', () => {
    const config = parseConfig({});
    expect(config.maxQueuedEnvelopes).toBe(10_000);
    expect(config.maxQueuedBytes).toBe(256 * 1024 * 1024);
    expect(config.sendRateLimits).toEqual({
      send: { limit: 600, ttl: 60_000 },
      sendToRecipient: { limit: 120, ttl: 60_000 },
      sendDevices: { limit: 30_000, ttl: 60_000 },
      sealedToRecipient: { limit: 1200, ttl: 60_000 },
    });
    expect(config.authLockoutMs).toBe(60_000);
  });

  it('should read sizes, rates and durations with their units', () => {
    const config = parseConfig({
      MAX_QUEUED_ENVELOPES: '500',
      MAX_QUEUED_BYTES: '64MiB',
      RATE_LIMIT_SENDS: '100/10s',
      RATE_LIMIT_SENDS_PER_RECIPIENT: '30/1m',
      RATE_LIMIT_SEND_DEVICES: '5000/30s',
      RATE_LIMIT_SEALED_SENDS_PER_RECIPIENT: '50/1m',
      AUTH_LOCKOUT: '5m',
    });
    expect(config.maxQueuedEnvelopes).toBe(500);
    expect(config.maxQueuedBytes).toBe(64 * 1024 * 1024);
    expect(config.sendRateLimits).toEqual({
      send: { limit: 100, ttl: 10_000 },
      sendToRecipient: { limit: 30, ttl: 60_000 },
      sendDevices: { limit: 5000, ttl: 30_000 },
      sealedToRecipient: { limit: 50, ttl: 60_000 },
    });
    expect(config.authLockoutMs).toBe(300_000);
    expect(parseConfig({ MAX_QUEUED_BYTES: '1048576' }).maxQueuedBytes).toBe(1_048_576);
  });

  it.each([
    ['MAX_QUEUED_ENVELOPES', '0'],
    ['MAX_QUEUED_ENVELOPES', 'many'],
    ['MAX_QUEUED_BYTES', '256MB'],
    ['MAX_QUEUED_BYTES', '0KiB'],
    ['RATE_LIMIT_SENDS', '600'],
    ['RATE_LIMIT_SENDS', '0/1m'],
    ['RATE_LIMIT_SENDS_PER_RECIPIENT', '5/500ms'],
    ['RATE_LIMIT_SEND_DEVICES', '0/1m'],
    ['AUTH_LOCKOUT', '0s'],
  ])('should refuse %s=%s with a message naming it', (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => parseConfig({ [name]: value })).toThrow(name);
  });
});
