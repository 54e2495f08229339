/**
 * Builds the services of the small tier by hand, the way Nest would, over in-memory twins of the database
 * repositories, a fixed clock and recording fakes; configuration, crypto (libsodium), rate-limit counters, metrics
 * and presence are the real in-process classes, since none of them needs a server. One context is one fresh
 * world: nothing is shared between specs.
 */
import type { AccountRepository } from '../../../src/repositories/account.repository.js';
import { ConfigRepository } from '../../../src/repositories/config.repository.js';
import { CryptoRepository } from '../../../src/repositories/crypto.repository.js';
import type { DatabaseRepository } from '../../../src/repositories/database.repository.js';
import { DeliveryMetricsRepository } from '../../../src/repositories/delivery-metrics.repository.js';
import type { DeviceRepository } from '../../../src/repositories/device.repository.js';
import type { EnvelopeRepository } from '../../../src/repositories/envelope.repository.js';
import { InProcessJobRepository } from '../../../src/repositories/in-process-job.repository.js';
import { LoggingRepository } from '../../../src/repositories/logging.repository.js';
import type { MailboxRepository } from '../../../src/repositories/mailbox.repository.js';
import { MetricsRepository } from '../../../src/repositories/metrics.repository.js';
import type { PreKeyRepository } from '../../../src/repositories/prekey.repository.js';
import { InProcessPresenceRepository } from '../../../src/repositories/presence.repository.js';
import type { PushSubscriptionRepository } from '../../../src/repositories/push-subscription.repository.js';
import { RateLimitRepository } from '../../../src/repositories/rate-limit.repository.js';
import type { WebPushRepository } from '../../../src/repositories/web-push.repository.js';
import type { SsoService } from '../../../src/services/sso.service.js';
import { AccountService } from '../../../src/services/account.service.js';
import type { CertificateService } from '../../../src/services/certificate.service.js';
import type { AuthenticatedDevice } from '../../../src/services/auth.service.js';
import type { DeliveryService } from '../../../src/services/delivery.service.js';
import { MessageService } from '../../../src/services/message.service.js';
import type { OrganizationService } from '../../../src/services/organization.service.js';
import { PreKeyService } from '../../../src/services/prekey.service.js';
import { PushService } from '../../../src/services/push.service.js';
import { SystemService } from '../../../src/services/system.service.js';
import { RecordingDelivery, ScriptedWebPush } from './fakes.js';
import { FixedClock } from './fixed-clock.js';
import {
  InMemoryAccountRepository,
  InMemoryDatabase,
  InMemoryDeviceRepository,
  InMemoryEnvelopeRepository,
  InMemoryMailboxRepository,
  InMemoryPreKeyRepository,
  InMemoryPushSubscriptionRepository,
  type DeviceReads,
} from './in-memory-database.js';
import { TestKeys } from './test-keys.js';
import { partialTwin, twin } from './twins.js';

/** The environment of every context: quiet logs and no rate limits unless a spec turns them on. */
const BASE_ENV = { LOG_LEVEL: 'silent', RATE_LIMITS: 'off' };

export type UnitContext = Awaited<ReturnType<typeof newUnitContext>>;

export async function newUnitContext(env: Record<string, string> = {}) {
  const config = ConfigRepository.fromEnv({ ...BASE_ENV, ...env });
  const clock = new FixedClock();
  const db = new InMemoryDatabase(() => clock.now());
  const crypto = new CryptoRepository();
  await crypto.init();
  const metrics = new MetricsRepository();
  const deliveryMetrics = new DeliveryMetricsRepository(metrics);
  const logger = new LoggingRepository(config);
  const accounts = twin<AccountRepository>(new InMemoryAccountRepository(db));
  const preKeyRepository = twin<PreKeyRepository>(new InMemoryPreKeyRepository(db));
  const devices = partialTwin<DeviceRepository, DeviceReads>(new InMemoryDeviceRepository(db, () => clock.now()));
  const envelopes = new InMemoryEnvelopeRepository(db);
  const subscriptions = new InMemoryPushSubscriptionRepository(db);
  const presence = new InProcessPresenceRepository('unit');
  const jobs = new InProcessJobRepository({ retryBaseMs: 10 });
  const delivery = new RecordingDelivery();
  const webPush = new ScriptedWebPush();
  let reachable = true;
  const database = partialTwin<DatabaseRepository, 'isReachable'>({ isReachable: () => Promise.resolve(reachable) });

  const preKeys = new PreKeyService(crypto, preKeyRepository, devices, accounts, metrics);
  /** No organization in this tier: nobody is an admin, no invite exists, no account is disabled. */
  const organization = partialTwin<
    OrganizationService,
    'usernameDisabled' | 'redeemInvite' | 'returnInvite' | 'registered' | 'maySendNotices'
  >({
    usernameDisabled: () => Promise.resolve(false),
    redeemInvite: () => Promise.resolve(null),
    returnInvite: () => Promise.resolve(),
    registered: () => Promise.resolve(),
    maySendNotices: () => Promise.resolve(false),
  });
  const system = new SystemService(
    config,
    database,
    partialTwin<CertificateService, 'trustRootPublicKey'>({ trustRootPublicKey: () => undefined }),
  );
  const services = {
    preKeys,
    system,
    // Registration by single sign-on is tested against a real provider (test/sso); unit contexts register openly.
    accounts: new AccountService(accounts, preKeys, crypto, config, organization, partialTwin<SsoService, never>({})),
    messages: new MessageService(
      config,
      new RateLimitRepository(config),
      twin<EnvelopeRepository>(envelopes),
      devices,
      accounts,
      partialTwin<DeliveryService, 'deliver' | 'deliverShared' | 'seen'>(delivery),
      crypto,
      metrics,
      clock,
      organization,
    ),
    push: new PushService(
      config,
      twin<PushSubscriptionRepository>(subscriptions),
      twin<MailboxRepository>(new InMemoryMailboxRepository(db)),
      presence,
      partialTwin<WebPushRepository, 'send' | 'publicKey'>(webPush),
      jobs,
      deliveryMetrics,
      logger,
      clock,
      system,
    ),
  };

  /** Registers an account through the account service with fresh keys; returns its primary device. */
  const register = async (preKeyCount = 0, extra: { username?: string } = {}) => {
    const keys = new TestKeys();
    const body = keys.registration(preKeyCount, extra);
    const { accountId, deviceId } = await services.accounts.create(body);
    const device: AuthenticatedDevice = { accountId, deviceId };
    return { keys, body, device };
  };

  return {
    config,
    clock,
    db,
    crypto,
    metrics,
    jobs,
    presence,
    envelopes,
    delivery,
    webPush,
    ...services,
    register,
    setDatabaseReachable(value: boolean) {
      reachable = value;
    },
    /** Adds a device to an account directly (device linking is the device service's business, not these specs'). */
    addDevice(accountId: string, deviceId: number, registrationId: number) {
      const primary = db.device(accountId, 1);
      if (!primary) throw new Error('no such account');
      db.addDevice({ ...primary, deviceId, registrationId });
      const added: AuthenticatedDevice = { accountId, deviceId };
      return added;
    },
    async close() {
      await services.messages.onModuleDestroy();
      await jobs.close();
    },
  };
}
