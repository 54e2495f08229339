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

  it('should start a second batch while one is in flight and release answers and turns in start order', async () => {
    const events: string[] = [];
    const releases: Array<() => void> = [];
    const batcher = new Batcher<number, number>(
      async (items, turn) => {
        const name = items.join('+');
        events.push(`start ${name}`);
        await new Promise<void>((resolve) => releases.push(resolve));
        events.push(`stored ${name}`);
        await turn;
        events.push(`handed on ${name}`);
        return items;
      },
      { maxBatch: 100, concurrency: 2 },
    );
    const first = batcher.submit(1).then((v) => events.push(`answer ${v}`));
    await tick();
    const second = [batcher.submit(2), batcher.submit(3)].map((p) => p.then((v) => events.push(`answer ${v}`)));
    await tick();
    expect(events).toEqual(['start 1', 'start 2+3']);
    // The second statement returns first: it still waits for the first batch before handing on and answering.
    releases[1]?.();
    await tick();
    expect(events).toEqual(['start 1', 'start 2+3', 'stored 2+3']);
    releases[0]?.();
    await Promise.all([first, ...second]);
    expect(events).toEqual([
      'start 1',
      'start 2+3',
      'stored 2+3',
      'stored 1',
      'handed on 1',
      'answer 1',
      'handed on 2+3',
      'answer 2',
      'answer 3',
    ]);
  });

  it('should give the next batch its turn even when an earlier batch failed', async () => {
    const releases: Array<() => void> = [];
    let calls = 0;
    const batcher = new Batcher<number, number>(
      async (items, turn) => {
        const call = ++calls;
        await new Promise<void>((resolve) => releases.push(resolve));
        if (call === 1) throw new Error('connection lost');
        await turn;
        return items;
      },
      { maxBatch: 100, concurrency: 2 },
    );
    const failed = batcher.submit(1);
    await tick();
    const next = batcher.submit(2);
    await tick();
    releases[1]?.();
    releases[0]?.();
    await expect(failed).rejects.toThrow('connection lost');
    await expect(next).resolves.toBe(2);
  });
});
