/**
 * What each background job is: its queue, payload type, retry policy, coalescing key and schedule, declared once
 * in `JOB_DEFINITIONS` (the compiler insists on an entry per `JobName`). Handlers signal transient failures with
 * `RetryableJobError` and hopeless ones with `PermanentJobError`; any other error is treated as transient.
 * This module runs nothing: `JobRepository` implementations execute these definitions, `JobService` wires handlers.
 */
import { JobName, QueueName } from './enum.js';

export type DeviceRef = { accountId: string; deviceId: number };

/** Payload of each job, by name. Payloads are ids only: never content, keys or endpoints. */
export type JobDataMap = {
  [JobName.PushDevice]: DeviceRef;
  [JobName.PushSweep]: Record<string, never>;
  [JobName.PurgeExpiredEnvelopes]: Record<string, never>;
  [JobName.ReportIdleDevices]: Record<string, never>;
  [JobName.PurgeAttachments]: Record<string, never>;
};

export type JobItem = { [K in JobName]: { name: K; data: JobDataMap[K] } }[JobName];
export type JobHandler<K extends JobName = JobName> = (data: JobDataMap[K]) => Promise<void>;

export type JobDefinition<K extends JobName> = {
  queue: QueueName;
  /** Total attempts, the first included. */
  attempts: number;
  /** Coalescing key: while a job with the same key waits, new ones merge into it (see `JobRepository`). */
  coalesceKey?: (data: JobDataMap[K]) => string;
  /** Run every `every` milliseconds (the interval comes from configuration, by name). */
  repeat?: 'retention' | 'pushSweep';
};

export const JOB_DEFINITIONS: { [K in JobName]: JobDefinition<K> } = {
  [JobName.PushDevice]: {
    queue: QueueName.Push,
    /** 1 + 9 retries with exponential backoff from `PUSH_RETRY_DELAY` covers a push service outage of ~10 minutes. */
    attempts: 10,
    coalesceKey: (d) => `push.${d.accountId}.${d.deviceId}`,
  },
  [JobName.PushSweep]: {
    queue: QueueName.Maintenance,
    attempts: 1,
    coalesceKey: () => 'push-sweep',
    repeat: 'pushSweep',
  },
  [JobName.PurgeExpiredEnvelopes]: {
    queue: QueueName.Maintenance,
    /** A failed purge is simply retried at the next interval. */
    attempts: 1,
    coalesceKey: () => 'purge',
    repeat: 'retention',
  },
  [JobName.ReportIdleDevices]: {
    queue: QueueName.Maintenance,
    attempts: 1,
    coalesceKey: () => 'idle',
    repeat: 'retention',
  },
  [JobName.PurgeAttachments]: {
    queue: QueueName.Maintenance,
    /** Like the envelope purge: what fails now is found again at the next interval. */
    attempts: 1,
    coalesceKey: () => 'purge-attachments',
    repeat: 'retention',
  },
};

/** Concurrent jobs per queue and process. Push sends are network-bound; maintenance runs one at a time. */
export const QUEUE_CONCURRENCY: Record<QueueName, number> = {
  [QueueName.Push]: 32,
  [QueueName.Maintenance]: 1,
};

/** A transient failure: retry with exponential backoff, or after `retryAfterMs` when the remote side said so. */
export class RetryableJobError extends Error {
  override readonly name = 'RetryableJobError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A failure that retrying cannot fix: the job is dropped. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

/** Longest wait between two attempts, whatever the backoff or a `Retry-After` header says. */
export const MAX_RETRY_DELAY_MS = 10 * 60_000;

/** Exponential backoff: base, 2×base, 4×base… with ±20% jitter so retries from many jobs spread out. */
export function retryDelay(
  attempt: number,
  baseMs: number,
  error: unknown,
  random: () => number = Math.random,
): number {
  const hinted = error instanceof RetryableJobError ? (error.retryAfterMs ?? 0) : 0;
  const exponential = baseMs * 2 ** Math.max(0, attempt - 1) * (0.8 + 0.4 * random());
  return Math.round(Math.min(MAX_RETRY_DELAY_MS, Math.max(hinted, exponential)));
}
