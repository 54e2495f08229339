/**
 * The providers of offline delivery, shared by the API module and the worker module: Redis-backed job queue, bus
 * and presence when `REDIS_URL` is set, their in-process twins otherwise; Web Push with its VAPID keys; and the
 * push, retention and job services. Each infrastructure choice is made here once, from the validated config.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:https';
import { hostname } from 'node:os';

import type { OnApplicationShutdown, Provider } from '@nestjs/common';

import { BusRepository, InProcessBusRepository, RedisBusRepository } from './repositories/bus.repository.js';
import { ConfigRepository } from './repositories/config.repository.js';
import { DeliveryMetricsRepository } from './repositories/delivery-metrics.repository.js';
import { BullJobRepository } from './repositories/bullmq-job.repository.js';
import { InProcessJobRepository } from './repositories/in-process-job.repository.js';
import { JobRepository } from './repositories/job.repository.js';
import { MailboxRepository } from './repositories/mailbox.repository.js';
import {
  InProcessPresenceRepository,
  PresenceRepository,
  RedisPresenceRepository,
} from './repositories/presence.repository.js';
import { PushSubscriptionRepository } from './repositories/push-subscription.repository.js';
import { RedisRepository } from './repositories/redis.repository.js';
import { RetentionSettingsRepository } from './repositories/retention-settings.repository.js';
import { WebPushRepository } from './repositories/web-push.repository.js';
import { JobService, PROCESS_ROLE, type ProcessRole } from './services/job.service.js';
import { PushService } from './services/push.service.js';
import { RetentionService } from './services/retention.service.js';

/** This process's name on the bus and in presence. */
export const INSTANCE_ID = Symbol('INSTANCE_ID');
/** The Redis connections, or null in the embedded mode. */
export const REDIS = Symbol('REDIS');

export type DeliveryOptions = {
  role: ProcessRole;
  /** HTTPS agent for push requests (tests: trusting a local push service's self-signed certificate). */
  pushAgent?: Agent | undefined;
};

/** Closes the Redis connections and push-service connections last, after every module has stopped using them. */
class ConnectionLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly redis: RedisRepository | null,
    private readonly webPush: WebPushRepository,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.webPush.close();
    await this.redis?.close();
  }
}

/** Presence: an instance missing two heartbeats is dead; device keys outlive many heartbeats but expire eventually. */
const DEVICE_PRESENCE_TTL_MS = 10 * 60_000;

export function deliveryProviders(options: DeliveryOptions): Provider[] {
  return [
    { provide: PROCESS_ROLE, useValue: options.role },
    {
      provide: INSTANCE_ID,
      useFactory: (config: ConfigRepository) =>
        config.config.delivery.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`,
      inject: [ConfigRepository],
    },
    {
      provide: REDIS,
      useFactory: (config: ConfigRepository) =>
        config.config.redisUrl
          ? new RedisRepository({ url: config.config.redisUrl, prefix: config.config.delivery.redisPrefix })
          : null,
      inject: [ConfigRepository],
    },
    {
      provide: ConnectionLifecycle,
      useFactory: (redis: RedisRepository | null, webPush: WebPushRepository) =>
        new ConnectionLifecycle(redis, webPush),
      inject: [REDIS, WebPushRepository],
    },
    {
      provide: JobRepository,
      useFactory: (config: ConfigRepository, redis: RedisRepository | null) => {
        const retryBaseMs = config.config.delivery.pushRetryDelayMs;
        return redis ? new BullJobRepository(redis, { retryBaseMs }) : new InProcessJobRepository({ retryBaseMs });
      },
      inject: [ConfigRepository, REDIS],
    },
    {
      provide: BusRepository,
      useFactory: (id: string, redis: RedisRepository | null) =>
        redis ? new RedisBusRepository(id, redis) : new InProcessBusRepository(id),
      inject: [INSTANCE_ID, REDIS],
    },
    {
      provide: PresenceRepository,
      useFactory: (id: string, config: ConfigRepository, redis: RedisRepository | null) =>
        redis
          ? new RedisPresenceRepository(id, redis, {
              instanceTtlMs: config.config.delivery.presenceTtlMs,
              deviceTtlMs: Math.max(DEVICE_PRESENCE_TTL_MS, config.config.delivery.presenceTtlMs * 3),
            })
          : new InProcessPresenceRepository(id),
      inject: [INSTANCE_ID, ConfigRepository, REDIS],
    },
    {
      provide: WebPushRepository,
      useFactory: async (config: ConfigRepository) => {
        const push = new WebPushRepository({
          dataDir: config.config.dataDir,
          subject: config.config.delivery.vapid.subject,
          keys: config.config.delivery.vapid.keys,
          timeoutMs: config.config.delivery.pushTimeoutMs,
          agent: options.pushAgent,
        });
        await push.init();
        return push;
      },
      inject: [ConfigRepository],
    },
    DeliveryMetricsRepository,
    PushSubscriptionRepository,
    MailboxRepository,
    RetentionSettingsRepository,
    PushService,
    RetentionService,
    JobService,
  ];
}
