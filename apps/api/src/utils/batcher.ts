/**
 * Group commit: operations submitted while a batch is being written are collected and written together by the next
 * batch, so N concurrent operations cost one statement (and one fsync) instead of N. Every submitter is answered
 * only after the batch that holds its operation has completed, so an answer still means "durably done". With
 * `concurrency` 1 batches run one after another and keep submission order. It does not retry; the flush function
 * decides what failure means for each operation.
 */

type Pending<I, O> = { item: I; resolve: (value: O) => void; reject: (error: unknown) => void };

export type BatcherOptions<I = unknown> = {
  /** Most operations in one batch (bounds statement size and latency). */
  maxBatch: number;
  /**
   * With `weight`, a batch also stops before its operations' total weight passes `maxWeight` (it always takes at
   * least one): e.g. rows of a statement when one operation may carry thousands.
   */
  weight?: (item: I) => number;
  maxWeight?: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Called with the size and duration (seconds) of each batch (metrics). */
  onBatch?: (size: number, seconds: number) => void;
};

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Operations not yet written. */
  get backlog(): number {
    return this.queue.length;
  }

  /** Starts a batch after the current I/O phase, so operations arriving in the same event-loop turn share it. */
  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.queue.length) {
      const batch = this.queue.splice(0, this.takes());
      this.running++;
      void this.run(batch);
    }
  }

  /** How many queued operations the next batch takes: up to `maxBatch`, and up to `maxWeight` when weighed. */
  private takes(): number {
    const { weight, maxWeight, maxBatch } = this.options;
    if (!weight || maxWeight === undefined) return maxBatch;
    let total = 0;
    let count = 0;
    for (const pending of this.queue) {
      if (count >= maxBatch) break;
      total += weight(pending.item);
      if (count > 0 && total > maxWeight) break;
      count++;
    }
    return count;
  }

  private async run(batch: Array<Pending<I, O>>): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.flush(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i] as O));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.options.onBatch?.(batch.length, (performance.now() - started) / 1000);
      this.running--;
      if (this.queue.length) this.drain();
    }
  }
}
