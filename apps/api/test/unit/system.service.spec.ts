/**
 * `SystemService`: the server information clients read before registering (name, registration mode, the protocol
 * limits, the VAPID key once push is set up), readiness from the database, and the OpenAPI document. No user data.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MAX_DEVICES_PER_ACCOUNT, MAX_ENVELOPE_CONTENT_BYTES, MAX_STORED_PREKEYS } from '@cove/protocol';

import type { DatabaseRepository } from '../../src/repositories/database.repository.js';
import { parseConfig } from '../../src/repositories/config.repository.js';
import { SystemService } from '../../src/services/system.service.js';
import type { CertificateService } from '../../src/services/certificate.service.js';
import { partialTwin } from './support/twins.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

describe(SystemService.name, () => {
  let ctx: UnitContext;

  beforeEach(async () => {
    ctx = await newUnitContext({ SERVER_NAME: 'Cove Test', REGISTRATION: 'invite', INVITE_CODES: 'x' });
  });
  afterEach(async () => {
    await ctx.close();
  });

  it('should describe the server and its limits', () => {
    const info = ctx.system.info();
    expect(info).toMatchObject({ name: 'Cove Test', registration: 'invite', version: ctx.config.config.version });
    expect(info.limits).toMatchObject({
      maxDevicesPerAccount: MAX_DEVICES_PER_ACCOUNT,
      maxEnvelopeContentBytes: MAX_ENVELOPE_CONTENT_BYTES,
      maxStoredPreKeys: MAX_STORED_PREKEYS,
    });
    expect(JSON.stringify(info)).not.toContain('"x"');
    // Membership is closed (invites): the directory is on unless turned off.
    expect(info.directory).toBe(true);
  });

  it('should keep the directory off on an open server unless ORG_DIRECTORY turns it on, and on for closed ones', () => {
    const directory = (env: Record<string, string>): boolean => parseConfig(env).directory;
    expect(directory({})).toBe(false);
    expect(directory({ REGISTRATION: 'open', ORG_DIRECTORY: 'on' })).toBe(true);
    expect(directory({ REGISTRATION: 'invite' })).toBe(true);
    expect(directory({ REGISTRATION: 'invite', ORG_DIRECTORY: 'off' })).toBe(false);
    expect(() => parseConfig({ ORG_DIRECTORY: 'yes' })).toThrow();
  });

  it('should publish the VAPID key once the push layer has registered it', () => {
    const database = partialTwin<DatabaseRepository, 'isReachable'>({ isReachable: () => Promise.resolve(true) });
    const bare = new SystemService(
      ctx.config,
      database,
      partialTwin<CertificateService, 'trustRootPublicKey'>({ trustRootPublicKey: () => undefined }),
    );
    expect(bare.info().vapidPublicKey).toBeNull();
    ctx.push.onModuleInit();
    expect(ctx.system.info().vapidPublicKey).toBe(ctx.webPush.publicKey);
  });

  it('should be ready exactly when the database is reachable', async () => {
    expect(await ctx.system.ready()).toBe(true);
    ctx.setDatabaseReachable(false);
    expect(await ctx.system.ready()).toBe(false);
  });

  it('should build the OpenAPI document once, for this version', () => {
    const document = ctx.system.openapi();
    expect(document).toMatchObject({ info: { version: ctx.config.config.version } });
    expect(ctx.system.openapi()).toBe(document);
  });
});
