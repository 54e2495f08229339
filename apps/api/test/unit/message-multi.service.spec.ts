/**
 * `MessageService.sendMulti` over in-memory repositories and a fixed clock: one ciphertext for many devices of many
 * accounts, checked all at once (every failing recipient named in one `404`/`409`/`410`, nothing stored on any
 * refusal), stored once with a row per device, full queues skipped and reported, online sends stored nowhere, the
 * rate limits (per request, per recipient, per recipient device) and a removed sender. The schema's own refusals
 * (duplicates, counts) are checked on `SendMultiRequest` here too, since both transports validate with it. The SQL
 * statement is the medium tier's (`test/messages/multi-recipient.spec.ts`).
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ErrorCode,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_MULTI_RECIPIENT_ACCOUNTS,
  MAX_MULTI_RECIPIENT_DEVICES,
  SendMultiFrame,
  SendMultiRequest,
  type MultiRecipient,
} from '@cove/protocol';

import { ApiError } from '../../src/services/api-error.js';
import type { AuthenticatedDevice } from '../../src/services/auth.service.js';
import { MessageService } from '../../src/services/message.service.js';
import { failedResult, okResult, type RequestResult } from '../../src/services/result.mapper.js';
import { FIXED_START_MS } from './support/fixed-clock.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

const CONTENT = Buffer.alloc(40, 7).toString('base64');
const TIMESTAMP = 1_700_000_000_000;

type Member = { device: AuthenticatedDevice; registrationId: number };

describe(`${MessageService.name} multi-recipient`, () => {
  let ctx: UnitContext;
  let alice: Member;
  let bob: Member;
  let carol: Member;

  const recipient = (m: Member, devices: Array<[number, number]> = [[1, m.registrationId]]): MultiRecipient => ({
    accountId: m.device.accountId,
    devices: devices.map(([deviceId, registrationId]) => ({ deviceId, registrationId })),
  });
  const sendMulti = (
    recipients: MultiRecipient[],
    options: { from?: AuthenticatedDevice; online?: boolean; content?: string } = {},
  ): Promise<RequestResult> =>
    ctx.messages
      .sendMulti(options.from ?? alice.device, {
        type: 'senderkey',
        content: options.content ?? CONTENT,
        timestamp: TIMESTAMP,
        ...(options.online === undefined ? {} : { online: options.online }),
        recipients,
      })
      .then(okResult, (error: unknown) => {
        expect(error).toBeInstanceOf(ApiError);
        return failedResult(error);
      });

  const start = async (env: Record<string, string> = {}) => {
    ctx = await newUnitContext(env);
    const member = async (): Promise<Member> => {
      const r = await ctx.register();
      return { device: r.device, registrationId: r.body.registrationId };
    };
    alice = await member();
    bob = await member();
    carol = await member();
  };

  afterEach(async () => {
    await ctx.close();
  });

  describe('storing', () => {
    beforeEach(async () => {
      await start();
    });

    it('should store one row per device sharing one ciphertext and hand them to delivery once', async () => {
      ctx.addDevice(bob.device.accountId, 2, 702);
      ctx.addDevice(alice.device.accountId, 3, 903);
      ctx.clock.advance(50);
      const result = await sendMulti([
        recipient(bob, [
          [1, bob.registrationId],
          [2, 702],
        ]),
        recipient(carol),
        recipient(alice, [[3, 903]]),
      ]);
      expect(result).toEqual({ status: 200, body: { serverTimestamp: FIXED_START_MS + 50, stored: 4 } });
      expect(ctx.db.envelopes).toHaveLength(4);
      /** One buffer for every row: the in-memory twin of one shared payload row. */
      expect(new Set(ctx.db.envelopes.map((e) => e.content)).size).toBe(1);
      expect(new Set(ctx.db.envelopes.map((e) => e.guid)).size).toBe(4);
      for (const e of ctx.db.envelopes) {
        expect(e).toMatchObject({
          type: 'senderkey',
          sourceAccountId: alice.device.accountId,
          sourceDeviceId: 1,
          timestamp: TIMESTAMP,
          serverTimestamp: FIXED_START_MS + 50,
          urgent: true,
        });
        expect(Buffer.from(e.content).toString('base64')).toBe(CONTENT);
      }
      expect(ctx.delivery.shared).toHaveLength(1);
      const [shared] = ctx.delivery.shared;
      expect(shared?.online).toBe(false);
      expect(shared?.envelope).toEqual({
        type: 'senderkey',
        sourceAccountId: alice.device.accountId,
        sourceDeviceId: 1,
        timestamp: TIMESTAMP,
        serverTimestamp: FIXED_START_MS + 50,
        content: CONTENT,
      });
      expect(shared?.devices.map((d) => d.guid).sort()).toEqual(ctx.db.envelopes.map((e) => e.guid).sort());
    });

    it('should list a stored group envelope to each device as an ordinary senderkey envelope, acked per device', async () => {
      await sendMulti([recipient(bob), recipient(carol)]);
      const page = await ctx.messages.list(bob.device);
      expect(page.envelopes).toEqual([
        expect.objectContaining({ type: 'senderkey', content: CONTENT, sourceAccountId: alice.device.accountId }),
      ]);
      const guid = page.envelopes[0]?.guid ?? '';
      /** Another recipient of the same message cannot acknowledge bob's row, nor can the sender. */
      expect(await ctx.messages.ack(carol.device, guid)).toBe(false);
      expect(await ctx.messages.ack(alice.device, guid)).toBe(false);
      expect(await ctx.messages.ack(bob.device, guid)).toBe(true);
      expect(ctx.db.envelopes.map((e) => e.accountId)).toEqual([carol.device.accountId]);
    });

    it('should accept a send to only its own other devices, and refuse one naming the sending device', async () => {
      ctx.addDevice(alice.device.accountId, 2, 802);
      expect(await sendMulti([recipient(alice, [[2, 802]])])).toMatchObject({ status: 200, body: { stored: 1 } });
      const refused = await sendMulti([
        recipient(alice, [
          [1, alice.registrationId],
          [2, 802],
        ]),
      ]);
      expect(refused).toMatchObject({
        status: 409,
        body: {
          error: ErrorCode.MismatchedDevices,
          accounts: [{ accountId: alice.device.accountId, missingDevices: [], extraDevices: [1], staleDevices: [] }],
        },
      });
      expect(ctx.db.envelopes).toHaveLength(1);
    });

    it('should store nothing for an online send and hand every device to delivery as online', async () => {
      const result = await sendMulti([recipient(bob), recipient(carol)], { online: true });
      expect(result).toEqual({ status: 200, body: { serverTimestamp: FIXED_START_MS, stored: 0 } });
      expect(ctx.db.envelopes).toHaveLength(0);
      expect(ctx.delivery.shared[0]?.online).toBe(true);
      expect(ctx.delivery.shared[0]?.devices).toHaveLength(2);
      /** The device check applies to online sends all the same. */
      expect((await sendMulti([recipient(bob, [[1, bob.registrationId + 1]])], { online: true })).status).toBe(410);
    });

    it('should refuse content over the envelope limit with 413', async () => {
      const big = Buffer.alloc(MAX_ENVELOPE_CONTENT_BYTES + 1).toString('base64');
      expect(await sendMulti([recipient(bob)], { content: big })).toMatchObject({
        status: 413,
        body: { error: ErrorCode.PayloadTooLarge },
      });
      expect(ctx.db.envelopes).toHaveLength(0);
    });
  });

  describe('all-or-nothing refusals', () => {
    beforeEach(async () => {
      await start();
    });

    it('should answer 409 naming every recipient with missing, extra or stale devices, storing nothing', async () => {
      ctx.addDevice(bob.device.accountId, 2, 702);
      ctx.addDevice(carol.device.accountId, 4, 704);
      const dave = await ctx.register();
      const result = await sendMulti([
        recipient(bob),
        recipient(carol, [
          [1, carol.registrationId],
          [4, 704],
          [5, 705],
        ]),
        { accountId: dave.device.accountId, devices: [{ deviceId: 1, registrationId: dave.body.registrationId + 1 }] },
      ]);
      expect(result).toMatchObject({
        status: 409,
        body: {
          error: ErrorCode.MismatchedDevices,
          accounts: [
            { accountId: bob.device.accountId, missingDevices: [2], extraDevices: [], staleDevices: [] },
            { accountId: carol.device.accountId, missingDevices: [], extraDevices: [5], staleDevices: [] },
            { accountId: dave.device.accountId, missingDevices: [], extraDevices: [], staleDevices: [1] },
          ],
        },
      });
      expect(ctx.db.envelopes).toHaveLength(0);
      expect(ctx.delivery.shared).toHaveLength(0);
    });

    it('should answer 410 naming every recipient with stale registration ids when nothing is missing', async () => {
      ctx.addDevice(bob.device.accountId, 2, 702);
      const result = await sendMulti([
        recipient(bob, [
          [1, bob.registrationId],
          [2, 999],
        ]),
        recipient(carol, [[1, carol.registrationId + 1]]),
      ]);
      expect(result).toMatchObject({
        status: 410,
        body: {
          error: ErrorCode.StaleDevices,
          accounts: [
            { accountId: bob.device.accountId, staleDevices: [2] },
            { accountId: carol.device.accountId, staleDevices: [1] },
          ],
        },
      });
      expect(ctx.db.envelopes).toHaveLength(0);
    });

    it('should answer 404 naming every unknown account, storing nothing for the known ones', async () => {
      const ghosts = ['6f1a7c4e-0000-4000-8000-000000000001', '6f1a7c4e-0000-4000-8000-000000000002'];
      const result = await sendMulti([
        recipient(bob),
        ...ghosts.map((accountId) => ({ accountId, devices: [{ deviceId: 1, registrationId: 1 }] })),
      ]);
      expect(result).toMatchObject({
        status: 404,
        body: { error: ErrorCode.NotFound, accounts: ghosts.map((accountId) => ({ accountId })) },
      });
      expect(ctx.db.envelopes).toHaveLength(0);
    });

    it('should answer 401 for a removed sender device and store nothing', async () => {
      const alice2 = ctx.addDevice(alice.device.accountId, 2, 802);
      ctx.db.removeDevice(alice.device.accountId, 2);
      const result = await sendMulti([recipient(bob)], { from: alice2 });
      expect(result).toMatchObject({ status: 401, body: { error: ErrorCode.Unauthorized } });
      expect(ctx.db.envelopes).toHaveLength(0);
    });
  });

  describe('queue caps', () => {
    it('should skip a device whose queue is full, store for the others and report it', async () => {
      await start({ MAX_QUEUED_ENVELOPES: '1' });
      ctx.addDevice(bob.device.accountId, 2, 702);
      const bobBoth = recipient(bob, [
        [1, bob.registrationId],
        [2, 702],
      ]);
      expect(await sendMulti([bobBoth, recipient(carol)])).toMatchObject({ status: 200, body: { stored: 3 } });
      const bob1 = ctx.db.envelopesOf(bob.device.accountId, 1)[0];
      await ctx.messages.ack(bob.device, bob1?.guid ?? '');
      const result = await sendMulti([bobBoth, recipient(carol)]);
      expect(result).toEqual({
        status: 200,
        body: {
          serverTimestamp: FIXED_START_MS,
          stored: 1,
          queueFull: [
            { accountId: bob.device.accountId, fullDevices: [2] },
            { accountId: carol.device.accountId, fullDevices: [1] },
          ].sort((a, b) => (a.accountId < b.accountId ? -1 : 1)),
        },
      });
      expect(ctx.db.envelopesOf(bob.device.accountId, 1)).toHaveLength(1);
      expect(ctx.delivery.shared[1]?.devices).toEqual([expect.objectContaining({ deviceId: 1 })]);
    });
  });

  describe('rate limits', () => {
    it('should count a group send once per recipient account against RATE_LIMIT_SENDS_PER_RECIPIENT', async () => {
      await start({ RATE_LIMITS: 'on', RATE_LIMIT_SENDS_PER_RECIPIENT: '2/1m' });
      expect((await sendMulti([recipient(bob), recipient(carol)])).status).toBe(200);
      expect((await sendMulti([recipient(bob)])).status).toBe(200);
      const limited = await sendMulti([recipient(carol), recipient(bob)]);
      expect(limited).toMatchObject({ status: 429, body: { error: ErrorCode.RateLimited } });
      expect((limited.body as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(1);
      expect(ctx.db.envelopes).toHaveLength(3);
    });

    it('should count recipient devices against RATE_LIMIT_SEND_DEVICES', async () => {
      await start({ RATE_LIMITS: 'on', RATE_LIMIT_SEND_DEVICES: '3/1m' });
      ctx.addDevice(bob.device.accountId, 2, 702);
      const bobBoth = recipient(bob, [
        [1, bob.registrationId],
        [2, 702],
      ]);
      expect((await sendMulti([bobBoth])).status).toBe(200);
      expect((await sendMulti([bobBoth])).status).toBe(429);
      expect(ctx.db.envelopes).toHaveLength(2);
    });

    it('should count a group send once against RATE_LIMIT_SENDS, shared with 1:1 sends', async () => {
      await start({ RATE_LIMITS: 'on', RATE_LIMIT_SENDS: '2/1m' });
      expect((await sendMulti([recipient(bob), recipient(carol)])).status).toBe(200);
      const direct = await ctx.messages
        .send(alice.device, bob.device.accountId, {
          timestamp: TIMESTAMP,
          messages: [
            {
              type: 'whisper',
              destinationDeviceId: 1,
              destinationRegistrationId: bob.registrationId,
              content: CONTENT,
            },
          ],
        })
        .then(okResult, failedResult);
      expect(direct.status).toBe(200);
      expect((await sendMulti([recipient(carol)])).status).toBe(429);
    });
  });
});

describe('SendMultiRequest', () => {
  const account = (n: number): string => `6f1a7c4e-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  const body = (recipients: unknown, extra: Record<string, unknown> = {}) => ({
    type: 'senderkey',
    content: CONTENT,
    timestamp: TIMESTAMP,
    recipients,
    ...extra,
  });
  const one = (n: number, devices = [{ deviceId: 1, registrationId: 5 }]) => ({ accountId: account(n), devices });
  const issues = (value: unknown) => {
    const parsed = SendMultiRequest.safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((i) => i.code);
  };

  it('should accept a well-formed body and lower-case its account ids', () => {
    const parsed = SendMultiRequest.parse(body([{ ...one(1), accountId: account(1).toUpperCase() }]));
    expect(parsed.recipients[0]?.accountId).toBe(account(1));
  });

  it('should refuse duplicate accounts in any spelling and duplicate devices', () => {
    expect(issues(body([one(1), { ...one(1), accountId: account(1).toUpperCase() }]))).toEqual(['custom']);
    expect(
      issues(
        body([
          one(2, [
            { deviceId: 1, registrationId: 5 },
            { deviceId: 1, registrationId: 6 },
          ]),
        ]),
      ),
    ).toEqual(['custom']);
  });

  it('should refuse no recipients, an account without devices, another type and unknown fields', () => {
    expect(issues(body([]))).toEqual(['too_small']);
    expect(issues(body([one(1, [])]))).toEqual(['too_small']);
    expect(issues(body([one(1)], { type: 'whisper' }))).toEqual(['invalid_value']);
    expect(issues(body([one(1)], { type: 'sealed-v2' }))).toEqual(['invalid_value']);
    expect(issues(body([one(1)], { sender: account(9) }))).toEqual(['unrecognized_keys']);
  });

  it('should refuse more accounts or devices than the limits as too_big (413)', () => {
    const accounts = Array.from({ length: MAX_MULTI_RECIPIENT_ACCOUNTS + 1 }, (_, i) => one(i + 1));
    expect(issues(body(accounts))).toContain('too_big');
    const full = Array.from({ length: MAX_DEVICES_PER_ACCOUNT }, (_, i) => ({ deviceId: i + 1, registrationId: 5 }));
    const atLimit = Array.from({ length: MAX_MULTI_RECIPIENT_DEVICES / MAX_DEVICES_PER_ACCOUNT }, (_, i) =>
      one(i + 1, full),
    );
    /** 1,000 accounts with every device they may have are exactly the device limit: the largest group. */
    expect(issues(body(atLimit))).toEqual([]);
  });

  it('should carry the same body as the message of a send-multi frame', () => {
    expect(SendMultiFrame.safeParse({ type: 'send-multi', id: 1, message: body([one(1)]) }).success).toBe(true);
    expect(SendMultiFrame.safeParse({ ...body([one(1)]), type: 'send-multi', id: 1 }).success).toBe(false);
  });
});
