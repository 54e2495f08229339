/**
 * Group commit, pipelined: an operation submitted while no batch is in flight starts a batch at once (after the
 * current event-loop phase, so the frames of one socket read share it); operations submitted while `concurrency`
 * batches are in flight are collected and written together by the next batch, at most `maxBatch` at a time. So N
 * concurrent operations cost one statement (and one fsync) instead of N, and an idle database never waits for a
 * batch to fill. Every submitter is answered only after the batch that holds its operation has completed, so an
 * answer still means "durably done". Batches may overlap (`concurrency` > 1) but finish in start order: each flush
 * gets a `turn` promise that settles once every earlier batch has finished, to await before anything whose order
 * matters (e.g. handing stored envelopes on), and answers are released in start order too. It does not retry; the
 * flush function decides what failure means for each operation.
 */

type Pending<I, O> = { item: I; resolve: (value: O) => void; reject: (error: unknown) => void };

export type BatcherOptions = {
  /** Most operations in one batch (bounds statement size and latency). */
  maxBatch: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Called with the size and duration (seconds) of each batch (metrics). */
  onBatch?: (size: number, seconds: number) => void;
};

/**
 * Writes a batch. `turn` settles (never rejects) once every batch started before this one has finished; with
 * `concurrency` 1 it has already settled.
 */
export type BatchFlush<I, O> = (items: I[], turn: Promise<void>) => Promise<O[]>;

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private running = 0;
  private scheduled = false;
  /** Settles when the most recently started batch has finished (and so, in turn, every earlier one). */
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: BatchFlush<I, O>,
    private readonly options: BatcherOptions,
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

  /** Batches being written. */
  get inFlight(): number {
    return this.running;
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
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.running++;
      const turn = this.last;
      let finished!: () => void;
      this.last = new Promise<void>((resolve) => (finished = resolve));
      void this.run(batch, turn, finished);
    }
  }

  private async run(batch: Array<Pending<I, O>>, turn: Promise<void>, finished: () => void): Promise<void> {
    const started = performance.now();
    let settle: () => void;
    try {
      const results = await this.flush(
        batch.map((p) => p.item),
        turn,
      );
      settle = () => batch.forEach((p, i) => p.resolve(results[i] as O));
    } catch (error) {
      settle = () => {
        for (const p of batch) p.reject(error);
      };
    }
    // Answers leave in start order even when a later batch's statement returned first.
    await turn;
    settle();
    this.options.onBatch?.(batch.length, (performance.now() - started) / 1000);
    this.running--;
    finished();
    if (this.queue.length) this.drain();
  }
}
