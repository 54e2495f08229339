/**
 * Background jobs behind one interface with two implementations: BullMQ on Redis when `REDIS_URL` is set (jobs
 * survive restarts and may run in a separate worker process), and an in-process queue otherwise (the embedded
 * default: same coalescing, retry and schedule semantics, but pending jobs live only as long as the process).
 *
 * Semantics shared by both: a job with a coalescing key is dropped while another job with that key waits or is
 * backing off; when one with that key is running, exactly one follow-up is kept and runs after it, so nothing that
 * arrives during a run is missed. Failures retry with exponential backoff (`retryDelay`) up to the job's attempts;
 * `PermanentJobError` stops at once. This module knows no handler: `JobService` installs the dispatcher.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';

import { QueueName, type JobName } from '../enum.js';
import { JOB_DEFINITIONS, PermanentJobError, QUEUE_CONCURRENCY, retryDelay, type JobItem } from '../jobs.js';
import type { RedisRepository } from './redis.repository.js';

export type JobDispatcher = (name: JobName, data: unknown) => Promise<void>;
export type JobFailureListener = (name: JobName, error: unknown, final: boolean) => void;
export type JobCounts = { waiting: number; active: number; delayed: number; failed: number };
export type JobRepositoryOptions = { retryBaseMs: number };

export abstract class JobRepository {
  protected dispatch: JobDispatcher | undefined;
  protected onFailure: JobFailureListener = () => undefined;

  /** Installs the function that runs a job by name; required before `startWorkers`. */
  setDispatcher(dispatch: JobDispatcher, onFailure?: JobFailureListener): void {
    this.dispatch = dispatch;
    if (onFailure) this.onFailure = onFailure;
  }

  /** Starts consuming every queue in this process. */
  abstract startWorkers(): Promise<void>;
  /** Runs `name` every `everyMs` (idempotent: one schedule per name across all instances). */
  abstract schedule(name: JobName, everyMs: number): Promise<void>;
  abstract queue(item: JobItem): Promise<void>;
  abstract counts(queue: QueueName): Promise<JobCounts>;
  abstract close(): Promise<void>;

  queueAll(items: JobItem[]): Promise<void[]> {
    return Promise.all(items.map((item) => this.queue(item)));
  }

  protected async run(name: JobName, data: unknown): Promise<void> {
    if (!this.dispatch) throw new Error('job dispatcher not installed');
    await this.dispatch(name, data);
  }
}

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
    const key = (definition.coalesceKey as ((data: unknown) => string) | undefined)?.(item.data);
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

type Entry = {
  name: JobName;
  data: unknown;
  key: string | undefined;
  attempt: number;
  state: 'waiting' | 'delayed' | 'active';
  /** Data of one follow-up job that arrived while this one was running. */
  again?: unknown;
};

export class InProcessJobRepository extends JobRepository {
  private readonly pending = new Map<QueueName, Entry[]>();
  private readonly running = new Map<QueueName, number>();
  private readonly byKey = new Map<string, Entry>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly active = new Set<Promise<void>>();
  private failedCount = 0;
  private started = false;
  private closed = false;

  constructor(private readonly options: JobRepositoryOptions) {
    super();
    for (const name of Object.values(QueueName)) {
      this.pending.set(name, []);
      this.running.set(name, 0);
    }
  }

  startWorkers(): Promise<void> {
    this.started = true;
    for (const name of Object.values(QueueName)) this.pump(name);
    return Promise.resolve();
  }

  schedule(name: JobName, everyMs: number): Promise<void> {
    const timer = setInterval(() => void this.queue({ name, data: {} } as JobItem), everyMs);
    this.timers.add(timer);
    return Promise.resolve();
  }

  queue(item: JobItem): Promise<void> {
    if (this.closed) return Promise.resolve();
    const definition = JOB_DEFINITIONS[item.name];
    const key = (definition.coalesceKey as ((data: unknown) => string) | undefined)?.(item.data);
    if (key !== undefined) {
      const existing = this.byKey.get(key);
      if (existing?.state === 'active') existing.again = item.data;
      if (existing) return Promise.resolve();
    }
    const entry: Entry = { name: item.name, data: item.data, key, attempt: 0, state: 'waiting' };
    if (key !== undefined) this.byKey.set(key, entry);
    this.enqueue(entry);
    return Promise.resolve();
  }

  private enqueue(entry: Entry): void {
    entry.state = 'waiting';
    const queue = JOB_DEFINITIONS[entry.name].queue;
    this.pending.get(queue)?.push(entry);
    this.pump(queue);
  }

  private pump(queue: QueueName): void {
    if (!this.started || this.closed) return;
    const waiting = this.pending.get(queue) ?? [];
    while (waiting.length > 0 && (this.running.get(queue) ?? 0) < QUEUE_CONCURRENCY[queue]) {
      const entry = waiting.shift();
      if (!entry) break;
      this.running.set(queue, (this.running.get(queue) ?? 0) + 1);
      const task = this.execute(entry).finally(() => {
        this.active.delete(task);
        this.running.set(queue, (this.running.get(queue) ?? 1) - 1);
        this.pump(queue);
      });
      this.active.add(task);
    }
  }

  private async execute(entry: Entry): Promise<void> {
    entry.state = 'active';
    entry.attempt += 1;
    const attempts = JOB_DEFINITIONS[entry.name].attempts;
    try {
      await this.run(entry.name, entry.data);
    } catch (error) {
      const final = error instanceof PermanentJobError || entry.attempt >= attempts || this.closed;
      this.onFailure(entry.name, error, final);
      if (!final) {
        entry.state = 'delayed';
        const timer = setTimeout(
          () => {
            this.timers.delete(timer);
            this.enqueue(entry);
          },
          retryDelay(entry.attempt, this.options.retryBaseMs, error),
        );
        this.timers.add(timer);
        return;
      }
      this.failedCount += 1;
    }
    this.finish(entry);
  }

  private finish(entry: Entry): void {
    if (entry.key !== undefined && this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key);
    if (entry.again !== undefined) void this.queue({ name: entry.name, data: entry.again } as JobItem);
  }

  counts(queue: QueueName): Promise<JobCounts> {
    let delayed = 0;
    for (const entry of this.byKey.values()) {
      if (entry.state === 'delayed' && JOB_DEFINITIONS[entry.name].queue === queue) delayed += 1;
    }
    return Promise.resolve({
      waiting: this.pending.get(queue)?.length ?? 0,
      active: this.running.get(queue) ?? 0,
      delayed,
      failed: this.failedCount,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this.timers.clear();
    await Promise.allSettled([...this.active]);
  }
}
