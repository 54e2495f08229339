/**
 * A clock tests set and move by hand, so expiry times, server timestamps and wake-up cut-offs are exact values
 * instead of "about now". It never advances by itself and schedules nothing.
 */
import { Clock } from '../../../src/repositories/clock.repository.js';

/** 2026-01-01T00:00:00Z: a round instant far from the epoch, so "now minus a day" stays positive. */
export const FIXED_START_MS = Date.UTC(2026, 0, 1);

export class FixedClock extends Clock {
  constructor(private time: number = FIXED_START_MS) {
    super();
  }

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
