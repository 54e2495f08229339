/**
 * `PreKeyService` rules over in-memory repositories: uploaded keys checked (type, length, signature by the
 * account's identity key, repeated ids), the stored-key cap, and bundles that consume one one-time key of each kind
 * per device and fall back to the last-resort Kyber key. The atomic SQL claim is the medium tier's.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, MAX_STORED_PREKEYS } from '@cove/protocol';

import { PreKeyService } from '../../src/services/prekey.service.js';
import { TestKeys } from './support/test-keys.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

describe(PreKeyService.name, () => {
  let ctx: UnitContext;

  beforeEach(async () => {
    ctx = await newUnitContext();
  });
  afterEach(async () => {
    await ctx.close();
  });

  describe('upload', () => {
    it('should add one-time keys and replace the signed and last-resort keys', async () => {
      const { keys, device } = await ctx.register(1);
      const signedPreKey = keys.signedPreKey(2);
      await ctx.preKeys.upload(device, {
        preKeys: [keys.preKey(7), keys.preKey(8)],
        kyberPreKeys: [keys.kyberPreKey(7)],
        signedPreKey,
      });
      expect(await ctx.preKeys.status(device)).toEqual({ preKeyCount: 3, kyberPreKeyCount: 2 });
      const bundle = await ctx.preKeys.bundles(device.accountId, 1);
      expect(bundle.devices[0]?.signedPreKey).toEqual(signedPreKey);
    });

    it('should refuse a key signed by another identity and store none of the upload', async () => {
      const { keys, device } = await ctx.register();
      const stranger = new TestKeys();
      await expect(
        ctx.preKeys.upload(device, { preKeys: [keys.preKey(1)], kyberPreKeys: [stranger.kyberPreKey(1)] }),
      ).rejects.toMatchObject({ status: 400, code: ErrorCode.InvalidSignature });
      expect(await ctx.preKeys.status(device)).toEqual({ preKeyCount: 0, kyberPreKeyCount: 0 });
    });

    it('should refuse an EC key that is not 33 bytes with the type byte', async () => {
      const { device } = await ctx.register();
      const bad = Buffer.alloc(33, 1).toString('base64');
      await expect(ctx.preKeys.upload(device, { preKeys: [{ keyId: 1, publicKey: bad }] })).rejects.toMatchObject({
        status: 400,
        code: ErrorCode.InvalidKey,
      });
    });

    it('should refuse an upload that would store more than MAX_STORED_PREKEYS keys of a kind, all or none', async () => {
      const { keys, device } = await ctx.register();
      const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => keys.preKey(from + i));
      await ctx.preKeys.upload(device, { preKeys: many(1, MAX_STORED_PREKEYS - 1) });
      await expect(ctx.preKeys.upload(device, { preKeys: many(100_000, 2) })).rejects.toMatchObject({
        status: 409,
        code: ErrorCode.LimitReached,
      });
      expect((await ctx.preKeys.status(device)).preKeyCount).toBe(MAX_STORED_PREKEYS - 1);
      /** Replacing existing ids does not grow the count. */
      await ctx.preKeys.upload(device, { preKeys: many(1, 2) });
      expect((await ctx.preKeys.status(device)).preKeyCount).toBe(MAX_STORED_PREKEYS - 1);
    });

    it('should answer 404 for an account that no longer exists', async () => {
      const { keys } = await ctx.register();
      await expect(
        ctx.preKeys.upload(
          { accountId: '00000000-0000-4000-8000-000000000000', deviceId: 1 },
          { preKeys: [keys.preKey(1)] },
        ),
      ).rejects.toMatchObject({ status: 404, code: ErrorCode.NotFound });
    });
  });

  describe('bundles', () => {
    it('should hand out each one-time key once, then fall back to the last-resort Kyber key', async () => {
      const { body, device } = await ctx.register(2);
      const first = await ctx.preKeys.bundles(device.accountId, null);
      const second = await ctx.preKeys.bundles(device.accountId, null);
      const third = await ctx.preKeys.bundles(device.accountId, null);
      expect(first.identityKey).toBe(body.identityKey);
      expect([first, second].map((b) => b.devices[0]?.preKey?.keyId)).toEqual([1, 2]);
      expect([first, second].map((b) => b.devices[0]?.kyberPreKey.keyId)).toEqual([1, 2]);
      expect(third.devices[0]?.preKey).toBeUndefined();
      expect(third.devices[0]?.kyberPreKey).toEqual(body.kyberLastResortPreKey);
      expect(await ctx.preKeys.status(device)).toEqual({ preKeyCount: 0, kyberPreKeyCount: 0 });
    });

    it('should give one bundle per device, or only the asked device', async () => {
      const { device } = await ctx.register();
      ctx.addDevice(device.accountId, 2, 4242);
      const all = await ctx.preKeys.bundles(device.accountId, null);
      expect(all.devices.map((d) => [d.deviceId, d.registrationId])).toEqual([
        [1, ctx.db.device(device.accountId, 1)?.registrationId],
        [2, 4242],
      ]);
      const one = await ctx.preKeys.bundles(device.accountId, 2);
      expect(one.devices.map((d) => d.deviceId)).toEqual([2]);
    });

    it('should answer 404 for an unknown account or device', async () => {
      const { device } = await ctx.register();
      await expect(ctx.preKeys.bundles(device.accountId, 9)).rejects.toMatchObject({ status: 404 });
      await expect(ctx.preKeys.bundles('00000000-0000-4000-8000-000000000000', null)).rejects.toMatchObject({
        status: 404,
        code: ErrorCode.NotFound,
      });
    });
  });
});
