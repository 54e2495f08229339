/**
 * Local ordering keys for messages and outbox entries: strictly increasing within a process (microsecond-scaled
 * clock time, bumped on ties), with a random suffix so that two tabs or processes sharing storage never produce the
 * same key. Not a clock: only the order matters.
 */
import type { Clock, Random } from './platform.js';
import { pad } from './tables.js';

export class Sequencer {
  private last = 0;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  next(): string {
    const candidate = this.clock.now() * 1000;
    this.last = candidate > this.last ? candidate : this.last + 1;
    const suffix = Array.from(this.random.bytes(3), (b) => b.toString(16).padStart(2, '0')).join('');
    return `${pad(this.last, 17)}${suffix}`;
  }
}

/** Timestamps for outgoing content: milliseconds, strictly increasing, so (author, timestamp) names one message. */
export class TimestampSource {
  private last = 0;

  constructor(private readonly clock: Clock) {}

  next(): number {
    const now = this.clock.now();
    this.last = now > this.last ? now : this.last + 1;
    return this.last;
  }
}
