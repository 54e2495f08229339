/**
 * `PushService` rules over in-memory repositories, a fixed clock and a scripted push service: which endpoints are
 * acceptable, when a device is woken (once until it shows up; again for an urgent envelope after a non-urgent
 * wake-up or after `PUSH_RENOTIFY_AFTER`), what the payload holds, how push-service answers map to retries, and
 * what the sweep picks. Real HTTPS pushes and the job queues are the medium tier's.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { decodePushPayload, ErrorCode } from '@cove/protocol';

import { QueueName } from '../../src/enum.js';
import { PermanentJobError, RetryableJobError } from '../../src/jobs.js';
import type { AuthenticatedDevice } from '../../src/services/auth.service.js';
import { PushService } from '../../src/services/push.service.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

const ENDPOINT = 'https://fcm.googleapis.com/fcm/send/abc';
const KEYS = { p256dh: 'BPublicKeyOfTheBrowser', auth: 'authSecret' };
const MINUTE = 60_000;

describe(PushService.name, () => {
  let ctx: UnitContext;
  let device: AuthenticatedDevice;

  /** Stores an envelope for `device` accepted at the clock's current time. */
  const waiting = (urgent: boolean, bytes = 8): void => {
    ctx.db.storeEnvelopes([
      {
        guid: ctx.crypto.envelopeId(),
        accountId: device.accountId,
        deviceId: device.deviceId,
        type: 'whisper',
        sourceAccountId: device.accountId,
        sourceDeviceId: 2,
        timestamp: 1,
        serverTimestamp: ctx.clock.now(),
        urgent,
        content: Buffer.alloc(bytes, 9),
      },
    ]);
  };

  beforeEach(async () => {
    ctx = await newUnitContext({ PUSH_RENOTIFY_AFTER: '15m', PUSH_ALLOWED_HOSTS: 'fcm.googleapis.com,push.test:8443' });
    device = (await ctx.register()).device;
  });
  afterEach(async () => {
    await ctx.close();
  });

  describe('isAllowedEndpoint', () => {
    it.each([
      ['https://fcm.googleapis.com/x', true],
      ['https://fcm.googleapis.com:443/x', true],
      ['https://eu.fcm.googleapis.com/x', true],
      ['https://push.test:8443/x', true],
      ['https://push.test/x', false],
      ['http://fcm.googleapis.com/x', false],
      ['https://user:pw@fcm.googleapis.com/x', false],
      ['https://evilfcm.googleapis.com.attacker.test/x', false],
      ['https://fcm.googleapis.com:8443/x', false],
      ['not a url', false],
    ])('should judge %s as %s', (endpoint, allowed) => {
      expect(ctx.push.isAllowedEndpoint(endpoint)).toBe(allowed);
    });
  });

  it('should refuse to subscribe an endpoint off the allow-list and store nothing', async () => {
    await expect(
      ctx.push.subscribe(device, { endpoint: 'https://internal.test/hook', keys: KEYS }),
    ).rejects.toMatchObject({ status: 400, code: ErrorCode.InvalidRequest });
    expect(ctx.db.subscriptions.size).toBe(0);
  });

  describe('handlePushDevice', () => {
    beforeEach(async () => {
      await ctx.push.subscribe(device, { endpoint: ENDPOINT, keys: KEYS });
    });

    it('should wake a device with the oldest envelope in the payload, urgently, and note the wake-up time', async () => {
      waiting(true);
      ctx.clock.advance(5_000);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(1);
      const [push] = ctx.webPush.sent;
      expect(push?.target).toEqual({ endpoint: ENDPOINT, ...KEYS });
      expect(push?.options).toMatchObject({ urgency: 'high', topic: 'cove-wake' });
      const payload = decodePushPayload(push?.payload ?? new Uint8Array());
      expect(payload).toMatchObject({ kind: 'envelope', pending: 1, envelope: { guid: ctx.db.envelopes[0]?.guid } });
      const subscription = ctx.db.subscriptions.get(`${device.accountId}.1`);
      expect(subscription).toMatchObject({ wokenAt: new Date(ctx.clock.now()), wokenUrgent: true });
    });

    it('should do nothing without waiting envelopes, or while the device is connected somewhere', async () => {
      await ctx.push.handlePushDevice(device);
      waiting(false);
      await ctx.presence.add(`${device.accountId}.1`);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(0);
    });

    it('should wake once until the device shows up, then again', async () => {
      waiting(false);
      await ctx.push.handlePushDevice(device);
      ctx.clock.advance(MINUTE);
      waiting(false);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(1);
      expect(ctx.webPush.sent[0]?.options.urgency).toBe('low');
      await ctx.push.seen(device);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(2);
    });

    it('should wake again for an urgent envelope after a non-urgent wake-up', async () => {
      waiting(false);
      await ctx.push.handlePushDevice(device);
      ctx.clock.advance(1);
      waiting(true);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent.map((p) => p.options.urgency)).toEqual(['low', 'high']);
    });

    it('should wake again for a newer envelope only once PUSH_RENOTIFY_AFTER has passed', async () => {
      waiting(false);
      await ctx.push.handlePushDevice(device);
      ctx.clock.advance(15 * MINUTE - 1);
      waiting(false);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(1);
      ctx.clock.advance(1);
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(2);
    });

    it('should drop a subscription the push service says is gone', async () => {
      waiting(true);
      ctx.webPush.outcome = { kind: 'gone', status: 410 };
      await ctx.push.handlePushDevice(device);
      expect(ctx.db.subscriptions.size).toBe(0);
    });

    it('should ask for a retry on 429/5xx, honouring Retry-After, and give up on other refusals', async () => {
      waiting(true);
      ctx.webPush.outcome = { kind: 'retry', status: 503, retryAfterMs: 7_000 };
      const retry = ctx.push.handlePushDevice(device);
      await expect(retry).rejects.toBeInstanceOf(RetryableJobError);
      await expect(retry).rejects.toMatchObject({ retryAfterMs: 7_000 });
      ctx.webPush.outcome = { kind: 'refused', status: 400 };
      await expect(ctx.push.handlePushDevice(device)).rejects.toBeInstanceOf(PermanentJobError);
      expect(ctx.db.subscriptions.size).toBe(1);
    });

    it('should never send to an endpoint the allow-list no longer names, and forget it', async () => {
      waiting(true);
      const key = `${device.accountId}.1`;
      const stored = ctx.db.subscriptions.get(key);
      if (stored) stored.endpoint = 'https://push.services.mozilla.com/x';
      await ctx.push.handlePushDevice(device);
      expect(ctx.webPush.sent).toHaveLength(0);
      expect(ctx.db.subscriptions.has(key)).toBe(false);
    });
  });

  describe('handleSweep', () => {
    it('should queue wake-ups for devices never woken with envelopes older than the grace period', async () => {
      await ctx.push.subscribe(device, { endpoint: ENDPOINT, keys: KEYS });
      waiting(true);
      ctx.clock.advance(29_000);
      await ctx.push.handleSweep();
      expect((await ctx.jobs.counts(QueueName.Push)).waiting).toBe(0);
      ctx.clock.advance(2_000);
      await ctx.push.handleSweep();
      expect((await ctx.jobs.counts(QueueName.Push)).waiting).toBe(1);
    });
  });
});
