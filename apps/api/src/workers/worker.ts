/**
 * Entry point of `npm run worker`: runs the background jobs (Web Push wake-ups, push sweep, retention) in their own
 * process, sharing the API's PostgreSQL and Redis. Needs `REDIS_URL` (without it, jobs live inside the API process).
 * Run the API with `WORKERS_IN_API=false` to leave all jobs to such workers; several workers may run at once.
 */
import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';

import { ConfigRepository } from '../repositories/config.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { WorkerModule } from '../worker.module.js';

async function main(): Promise<void> {
  const config = ConfigRepository.fromEnv();
  if (!config.config.redisUrl) throw new Error('the worker needs REDIS_URL (the embedded queue lives in the API)');
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot({ config }), {
    logger: false,
    abortOnError: false,
  });
  app.useLogger(app.get(LoggingRepository));
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  await app.init();
  app.get(LoggingRepository).info('worker started', { database: config.config.database.kind });
  process.stdout.write('Cove worker running\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`Cove worker failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
