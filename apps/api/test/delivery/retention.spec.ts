/**
 * Retention through the scheduled jobs, on BullMQ and on the in-process queue: envelopes older than ENVELOPE_TTL
 * are purged and younger ones kept; devices idle past IDLE_DEVICE_AFTER show in the metrics and are not deleted.
 * Also: the server refuses to start unless every job has exactly one handler.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule, NestFactory } from '@nestjs/core';

import { OnJob } from '../../src/decorators.js';
import { JobName } from '../../src/enum.js';
import { ConfigRepository } from '../../src/repositories/config.repository.js';
import { DeliveryMetricsRepository } from '../../src/repositories/delivery-metrics.repository.js';
import { InProcessJobRepository } from '../../src/repositories/in-process-job.repository.js';
import { JobRepository } from '../../src/repositories/job.repository.js';
import { LoggingRepository } from '../../src/repositories/logging.repository.js';
import { MetricsRepository } from '../../src/repositories/metrics.repository.js';
import { JobService, PROCESS_ROLE } from '../../src/services/job.service.js';
import { Cluster, REDIS_URL, type Instance } from '../support/cluster.js';
import { messagesFor, register, scrapeMetrics } from '../support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOUR = 3_600_000;

describe.each([
  { mode: 'redis', redisUrl: REDIS_URL },
  { mode: 'in-process', redisUrl: null },
])('retention ($mode)', ({ redisUrl }) => {
  let cluster: Cluster;
  let server: Instance;

  beforeAll(async () => {
    cluster = await Cluster.create({
      redisUrl,
      env: { ENVELOPE_TTL: '24h', RETENTION_INTERVAL: '300ms', IDLE_DEVICE_AFTER: '30d' },
    });
    server = await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster.close();
  });

  it('should purge only envelopes older than ENVELOPE_TTL and report idle devices without deleting them', async () => {
    const sender = await register(server);
    const recipient = await register(server);
    for (let i = 0; i < 6; i++) {
      expect(
        (await sender.request('PUT', `/v1/messages/${recipient.accountId}`, messagesFor([recipient]))).status,
      ).toBe(200);
    }
    const rows = await server.query<{ guid: string }>(
      'SELECT guid FROM envelopes WHERE account_id = $1::uuid ORDER BY id',
      [recipient.accountId],
    );
    expect(rows).toHaveLength(6);
    const ages = [25 * HOUR, 24 * HOUR + 60_000, 48 * HOUR, 23 * HOUR, 0, 0];
    for (const [i, row] of rows.entries()) {
      await server.query('UPDATE envelopes SET server_timestamp = $1::bigint WHERE guid = $2::uuid', [
        Date.now() - (ages[i] ?? 0),
        row.guid,
      ]);
    }
    await server.query("UPDATE devices SET last_seen_at = now() - interval '40 days' WHERE account_id = $1::uuid", [
      recipient.accountId,
    ]);

    const deadline = Date.now() + 15_000;
    let left: Array<{ guid: string }> = rows;
    while (left.length > 3 && Date.now() < deadline) {
      await sleep(100);
      left = await server.query('SELECT guid FROM envelopes WHERE account_id = $1::uuid ORDER BY id', [
        recipient.accountId,
      ]);
    }
    expect(left.map((r) => r.guid)).toEqual([rows[3]?.guid, rows[4]?.guid, rows[5]?.guid]);

    let metrics = '';
    while (Date.now() < deadline && !/^cove_idle_devices 1$/m.test(metrics)) {
      await sleep(100);
      metrics = await scrapeMetrics(server);
    }
    expect(metrics).toMatch(/^cove_idle_devices 1$/m);
    expect(metrics).toMatch(/^cove_idle_device_envelopes 3$/m);
    expect(metrics).toMatch(/^cove_envelopes_expired_total 3$/m);
    const devices = await server.query('SELECT 1 FROM devices WHERE account_id = $1::uuid', [recipient.accountId]);
    expect(devices).toHaveLength(1);
  }, 60_000);
});

describe(JobService.name, () => {
  @Injectable()
  class PushHandlers {
    @OnJob(JobName.PushDevice)
    push(): Promise<void> {
      return Promise.resolve();
    }
  }

  @Injectable()
  class OtherPushHandlers {
    @OnJob(JobName.PushDevice)
    pushToo(): Promise<void> {
      return Promise.resolve();
    }
  }

  @Injectable()
  class Maintenance {
    readonly ran: JobName[] = [];

    @OnJob(JobName.PushSweep)
    sweep(): Promise<void> {
      this.ran.push(JobName.PushSweep);
      return Promise.resolve();
    }

    @OnJob(JobName.PurgeExpiredEnvelopes)
    purge(): Promise<void> {
      this.ran.push(JobName.PurgeExpiredEnvelopes);
      return Promise.resolve();
    }

    @OnJob(JobName.ReportIdleDevices)
    idle(): Promise<void> {
      return Promise.resolve();
    }

    @OnJob(JobName.PurgeAttachments)
    purgeAttachments(): Promise<void> {
      return Promise.resolve();
    }
  }

  const boot = async (handlers: Array<new (...args: never[]) => unknown>) => {
    const config = ConfigRepository.fromEnv({
      LOG_LEVEL: 'silent',
      RETENTION_INTERVAL: '1h',
      PUSH_SWEEP_INTERVAL: '1h',
    });
    @Module({
      imports: [DiscoveryModule],
      providers: [
        { provide: ConfigRepository, useValue: config },
        { provide: LoggingRepository, useValue: new LoggingRepository(config) },
        { provide: JobRepository, useValue: new InProcessJobRepository({ retryBaseMs: 10 }) },
        { provide: PROCESS_ROLE, useValue: 'api' },
        MetricsRepository,
        DeliveryMetricsRepository,
        JobService,
        ...handlers,
      ],
    })
    class TestModule {}
    const app = await NestFactory.createApplicationContext(TestModule, { logger: false, abortOnError: false });
    try {
      await app.init();
    } catch (error) {
      await app.close().catch(() => undefined);
      throw error;
    }
    return app;
  };

  it('should refuse to start when a job has no handler', async () => {
    await expect(boot([PushHandlers])).rejects.toThrow(/job "purge-expired-envelopes" has no @OnJob handler/);
  });

  it('should refuse to start when a job has several handlers', async () => {
    await expect(boot([PushHandlers, OtherPushHandlers, Maintenance])).rejects.toThrow(
      /job "push-device" has several handlers: PushHandlers.push, OtherPushHandlers.pushToo/,
    );
  });

  it('should start and dispatch each job to its one handler', async () => {
    const app = await boot([PushHandlers, Maintenance]);
    try {
      await app.get(JobRepository).queue({ name: JobName.PurgeExpiredEnvelopes, data: {} });
      const maintenance = app.get(Maintenance);
      const deadline = Date.now() + 5_000;
      while (maintenance.ran.length === 0 && Date.now() < deadline) await sleep(10);
      expect(maintenance.ran).toEqual([JobName.PurgeExpiredEnvelopes]);
    } finally {
      await app.close();
    }
  });
});
