/**
 * The in-process implementation of `JobRepository`, for the embedded mode without Redis: per-queue FIFO lists run
 * with each queue's concurrency, coalescing by key (one follow-up kept while a job runs), retries on timers with
 * `retryDelay`, schedules on intervals. Pending jobs live only as long as the process; nothing is shared between
 * instances.
 */
import { QueueName, type JobName } from '../enum.js';
import { JOB_DEFINITIONS, PermanentJobError, QUEUE_CONCURRENCY, retryDelay, type JobItem } from '../jobs.js';
import { JobRepository, type JobCounts, type JobRepositoryOptions } from './job.repository.js';

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
    const key = this.coalesceKey(item);
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
