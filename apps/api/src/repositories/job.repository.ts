/**
 * Background jobs behind one interface (also the dependency-injection token) with two implementations:
 * `BullJobRepository` on Redis when `REDIS_URL` is set (jobs survive restarts and may run in a separate worker
 * process, `bullmq-job.repository.ts`), and `InProcessJobRepository` otherwise (the embedded default: same
 * coalescing, retry and schedule semantics, but pending jobs live only as long as the process,
 * `in-process-job.repository.ts`). `delivery.providers.ts` picks one.
 *
 * Semantics shared by both: a job with a coalescing key is dropped while another job with that key waits or is
 * backing off; when one with that key is running, exactly one follow-up is kept and runs after it, so nothing that
 * arrives during a run is missed. Failures retry with exponential backoff (`retryDelay`) up to the job's attempts;
 * `PermanentJobError` stops at once. This module knows no handler (`JobService` installs the dispatcher) and no
 * queue technology.
 */
import type { JobName, QueueName } from '../enum.js';
import { JOB_DEFINITIONS, type JobItem } from '../jobs.js';

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

  /** The job's coalescing key, if its definition has one. */
  protected coalesceKey(item: JobItem): string | undefined {
    const definition = JOB_DEFINITIONS[item.name];
    /** `JobItem` pairs each name with its payload type; the lookup by a union name loses that pairing. */
    return (definition.coalesceKey as ((data: unknown) => string) | undefined)?.(item.data);
  }

  protected async run(name: JobName, data: unknown): Promise<void> {
    if (!this.dispatch) throw new Error('job dispatcher not installed');
    await this.dispatch(name, data);
  }
}
