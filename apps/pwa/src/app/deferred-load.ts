/**
 * A load started at most once, either when the page is idle after its first screen (`later`) or at once when
 * something needs it (`now`), whichever comes first; every caller shares the same promise. The app shell uses it for
 * the messenger core, so the chat list renders from storage before the core, libsodium and its WebAssembly are
 * fetched, while a send tapped in the first instant waits for the core instead of failing. A failed load is
 * forgotten, so the next call tries again. It schedules nothing by itself: the caller passes when "later" is.
 */

/** Calls `run` once, when the page has time (after the next paint); the platform decides how. */
export type IdleScheduler = (run: () => void) => void;

export class DeferredLoad<T> {
  private loading: Promise<T> | null = null;
  private loaded: { value: T } | null = null;
  private scheduled = false;

  constructor(private readonly load: () => Promise<T>) {}

  /** Whether the load has begun (by `now`, or by the scheduler calling back). */
  get started(): boolean {
    return this.loading !== null || this.loaded !== null;
  }

  /** The loaded value, or undefined before the load finished. */
  get value(): T | undefined {
    return this.loaded?.value;
  }

  /** Starts the load unless it runs or ran already, and resolves with its value. */
  now(): Promise<T> {
    if (this.loaded) return Promise.resolve(this.loaded.value);
    if (!this.loading) {
      const loading = this.load().then(
        (value) => {
          this.loaded = { value };
          return value;
        },
        (error: unknown) => {
          // Forgotten, so the next caller retries (a chunk that failed to fetch once may load the next time).
          if (this.loading === loading) this.loading = null;
          throw error;
        },
      );
      this.loading = loading;
    }
    return this.loading;
  }

  /**
   * Starts the load when `schedule` calls back, unless `now` started it first; a failure there is not reported
   * (the next `now` retries and reports it). Scheduling twice schedules once.
   */
  later(schedule: IdleScheduler): void {
    if (this.scheduled || this.started) return;
    this.scheduled = true;
    schedule(() => {
      if (!this.started) this.now().catch(() => undefined);
    });
  }
}
