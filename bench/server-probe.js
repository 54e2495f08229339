/**
 * A measuring probe preloaded into a benchmarked server (`SERVER_NODE_ARGS="--import ./bench/server-probe.js"`), not
 * part of the server: it records the process's event-loop delay (`perf_hooks.monitorEventLoopDelay`) and its garbage
 * collection pauses (PerformanceObserver 'gc'). On SIGUSR2 it appends what it saw since the previous signal as one
 * JSON line to the file named by PROBE_OUT and starts over, so the delivery benchmark can bracket each load phase.
 * It changes nothing the server does beyond these observers (a 1 ms sampling timer and one entry per GC). With
 * PROBE_HEAP=1 it also samples allocations (V8's sampling heap profiler, every 32 KiB, counting objects already
 * collected) and adds each phase's top allocating functions; that costs CPU, so latency runs go without it. With
 * PROBE_STALLS=1 each line also lists, with wall-clock times (ms since the epoch), every GC pause over 2 ms and every
 * gap over 5 ms between ticks of a 1 ms timer (the loop blocked or the process not scheduled), to line up with a
 * trace of the load (TRACE_OUT in bench/delivery.bench.js).
 */
import { appendFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const OUT = process.env.PROBE_OUT;
/** Sampling resolution of the event-loop delay histogram: 1 ms resolves the tail we look for (tens of ms). */
const RESOLUTION_MS = 1;
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb', 16: 'minor' };

const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();
let gc = { count: 0, totalMs: 0, maxMs: 0, over5ms: 0, byKind: {} };
const STALLS = process.env.PROBE_STALLS === '1';
/** Timed pauses of the phase: [epoch ms, ms, 'gc:kind' | 'tick'], with PROBE_STALLS only. */
let pauses = [];
/** A gap between 1 ms ticks that counts as a stall: well above the timer's own jitter. */
const TICK_GAP_MS = 5;
if (STALLS) {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > TICK_GAP_MS)
      pauses.push([Math.round(performance.timeOrigin + last), Math.round(now - last), 'tick']);
    last = now;
  }, 1).unref();
}
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[entry.detail?.kind] ?? String(entry.detail?.kind);
    if (STALLS && entry.duration > 2) {
      pauses.push([
        Math.round(performance.timeOrigin + entry.startTime),
        Math.round(entry.duration * 10) / 10,
        `gc:${kind}`,
      ]);
    }
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
    if (entry.duration > 5) gc.over5ms++;
    const k = (gc.byKind[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
    k.count++;
    k.totalMs += entry.duration;
    k.maxMs = Math.max(k.maxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

/** Bytes between allocation samples: the profiler's default, fine enough for per-message costs over seconds. */
const HEAP_SAMPLING_BYTES = 32 * 1024;
const heap = process.env.PROBE_HEAP === '1' ? new Session() : undefined;
const startHeap = () =>
  heap?.post('HeapProfiler.startSampling', {
    samplingInterval: HEAP_SAMPLING_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
if (heap) {
  heap.connect();
  heap.post('HeapProfiler.enable');
  startHeap();
}

/** Sampled bytes by allocating function (`name file:line`), largest first, top `n`. */
function topAllocators(profile, n) {
  const byFrame = new Map();
  const walk = (node) => {
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-3).join('/')}:${f.lineNumber + 1}`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + node.selfSize);
    for (const child of node.children ?? []) walk(child);
  };
  walk(profile.head);
  const total = [...byFrame.values()].reduce((a, b) => a + b, 0);
  return {
    totalMb: Math.round(total / 1e4) / 100,
    top: [...byFrame]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([where, bytes]) => [where, Math.round(bytes / 1e3)]),
  };
}

let since = performance.now();
process.on('SIGUSR2', () => {
  if (heap) {
    heap.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error && OUT) appendFileSync(OUT, `${JSON.stringify({ allocations: topAllocators(result.profile, 25) })}\n`);
      startHeap();
    });
  }
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const line = {
    seconds: Math.round(performance.now() - since) / 1000,
    eventLoopDelayMs: {
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      p999: ms(delay.percentile(99.9)),
      max: ms(delay.max),
      mean: ms(delay.mean),
    },
    gc: {
      ...gc,
      totalMs: Math.round(gc.totalMs),
      maxMs: Math.round(gc.maxMs * 10) / 10,
    },
    heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1e6),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
    ...(STALLS ? { pauses } : {}),
  };
  pauses = [];
  if (OUT) appendFileSync(OUT, `${JSON.stringify(line)}\n`);
  delay.reset();
  gc = { count: 0, totalMs: 0, maxMs: 0, over5ms: 0, byKind: {} };
  since = performance.now();
});
