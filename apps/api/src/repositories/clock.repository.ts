/**
 * The wall clock that services read for their decisions (expiry times, server timestamps, wake-up and retention
 * cut-offs), injected so tests can fix it. `Clock` is the interface and the dependency-injection token;
 * `SystemClock` is the production implementation. It is not a timer: waiting (`setTimeout`, heartbeats, batching)
 * stays where it is, and repositories may keep the database's own time.
 */
export abstract class Clock {
  /** Milliseconds since the Unix epoch, as `Date.now()`. */
  abstract now(): number;
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}
