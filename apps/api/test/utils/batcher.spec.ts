import { describe, expect, it } from '@jest/globals';

import { Batcher } from '../../src/utils/batcher.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe(Batcher.name, () => {
  it('should write operations submitted together in one batch and answer each', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      (items) => {
        batches.push(items);
        return Promise.resolve(items.map((i) => i * 2));
      },
      { maxBatch: 100, concurrency: 1 },
    );
    const results = await Promise.all([1, 2, 3].map((i) => batcher.submit(i)));
    expect(results).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('should collect operations arriving while a batch is in flight into the next one, in order', async () => {
    const batches: number[][] = [];
    let release: (() => void) | undefined;
    const batcher = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
        return items;
      },
      { maxBatch: 2, concurrency: 1 },
    );
    const first = batcher.submit(1);
    await tick();
    const rest = [2, 3, 4, 5].map((i) => batcher.submit(i));
    await tick();
    expect(batches).toEqual([[1]]);
    release?.();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('should keep at most `concurrency` batches in flight', async () => {
    let running = 0;
    let peak = 0;
    const batcher = new Batcher<number, number>(
      async (items) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return items;
      },
      { maxBatch: 1, concurrency: 2 },
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(i)));
    expect(peak).toBe(2);
  });

  it('should reject every operation of a failed batch and go on with the next', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(
      (items) => {
        calls++;
        return calls === 1 ? Promise.reject(new Error('disk full')) : Promise.resolve(items);
      },
      { maxBatch: 10, concurrency: 1 },
    );
    const failed = [batcher.submit(1), batcher.submit(2)];
    await expect(failed[0]).rejects.toThrow('disk full');
    await expect(failed[1]).rejects.toThrow('disk full');
    await expect(batcher.submit(3)).resolves.toBe(3);
  });

  it('should report size and duration of each batch', async () => {
    const seen: Array<[number, number]> = [];
    const batcher = new Batcher<number, number>((items) => Promise.resolve(items), {
      maxBatch: 10,
      concurrency: 1,
      onBatch: (size, seconds) => seen.push([size, seconds]),
    });
    await Promise.all([batcher.submit(1), batcher.submit(2)]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]).toBe(2);
    expect(seen[0]?.[1]).toBeGreaterThanOrEqual(0);
  });

  it('should start a batch at once when none is in flight, without waiting for more operations', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      (items) => {
        batches.push(items);
        return Promise.resolve(items);
      },
      { maxBatch: 100, concurrency: 1 },
    );
    const one = batcher.submit(1);
    await tick();
    expect(batches).toEqual([[1]]);
    await expect(one).resolves.toBe(1);
  });

  it('should wait `lingerMs` for more operations before a batch starts, and not when a full batch is waiting', async () => {
    const batches: number[][] = [];
    const lingering = new Batcher<number, number>(
      (items) => {
        batches.push(items);
        return Promise.resolve(items);
      },
      { maxBatch: 3, concurrency: 1, lingerMs: 60_000 },
    );
    // Submitted over several event-loop turns: without the linger, the first would start a batch of its own.
    const answers = [lingering.submit(1)];
    await tick();
    answers.push(lingering.submit(2));
    await tick();
    expect(batches).toEqual([]);
    // The third fills the batch: it starts now, not in a minute (the test would time out).
    answers.push(lingering.submit(3));
    await expect(Promise.all(answers)).resolves.toEqual([1, 2, 3]);
    expect(batches).toEqual([[1, 2, 3]]);

    const quick = new Batcher<number, number>((items) => Promise.resolve(items), {
      maxBatch: 3,
      concurrency: 1,
      lingerMs: 5,
    });
    await expect(quick.submit(4)).resolves.toBe(4);
  });

  it('should start a batch for other keys while one is in flight, and hold back operations of a key in flight', async () => {
    const batches: string[][] = [];
    const releases: Array<() => void> = [];
    const batcher = new Batcher<string, string>(
      async (items) => {
        batches.push(items);
        await new Promise<void>((resolve) => releases.push(resolve));
        return items;
      },
      { maxBatch: 100, concurrency: 2, keyOf: (item) => item.slice(0, 1) },
    );
    const answers = [batcher.submit('a1')];
    await tick();
    answers.push(...['a2', 'b1', 'a3', 'b2'].map((item) => batcher.submit(item)));
    await tick();
    // "a" is in flight: its later sends wait (in order), "b" goes at once on the second connection.
    expect(batches).toEqual([['a1'], ['b1', 'b2']]);
    releases[1]?.();
    await tick();
    expect(batches).toEqual([['a1'], ['b1', 'b2']]);
    releases[0]?.();
    await tick();
    expect(batches).toEqual([['a1'], ['b1', 'b2'], ['a2', 'a3']]);
    releases[2]?.();
    await expect(Promise.all(answers)).resolves.toEqual(['a1', 'a2', 'b1', 'a3', 'b2']);
  });

  it('should never hold one key in two batches at once, and write each key in submission order', async () => {
    const inFlight = new Set<string>();
    const written: string[] = [];
    let overlap = false;
    const batcher = new Batcher<string, string>(
      async (items) => {
        const keys = new Set(items.map((i) => i.split(':')[0] as string));
        for (const k of keys) if (inFlight.has(k)) overlap = true;
        for (const k of keys) inFlight.add(k);
        await new Promise((resolve) => setTimeout(resolve, 1 + (items.length % 3)));
        for (const k of keys) inFlight.delete(k);
        written.push(...items);
        return items;
      },
      { maxBatch: 3, concurrency: 3, keyOf: (item) => item.split(':')[0] as string },
    );
    const items = Array.from({ length: 60 }, (_, i) => `${'abcd'[(i * 7) % 4]}:${i}`);
    const pending: Array<Promise<string>> = [];
    for (const [i, item] of items.entries()) {
      pending.push(batcher.submit(item));
      if (i % 5 === 0) await tick();
    }
    await Promise.all(pending);
    expect(overlap).toBe(false);
    for (const key of 'abcd') {
      const order = (list: string[]) => list.filter((item) => item.startsWith(`${key}:`));
      expect(order(written)).toEqual(order(items));
    }
  });

  it("should tell an enqueued operation its result, or its batch's failure, through its own settle object", async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(
      (items) => {
        calls++;
        return calls === 1 ? Promise.resolve(items.map((i) => i * 10)) : Promise.reject(new Error('disk full'));
      },
      { maxBatch: 10, concurrency: 1 },
    );
    const told: string[] = [];
    const settle = (name: string) => ({
      resolve: (value: number) => told.push(`${name}=${value}`),
      reject: (error: unknown) => told.push(`${name}!${(error as Error).message}`),
    });
    batcher.enqueue(1, settle('a'));
    batcher.enqueue(2, settle('b'));
    await tick();
    await tick();
    expect(told).toEqual(['a=10', 'b=20']);
    batcher.enqueue(3, settle('c'));
    await tick();
    await tick();
    expect(told).toEqual(['a=10', 'b=20', 'c!disk full']);
    expect(batcher.backlog).toBe(0);
  });
});
