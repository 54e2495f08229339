/**
 * A worker's passes, coalesced: `run` starts a pass under a named lock (shared with every context of the storage),
 * or, while one runs, asks for one more after it and shares its promise; passes repeat while asked and not stopped.
 * The outbox and the attachment uploader drive their queues this way. It decides nothing about what a pass does,
 * and catches nothing: a failing pass rejects the callers waiting on it.
 */
import type { LockManager } from './platform.js';

export class CoalescedPasses {
  private running: Promise<void> | null = null;
  private rerun = false;

  constructor(
    private readonly locks: LockManager,
    private readonly lockName: string,
    private readonly pass: () => Promise<void>,
    private readonly stopped: () => boolean,
  ) {}

  /** Runs passes until none was asked for meanwhile (or the worker stopped); resolves when done. */
  run(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.rerun = false;
          await this.locks.withLock(this.lockName, this.pass);
        } while (this.rerun && !this.stopped());
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** From inside a pass: run one more after it (something became due that this pass will not reach). */
  again(): void {
    this.rerun = true;
  }

  /** Resolves when no pass is running (whatever its outcome). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }
}
