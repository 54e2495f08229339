/**
 * Wires background jobs at start: finds every `@OnJob` method among the providers, refuses to start unless each
 * `JobName` has exactly one handler, installs the dispatcher, and — in the process that runs workers (the API by
 * default, or `npm run worker`) — starts consuming and schedules the repeatable jobs. It runs no job itself.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

import { ON_JOB_METADATA } from '../decorators.js';
import { JobName } from '../enum.js';
import { JOB_DEFINITIONS, type JobHandler } from '../jobs.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { DeliveryMetricsRepository } from '../repositories/delivery-metrics.repository.js';
import { JobRepository } from '../repositories/job.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';

/** Which entry point this process is: the API (workers optional) or the dedicated worker. */
export const PROCESS_ROLE = Symbol('PROCESS_ROLE');
export type ProcessRole = 'api' | 'worker';

export class JobSetupError extends Error {
  override readonly name = 'JobSetupError';
}

@Injectable()
export class JobService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly handlers = new Map<JobName, JobHandler>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly jobs: JobRepository,
    private readonly config: ConfigRepository,
    private readonly metrics: DeliveryMetricsRepository,
    private readonly logger: LoggingRepository,
    @Inject(PROCESS_ROLE) private readonly role: ProcessRole,
  ) {}

  get runsWorkers(): boolean {
    return this.role === 'worker' || this.config.config.delivery.workersInApi;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.collectHandlers();
    this.jobs.setDispatcher(
      (name, data) => this.dispatch(name, data),
      (name, error, final) => {
        this.metrics.jobFailures.inc({ job: name, final: String(final) });
        if (final)
          this.logger.warn('job failed', { job: name, reason: error instanceof Error ? error.name : 'unknown' });
      },
    );
    if (!this.runsWorkers) return;
    await this.jobs.startWorkers();
    const d = this.config.config.delivery;
    const every: Record<NonNullable<(typeof JOB_DEFINITIONS)[JobName]['repeat']>, number> = {
      retention: d.retentionIntervalMs,
      pushSweep: d.pushSweepIntervalMs,
    };
    for (const name of Object.values(JobName)) {
      const repeat = JOB_DEFINITIONS[name].repeat;
      if (repeat) await this.jobs.schedule(name, every[repeat]);
    }
  }

  /** Exactly one handler per job name, or the server does not start. */
  private collectHandlers(): void {
    const found = new Map<JobName, string[]>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | null | undefined;
      if (!instance || typeof instance !== 'object' || wrapper.isAlias) continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const name = this.reflector.get<JobName | undefined>(ON_JOB_METADATA, fn);
        if (!name) continue;
        const owners = found.get(name) ?? [];
        owners.push(`${instance.constructor.name}.${method}`);
        found.set(name, owners);
        this.handlers.set(name, (data) => (fn as (d: unknown) => Promise<void>).call(instance, data));
      }
    }
    const problems: string[] = [];
    for (const name of Object.values(JobName)) {
      const owners = found.get(name) ?? [];
      if (owners.length === 0) problems.push(`job "${name}" has no @OnJob handler`);
      if (owners.length > 1) problems.push(`job "${name}" has several handlers: ${owners.join(', ')}`);
    }
    for (const name of found.keys()) {
      if (!Object.values(JobName).includes(name)) problems.push(`@OnJob names an undeclared job "${String(name)}"`);
    }
    if (problems.length) throw new JobSetupError(problems.join('; '));
  }

  private async dispatch(name: JobName, data: unknown): Promise<void> {
    const handler = this.handlers.get(name);
    if (!handler) throw new JobSetupError(`no handler for job "${name}"`);
    await handler(data as never);
  }

  async onModuleDestroy(): Promise<void> {
    await this.jobs.close();
  }
}
