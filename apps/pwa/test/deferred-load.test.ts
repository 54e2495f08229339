/**
 * DeferredLoad: the messenger core's start-up rule. The load starts when the scheduler calls back or when something
 * needs it first, never twice; callers before the end share one load; a failed load is retried by the next caller.
 */
import { describe, expect, it } from '@jest/globals';
import { DeferredLoad, type IdleScheduler } from '../src/app/deferred-load.js';

/** A load that resolves or rejects when the test says, counting how often it started. */
function controlledLoad<T>() {
  const control = {
    starts: 0,
    settle: null as null | { resolve: (value: T) => void; reject: (error: Error) => void },
    load: (): Promise<T> => {
      control.starts += 1;
      return new Promise<T>((resolve, reject) => (control.settle = { resolve, reject }));
    },
  };
  return control;
}

/** A scheduler that runs what it was given only when the test calls `fire`. */
function manualScheduler(): IdleScheduler & { fire(): void; scheduled: number } {
  const pending: (() => void)[] = [];
  const schedule = ((run: () => void) => void pending.push(run)) as IdleScheduler & {
    fire(): void;
    scheduled: number;
  };
  Object.defineProperty(schedule, 'scheduled', { get: () => pending.length });
  schedule.fire = () => {
    for (const run of pending.splice(0)) run();
  };
  return schedule;
}

describe('DeferredLoad', () => {
  it('should not start before the scheduler calls back, then start once', async () => {
    const control = controlledLoad<string>();
    const deferred = new DeferredLoad(control.load);
    const scheduler = manualScheduler();
    deferred.later(scheduler);
    deferred.later(scheduler);
    expect(scheduler.scheduled).toBe(1);
    expect(control.starts).toBe(0);
    expect(deferred.started).toBe(false);
    scheduler.fire();
    expect(control.starts).toBe(1);
    control.settle?.resolve('core');
    await expect(deferred.now()).resolves.toBe('core');
    expect(control.starts).toBe(1);
    expect(deferred.value).toBe('core');
  });

  it('should start at once when needed before the idle moment, and not again when it comes', async () => {
    const control = controlledLoad<string>();
    const deferred = new DeferredLoad(control.load);
    const scheduler = manualScheduler();
    deferred.later(scheduler);
    // Two sends tapped before the core loaded: one load, both wait for it and get the same value, in order.
    const order: string[] = [];
    const first = deferred.now().then((v) => order.push(`first:${v}`));
    const second = deferred.now().then((v) => order.push(`second:${v}`));
    expect(control.starts).toBe(1);
    expect(deferred.value).toBeUndefined();
    scheduler.fire();
    expect(control.starts).toBe(1);
    control.settle?.resolve('core');
    await Promise.all([first, second]);
    expect(order).toEqual(['first:core', 'second:core']);
  });

  it('should retry on the next call after a failed load, and report the failure only to callers', async () => {
    const control = controlledLoad<string>();
    const deferred = new DeferredLoad(control.load);
    const scheduler = manualScheduler();
    deferred.later(scheduler);
    scheduler.fire();
    // The scheduled load fails: nobody waited for it, so nothing is reported, and it is not remembered.
    control.settle?.reject(new Error('chunk failed'));
    await new Promise((r) => setTimeout(r, 0));
    expect(deferred.started).toBe(false);
    const waiting = deferred.now();
    expect(control.starts).toBe(2);
    control.settle?.reject(new Error('still failing'));
    await expect(waiting).rejects.toThrow('still failing');
    const third = deferred.now();
    expect(control.starts).toBe(3);
    control.settle?.resolve('core');
    await expect(third).resolves.toBe('core');
    await expect(deferred.now()).resolves.toBe('core');
    expect(control.starts).toBe(3);
  });

  it('should not schedule after the load started', () => {
    const control = controlledLoad<string>();
    const deferred = new DeferredLoad(control.load);
    void deferred.now();
    const scheduler = manualScheduler();
    deferred.later(scheduler);
    expect(scheduler.scheduled).toBe(0);
    expect(control.starts).toBe(1);
  });
});
