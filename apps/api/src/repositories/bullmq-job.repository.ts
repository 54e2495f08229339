/**
 * The BullMQ implementation of `JobRepository`: one BullMQ queue per `QueueName` on Redis, workers started on demand
 * (the API process, or the separate worker process). Coalescing is BullMQ deduplication with one follow-up kept while
 * a job runs; backoff is `retryDelay`. It does not own the Redis connections: `RedisRepository` creates and closes
 * them.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';

import { QueueName, type JobName } from '../enum.js';
import { JOB_DEFINITIONS, PermanentJobError, QUEUE_CONCURRENCY, retryDelay, type JobItem } from '../jobs.js';
import { JobRepository, type JobCounts, type JobRepositoryOptions } from './job.repository.js';
import type { RedisRepository } from './redis.repository.js';

const BACKOFF_TYPE = 'cove';

/** Completed jobs are forgotten at once; a bounded number of failed ones stay for inspection. */
const KEEP_FAILED = { count: 1_000, age: 7 * 24 * 3600 };

export class BullJobRepository extends JobRepository {
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];

  constructor(
    private readonly redis: RedisRepository,
    private readonly options: JobRepositoryOptions,
  ) {
    super();
    const connection = redis.connect('queue');
    for (const name of Object.values(QueueName)) {
      const queue = new Queue(name, { connection, prefix: redis.prefix });
      /** Connection errors are retried by ioredis; without a listener they would be printed as unhandled. */
      queue.on('error', () => undefined);
      this.queues.set(name, queue);
    }
  }

  private getQueue(name: QueueName): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`unknown queue ${name}`);
    return queue;
  }

  async startWorkers(): Promise<void> {
    for (const queueName of Object.values(QueueName)) {
      const worker = new Worker(queueName, (job: Job) => this.process(job), {
        connection: this.redis.connect(`worker:${queueName}`),
        prefix: this.redis.prefix,
        concurrency: QUEUE_CONCURRENCY[queueName],
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
            retryDelay(attemptsMade, this.options.retryBaseMs, error),
        },
      });
      worker.on('failed', (job, error) => {
        if (!job) return;
        const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
        this.onFailure(job.name as JobName, error, final);
      });
      /** Connection errors are retried by BullMQ; they are not job failures. */
      worker.on('error', () => undefined);
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  private async process(job: Job): Promise<void> {
    try {
      await this.run(job.name as JobName, job.data);
    } catch (error) {
      if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message);
      throw error;
    }
  }

  async schedule(name: JobName, everyMs: number): Promise<void> {
    const definition = JOB_DEFINITIONS[name];
    await this.getQueue(definition.queue).upsertJobScheduler(
      name,
      { every: everyMs },
      { name, data: {}, opts: { attempts: definition.attempts, removeOnComplete: true, removeOnFail: KEEP_FAILED } },
    );
  }

  async queue(item: JobItem): Promise<void> {
    const definition = JOB_DEFINITIONS[item.name];
    const key = this.coalesceKey(item);
    await this.getQueue(definition.queue).add(item.name, item.data, {
      attempts: definition.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: true,
      removeOnFail: KEEP_FAILED,
      ...(key ? { deduplication: { id: key, keepLastIfActive: true } } : {}),
    });
  }

  async counts(queue: QueueName): Promise<JobCounts> {
    const c = await this.getQueue(queue).getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      failed: c.failed ?? 0,
    };
  }

  /** Test and maintenance helper: removes every job and schedule of every queue. */
  async obliterate(): Promise<void> {
    for (const queue of this.queues.values()) await queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers.length = 0;
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    /** The connections were created by us and BullMQ does not close them: `RedisRepository.close` does. */
  }
}
