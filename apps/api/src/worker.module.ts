/**
 * The Nest module of `npm run worker`: only what background jobs need (database, Redis-backed queues, Web Push,
 * presence) — no HTTP server, no WebSocket, no accounts or keys. Its jobs are the same `@OnJob` handlers the API
 * runs in-process by default.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { DestinationStream } from 'pino';

import { attachmentProviders } from './attachment.providers.js';
import { deliveryProviders } from './delivery.providers.js';
import { Clock, SystemClock } from './repositories/clock.repository.js';
import { ConfigRepository } from './repositories/config.repository.js';
import { DatabaseRepository } from './repositories/database.repository.js';
import { LoggingRepository } from './repositories/logging.repository.js';
import { MetricsRepository } from './repositories/metrics.repository.js';

export type WorkerModuleOptions = { config: ConfigRepository; logDestination?: DestinationStream };

@Module({})
export class WorkerModule {
  static forRoot(options: WorkerModuleOptions): DynamicModule {
    return {
      module: WorkerModule,
      imports: [DiscoveryModule],
      providers: [
        { provide: ConfigRepository, useValue: options.config },
        { provide: Clock, useClass: SystemClock },
        { provide: LoggingRepository, useValue: new LoggingRepository(options.config, options.logDestination) },
        {
          provide: DatabaseRepository,
          useFactory: async (config: ConfigRepository) => {
            const db = DatabaseRepository.create(config);
            await db.init();
            return db;
          },
          inject: [ConfigRepository],
        },
        MetricsRepository,
        ...deliveryProviders({ role: 'worker' }),
        ...attachmentProviders(),
      ],
    };
  }
}
