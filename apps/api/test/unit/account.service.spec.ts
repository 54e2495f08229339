/**
 * `AccountService` rules over in-memory repositories: registration (keys checked before anything is stored, open or
 * by invite code), usernames unique without regard to case, and lookups. Storage and SQL are the medium tier's.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cove/protocol';

import { AccountService } from '../../src/services/account.service.js';
import { TestKeys } from './support/test-keys.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

describe(AccountService.name, () => {
  let ctx: UnitContext;

  beforeEach(async () => {
    ctx = await newUnitContext();
  });
  afterEach(async () => {
    await ctx.close();
  });

  describe('create', () => {
    it('should store the account, device 1 with its hashed credential, and its one-time keys', async () => {
      const { body, device } = await ctx.register(3);
      expect(device.deviceId).toBe(1);
      const stored = ctx.db.device(device.accountId, 1);
      expect(stored?.registrationId).toBe(body.registrationId);
      expect(Buffer.from(stored?.credentialHash ?? [])).toEqual(
        Buffer.from(ctx.crypto.hash(Buffer.from(body.secret, 'base64'))),
      );
      expect(Buffer.from(stored?.credentialHash ?? []).toString('base64')).not.toBe(body.secret);
      expect(await ctx.preKeys.status(device)).toEqual({ preKeyCount: 3, kyberPreKeyCount: 3 });
    });

    it('should refuse a malformed identity key and store nothing', async () => {
      const body = new TestKeys().registration(0, { identityKey: Buffer.alloc(33, 7).toString('base64') });
      await expect(ctx.accounts.create(body)).rejects.toMatchObject({ status: 400, code: ErrorCode.InvalidKey });
      expect(ctx.db.accounts.size).toBe(0);
    });

    it('should refuse a signed prekey signed by another identity and store nothing', async () => {
      const body = new TestKeys().registration(0, { signedPreKey: new TestKeys().signedPreKey(1) });
      await expect(ctx.accounts.create(body)).rejects.toMatchObject({
        status: 400,
        code: ErrorCode.InvalidSignature,
      });
      expect(ctx.db.accounts.size).toBe(0);
    });

    it('should refuse one-time keys that repeat a key id', async () => {
      const keys = new TestKeys();
      const body = keys.registration(0, { preKeys: [keys.preKey(5), keys.preKey(5)] });
      await expect(ctx.accounts.create(body)).rejects.toMatchObject({ status: 400, code: ErrorCode.InvalidRequest });
    });

    it('should refuse a username another account holds in any case', async () => {
      await ctx.register(0, { username: 'Alice.01' });
      const body = new TestKeys().registration(0, { username: 'alice.01' });
      await expect(ctx.accounts.create(body)).rejects.toMatchObject({ status: 409, code: ErrorCode.UsernameTaken });
      expect(ctx.db.accounts.size).toBe(1);
    });
  });

  describe('with REGISTRATION=invite', () => {
    beforeEach(async () => {
      await ctx.close();
      ctx = await newUnitContext({ REGISTRATION: 'invite', INVITE_CODES: 'first-code,second-code' });
    });

    it('should refuse a registration without a code or with a wrong one', async () => {
      const keys = new TestKeys();
      await expect(ctx.accounts.create(keys.registration())).rejects.toMatchObject({
        status: 403,
        code: ErrorCode.InviteRequired,
      });
      await expect(ctx.accounts.create(keys.registration(0, { inviteCode: 'second-cod' }))).rejects.toMatchObject({
        status: 403,
        code: ErrorCode.InviteRequired,
      });
      expect(ctx.db.accounts.size).toBe(0);
    });

    it('should accept any of the configured codes', async () => {
      await ctx.accounts.create(new TestKeys().registration(0, { inviteCode: 'first-code' }));
      await ctx.accounts.create(new TestKeys().registration(0, { inviteCode: 'second-code' }));
      expect(ctx.db.accounts.size).toBe(2);
    });
  });

  describe('usernames', () => {
    it('should set, look up case-insensitively and delete a username', async () => {
      const { device } = await ctx.register();
      expect(await ctx.accounts.setUsername(device, 'Bob_7')).toEqual({ username: 'Bob_7' });
      // The lookup answers with the owner's spelling whatever case was asked: clients show that one.
      expect(await ctx.accounts.lookup('bob_7')).toEqual({ accountId: device.accountId, username: 'Bob_7' });
      expect(await ctx.accounts.lookup('BOB_7')).toEqual({ accountId: device.accountId, username: 'Bob_7' });
      await ctx.accounts.deleteUsername(device);
      await expect(ctx.accounts.lookup('bob_7')).rejects.toMatchObject({ status: 404, code: ErrorCode.NotFound });
    });

    it('should refuse a username held by another account but let the holder set it again', async () => {
      const alice = await ctx.register(0, { username: 'alice' });
      const bob = await ctx.register();
      await expect(ctx.accounts.setUsername(bob.device, 'ALICE')).rejects.toMatchObject({
        status: 409,
        code: ErrorCode.UsernameTaken,
      });
      expect(await ctx.accounts.setUsername(alice.device, 'ALICE')).toEqual({ username: 'ALICE' });
    });
  });
});
