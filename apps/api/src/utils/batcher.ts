/**
 * Group commit, pipelined: an operation submitted while a connection is free starts a batch at once (after the
 * current event-loop phase, so the frames of one socket read share it); operations submitted while `concurrency`
 * batches are in flight are collected and written together by the next batch, at most `maxBatch` at a time. So N
 * concurrent operations cost one statement (and one fsync) instead of N, and an idle database never waits for a
 * batch to fill. Every submitter is answered only after the batch that holds its operation has completed, so an
 * answer still means "durably done".
 *
 * With `keyOf`, operations of one key (e.g. one recipient) are never in two batches at once: a batch takes, in
 * submission order, only operations whose key no batch in flight holds, and the others wait for the next one. So
 * the operations of one key are written one batch after another, in submission order, and a statement checking a
 * per-key limit sees every earlier operation of that key, while operations of other keys overlap on other
 * connections. Without `keyOf` and with `concurrency` 1, batches run one after another in submission order. It
 * does not retry; the flush function decides what failure means for each operation.
 *
 * An operation's outcome goes to a promise ({@link Batcher.submit}) or to an object of the submitter's own
 * ({@link Batcher.enqueue}: no promise and no closures per operation, for the hottest callers).
 */

/** Told the outcome of one operation: its result, or the error that failed its whole batch. Must not throw. */
export interface Settle<O> {
  resolve(value: O): void;
  reject(error: unknown): void;
}

type Pending<I, O> = {
  item: I;
  key: string | undefined;
  settle: Settle<O>;
};

export type BatcherOptions<I> = {
  /** Most operations in one batch (bounds statement size and latency). */
  maxBatch: number;
  /**
   * With `weight`, a batch also stops before its operations' total weight passes `maxWeight` (it always takes at
   * least one): e.g. rows of a statement when one operation may carry thousands.
   */
  weight?: (item: I) => number;
  maxWeight?: number;
  /** Batches in flight at once (each holds one database connection). */
  concurrency: number;
  /** Operations of one key never overlap (see above). */
  keyOf?: (item: I) => string;
  /** Called with the size and duration (seconds) of each batch (metrics). */
  onBatch?: (size: number, seconds: number) => void;
  /**
   * Milliseconds a batch waits for more operations before it starts, unless `maxBatch` are already waiting: for
   * operations nobody is waiting on, where fewer, larger statements matter more than a few milliseconds. Without
   * it (the default) a batch starts after the current event-loop phase.
   */
  lingerMs?: number;
};

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private running = 0;
  private scheduled = false;
  /** The linger timer of a scheduled batch (only with `lingerMs`). */
  private lingering: ReturnType<typeof setTimeout> | undefined;
  /** Keys held by the batches in flight. */
  private readonly busy = new Set<string>();

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => this.enqueue(item, { resolve, reject }));
  }

  /** {@link submit} without a promise: `settle` is told the outcome, after the batch holding `item` completed. */
  enqueue(item: I, settle: Settle<O>): void {
    this.queue.push({ item, key: this.options.keyOf?.(item), settle });
    if (this.lingering !== undefined && this.queue.length >= this.options.maxBatch) {
      // A full batch is waiting: it need not linger.
      clearTimeout(this.lingering);
      this.start();
      return;
    }
    this.schedule();
  }

  /** Operations not yet written. */
  get backlog(): number {
    return this.queue.length;
  }

  /**
   * Starts a batch after the current I/O phase, so operations arriving in the same event-loop turn share it (with
   * `lingerMs`, after that long unless a full batch is waiting).
   */
  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency) return;
    this.scheduled = true;
    const linger = this.options.lingerMs ?? 0;
    if (linger > 0 && this.queue.length < this.options.maxBatch) {
      this.lingering = setTimeout(() => this.start(), linger);
      return;
    }
    setImmediate(() => this.start());
  }

  /** A scheduled start is due (or was brought forward): no longer scheduled, batches start. */
  private start(): void {
    this.lingering = undefined;
    this.scheduled = false;
    this.drain();
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.queue.length) {
      const batch = this.take();
      if (!batch.length) return;
      this.running++;
      void this.run(batch);
    }
  }

  /**
   * The next batch: the oldest operations whose keys no batch in flight holds, at most `maxBatch`, and up to
   * `maxWeight` when weighed (then it stops at the first operation that does not fit, keeping submission order).
   */
  private take(): Array<Pending<I, O>> {
    const { keyOf, weight, maxWeight, maxBatch } = this.options;
    const weighed = weight !== undefined && maxWeight !== undefined;
    if (!keyOf && !weighed) return this.queue.splice(0, maxBatch);
    const batch: Array<Pending<I, O>> = [];
    const rest: Array<Pending<I, O>> = [];
    const taken = new Set<string>();
    let total = 0;
    let full = false;
    const queue = this.queue;
    for (let i = 0; i < queue.length; i++) {
      const p = queue[i] as Pending<I, O>;
      if (full || batch.length >= maxBatch) {
        // Full: the rest waits as it is, without a look at each key (a backlog can hold thousands of operations).
        for (; i < queue.length; i++) rest.push(queue[i] as Pending<I, O>);
        break;
      }
      const free = p.key === undefined || !this.busy.has(p.key);
      const load = weight && maxWeight !== undefined ? weight(p.item) : 0;
      if (maxWeight !== undefined && batch.length > 0 && total + load > maxWeight) full = true;
      if (!full && free) {
        batch.push(p);
        total += load;
        if (p.key !== undefined) taken.add(p.key);
      } else {
        // Its key is in flight (or the batch is full): it waits, and so does every later operation of its key.
        rest.push(p);
      }
    }
    for (const key of taken) this.busy.add(key);
    this.queue = rest;
    return batch;
  }

  private async run(batch: Array<Pending<I, O>>): Promise<void> {
    const started = performance.now();
    const items: I[] = new Array<I>(batch.length);
    for (let i = 0; i < batch.length; i++) items[i] = (batch[i] as Pending<I, O>).item;
    let results: O[] | undefined;
    let failure: unknown;
    try {
      results = await this.flush(items);
    } catch (error) {
      failure = error;
    }
    this.options.onBatch?.(batch.length, (performance.now() - started) / 1000);
    for (const p of batch) if (p.key !== undefined) this.busy.delete(p.key);
    this.running--;
    try {
      for (let i = 0; i < batch.length; i++) {
        const { settle } = batch[i] as Pending<I, O>;
        if (results) settle.resolve(results[i] as O);
        else settle.reject(failure);
      }
    } finally {
      if (this.queue.length) {
        if (this.options.lingerMs) this.schedule();
        else this.drain();
      }
    }
  }
}
