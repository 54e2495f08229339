/**
 * `MessageService` rules over in-memory repositories and a fixed clock: send validation (sizes, repeated devices),
 * device coverage (404, 409 with missing and extra devices, 410 stale registration ids, a send to oneself), the
 * per-device queue caps it passes to storage (507), the send rate limits, then storage, hand-off to delivery,
 * listing and acknowledgement. The one SQL statement and group-commit concurrency are the medium tier's.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ErrorCode,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_SEND_CONTENT_BYTES,
  type OutgoingMessage,
  type SendMessagesRequest,
} from '@cove/protocol';

import { ApiError } from '../../src/services/api-error.js';
import type { AuthenticatedDevice } from '../../src/services/auth.service.js';
import { MessageService } from '../../src/services/message.service.js';
import { failedResult, okResult, type RequestResult } from '../../src/services/result.mapper.js';
import { FIXED_START_MS } from './support/fixed-clock.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

const content = (bytes: number, fill = 1): string => Buffer.alloc(bytes, fill).toString('base64');

describe(MessageService.name, () => {
  let ctx: UnitContext;
  let alice: AuthenticatedDevice;
  let bob: AuthenticatedDevice;
  let bobRegistration: number;

  const to = (deviceId: number, registrationId: number, bytes = 16): OutgoingMessage => ({
    type: 'whisper',
    destinationDeviceId: deviceId,
    destinationRegistrationId: registrationId,
    content: content(bytes),
  });
  const request = (messages: OutgoingMessage[]): SendMessagesRequest => ({ timestamp: 1_700_000_000_000, messages });
  /** A send's answer as status and body, the way both transports render it (a refusal is thrown as an ApiError). */
  const send = (messages: OutgoingMessage[], from = alice, destination = bob.accountId): Promise<RequestResult> =>
    ctx.messages.send(from, destination, request(messages)).then(okResult, (error: unknown) => {
      expect(error).toBeInstanceOf(ApiError);
      return failedResult(error);
    });

  const start = async (env: Record<string, string> = {}) => {
    ctx = await newUnitContext(env);
    alice = (await ctx.register()).device;
    const b = await ctx.register();
    bob = b.device;
    bobRegistration = b.body.registrationId;
  };

  afterEach(async () => {
    await ctx.close();
  });

  describe('send', () => {
    beforeEach(async () => {
      await start();
    });

    it('should store one envelope per device, stamped with the clock, and hand them to delivery', async () => {
      const bob2 = ctx.addDevice(bob.accountId, 2, 777);
      ctx.clock.advance(1234);
      const result = await send([to(1, bobRegistration), to(2, 777)]);
      expect(result).toEqual({ status: 200, body: { serverTimestamp: FIXED_START_MS + 1234 } });
      for (const d of [bob, bob2]) {
        const [stored] = ctx.db.envelopesOf(d.accountId, d.deviceId);
        expect(stored).toMatchObject({
          sourceAccountId: alice.accountId,
          sourceDeviceId: 1,
          timestamp: 1_700_000_000_000,
          serverTimestamp: FIXED_START_MS + 1234,
          urgent: true,
        });
      }
      const delivered = ctx.delivery.delivered.flat();
      expect(delivered.map((t) => t.deviceId)).toEqual([1, 2]);
      expect(delivered.map((t) => t.guid)).toEqual(ctx.db.envelopes.map((e) => e.guid));
    });

    it('should refuse an envelope over MAX_ENVELOPE_CONTENT_BYTES and a send over MAX_SEND_CONTENT_BYTES', async () => {
      const big = await send([to(1, bobRegistration, MAX_ENVELOPE_CONTENT_BYTES + 1)]);
      expect(big).toMatchObject({ status: 413, body: { error: ErrorCode.PayloadTooLarge } });
      const devices = Math.floor(MAX_SEND_CONTENT_BYTES / MAX_ENVELOPE_CONTENT_BYTES) + 1;
      const wide = await send(Array.from({ length: devices }, (_, i) => to(i + 1, 1, MAX_ENVELOPE_CONTENT_BYTES)));
      expect(wide).toMatchObject({ status: 413, body: { error: ErrorCode.PayloadTooLarge } });
      expect(ctx.db.envelopes).toHaveLength(0);
      expect(ctx.envelopes.batches).toHaveLength(0);
    });

    it('should refuse a send naming a device twice before storage sees it', async () => {
      const result = await send([to(1, bobRegistration), to(1, bobRegistration)]);
      expect(result).toMatchObject({ status: 400, body: { error: ErrorCode.InvalidRequest } });
      expect(ctx.envelopes.batches).toHaveLength(0);
    });

    it('should answer 404 for an account with no devices', async () => {
      const result = await send([to(1, 1)], alice, '00000000-0000-4000-8000-000000000000');
      expect(result).toMatchObject({ status: 404, body: { error: ErrorCode.NotFound } });
    });

    it('should answer 409 with the missing and extra devices when the send does not cover exactly the current ones', async () => {
      ctx.addDevice(bob.accountId, 2, 777);
      ctx.addDevice(bob.accountId, 3, 778);
      const result = await send([to(1, bobRegistration), to(4, 1)]);
      expect(result).toEqual({
        kind: 'refused',
        status: 409,
        body: {
          error: ErrorCode.MismatchedDevices,
          message: expect.any(String) as unknown,
          missingDevices: [2, 3],
          extraDevices: [4],
        },
      });
      expect(ctx.db.envelopes).toHaveLength(0);
      expect(ctx.delivery.delivered.flat()).toHaveLength(0);
    });

    it('should answer 410 with the devices whose registration id changed', async () => {
      ctx.addDevice(bob.accountId, 2, 777);
      const result = await send([to(1, bobRegistration), to(2, 778)]);
      expect(result).toMatchObject({ status: 410, body: { error: ErrorCode.StaleDevices, staleDevices: [2] } });
      expect(ctx.db.envelopes).toHaveLength(0);
    });

    it('should make a send to oneself cover the other devices only', async () => {
      const own = ctx.db.device(alice.accountId, 1)?.registrationId ?? 0;
      ctx.addDevice(alice.accountId, 2, 555);
      expect(await send([to(2, 555)], alice, alice.accountId)).toMatchObject({ status: 200 });
      const including = await send([to(1, own), to(2, 555)], alice, alice.accountId);
      expect(including).toMatchObject({ status: 409, body: { missingDevices: [], extraDevices: [1] } });
      expect(ctx.db.envelopesOf(alice.accountId, 1)).toHaveLength(0);
    });

    it('should keep the order of sends to one recipient', async () => {
      const results = await Promise.all([1, 2, 3].map(() => send([to(1, bobRegistration)])));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(ctx.db.envelopesOf(bob.accountId, 1).map((e) => e.guid)).toEqual(
        ctx.delivery.delivered.flat().map((t) => t.guid),
      );
    });
  });

  describe('queue caps', () => {
    it('should answer 507 with the full devices once MAX_QUEUED_ENVELOPES wait, and store nothing of that send', async () => {
      await start({ MAX_QUEUED_ENVELOPES: '2' });
      ctx.addDevice(bob.accountId, 2, 777);
      await send([to(1, bobRegistration), to(2, 777)]);
      expect(await send([to(1, bobRegistration), to(2, 777)])).toMatchObject({ status: 200 });
      const refused = await send([to(1, bobRegistration), to(2, 777)]);
      expect(refused).toMatchObject({
        status: 507,
        body: { error: ErrorCode.QueueFull, accountId: bob.accountId, fullDevices: [1, 2] },
      });
      expect(ctx.db.envelopes).toHaveLength(4);
      /** An acknowledgement frees room again. */
      const [first] = ctx.db.envelopesOf(bob.accountId, 1);
      expect(await ctx.messages.ack(bob, first?.guid ?? '')).toBe(true);
      expect(await send([to(1, bobRegistration), to(2, 777)])).toMatchObject({
        status: 507,
        body: { fullDevices: [2] },
      });
    });

    it('should count content bytes against MAX_QUEUED_BYTES', async () => {
      await start({ MAX_QUEUED_BYTES: '100' });
      expect(await send([to(1, bobRegistration, 60)])).toMatchObject({ status: 200 });
      expect(await send([to(1, bobRegistration, 60)])).toMatchObject({ status: 507, body: { fullDevices: [1] } });
      expect(await send([to(1, bobRegistration, 40)])).toMatchObject({ status: 200 });
    });
  });

  describe('rate limits', () => {
    it('should answer 429 with retryAfter past RATE_LIMIT_SENDS_PER_RECIPIENT, per recipient', async () => {
      await start({ RATE_LIMITS: 'on', RATE_LIMIT_SENDS_PER_RECIPIENT: '2/1m' });
      const carol = await ctx.register();
      expect((await send([to(1, bobRegistration)])).status).toBe(200);
      expect((await send([to(1, bobRegistration)])).status).toBe(200);
      const limited = await send([to(1, bobRegistration)]);
      expect(limited).toMatchObject({ status: 429, body: { error: ErrorCode.RateLimited } });
      expect((limited.body as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(1);
      /** Another spelling of the same recipient id counts against the same limit. */
      expect((await send([to(1, bobRegistration)], alice, bob.accountId.toUpperCase())).status).toBe(429);
      expect((await send([to(1, carol.body.registrationId)], alice, carol.device.accountId)).status).toBe(200);
      expect(ctx.db.envelopesOf(bob.accountId, 1)).toHaveLength(2);
    });
  });

  describe('refusals', () => {
    beforeEach(async () => {
      await start();
    });

    it('should throw an ApiError carrying the status, the code and the extra fields', async () => {
      ctx.addDevice(bob.accountId, 2, 777);
      const refusal = ctx.messages.send(alice, bob.accountId, request([to(1, bobRegistration), to(2, 778)]));
      await expect(refusal).rejects.toBeInstanceOf(ApiError);
      const error = (await refusal.catch((e: unknown) => e)) as ApiError;
      expect(error.getStatus()).toBe(410);
      expect(error.code).toBe(ErrorCode.StaleDevices);
      expect(error.extra).toEqual({ staleDevices: [2] });
      expect(error.body).toEqual({ error: ErrorCode.StaleDevices, message: error.message, staleDevices: [2] });
    });

    it('should resolve with the response body only when the send is stored', async () => {
      await expect(ctx.messages.send(alice, bob.accountId, request([to(1, bobRegistration)]))).resolves.toEqual({
        serverTimestamp: FIXED_START_MS,
      });
    });

    it('should throw 401 for a sender whose device was removed, and store nothing', async () => {
      const alice2 = ctx.addDevice(alice.accountId, 2, 555);
      ctx.db.removeDevice(alice.accountId, 2);
      const refusal = ctx.messages.send(alice2, bob.accountId, request([to(1, bobRegistration)]));
      await expect(refusal).rejects.toMatchObject({ code: ErrorCode.Unauthorized });
      await expect(refusal.catch((e: unknown) => (e as ApiError).getStatus())).resolves.toBe(401);
      expect(ctx.db.envelopes).toHaveLength(0);
    });
  });

  describe('list and ack', () => {
    beforeEach(async () => {
      await start();
    });

    it('should list stored envelopes oldest first in the wire shape and mark the device seen', async () => {
      await send([to(1, bobRegistration, 3)]);
      await send([to(1, bobRegistration, 5)]);
      const page = await ctx.messages.list(bob, 1);
      expect(page.more).toBe(true);
      expect(page.envelopes).toEqual([
        {
          guid: ctx.db.envelopes[0]?.guid,
          type: 'whisper',
          sourceAccountId: alice.accountId,
          sourceDeviceId: 1,
          timestamp: 1_700_000_000_000,
          serverTimestamp: FIXED_START_MS,
          content: content(3),
        },
      ]);
      expect(ctx.delivery.seenDevices).toEqual([bob]);
    });

    it("should acknowledge only the caller's own envelopes", async () => {
      await send([to(1, bobRegistration)]);
      const guid = ctx.db.envelopes[0]?.guid ?? '';
      expect(await ctx.messages.ack(alice, guid)).toBe(false);
      expect(await ctx.messages.ack(bob, guid)).toBe(true);
      expect(await ctx.messages.ack(bob, guid)).toBe(false);
      expect(ctx.db.envelopes).toHaveLength(0);
    });

    it("should answer the acks of one batch one by one: the caller's are deleted, foreign and unknown ones are not", async () => {
      await send([to(1, bobRegistration)]);
      await send([to(1, bobRegistration)]);
      const [first, second] = ctx.db.envelopes.map((e) => e.guid);
      const unknown = '00000000-0000-4000-8000-000000000000';
      // Alice acknowledges Bob's envelope in the same batch: nothing of Bob's goes, whatever else shares the batch.
      const foreign = ctx.messages.ack(alice, first ?? '');
      const own = Promise.all([second, unknown, first].map((guid) => ctx.messages.ack(bob, guid ?? '')));
      expect(await foreign).toBe(false);
      expect(await own).toEqual([true, false, true]);
      expect(ctx.db.envelopes).toHaveLength(0);
      const again = [first, first].map((guid) => ctx.messages.ack(bob, guid ?? ''));
      expect(await Promise.all(again)).toEqual([false, false]);
    });

    it("should throw 404 not_found from acknowledge when the envelope is not the caller's", async () => {
      await send([to(1, bobRegistration)]);
      const guid = ctx.db.envelopes[0]?.guid ?? '';
      const refusal = ctx.messages.acknowledge(alice, guid).catch((e: unknown) => failedResult(e));
      await expect(refusal).resolves.toEqual({
        kind: 'refused',
        status: 404,
        body: { error: ErrorCode.NotFound, message: 'no such envelope for this device' },
      });
      await expect(ctx.messages.acknowledge(bob, guid)).resolves.toBeUndefined();
      expect(ctx.db.envelopes).toHaveLength(0);
    });
  });
});
