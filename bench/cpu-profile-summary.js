/**
 * Summarizes a V8 CPU profile of the API (`SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" npm run bench -w
 * apps/api`) by where the time goes on the delivery hot path: self time of every sampled function, grouped by the
 * module it lives in (WebSocket framing, JSON, validation, logging, metrics, the PostgreSQL client, socket I/O, our
 * own services and repositories, garbage collection). Prints each group's share of the busy (non-idle) time and,
 * given the server's CPU µs per message measured by the benchmark, its µs per message. Not part of `npm test`.
 *
 * Usage: node bench/cpu-profile-summary.js <file.cpuprofile> [server CPU µs per message]
 */
import { readFileSync } from 'node:fs';

const [file, perMessage] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/cpu-profile-summary.js <file.cpuprofile> [µs per message]');
const profile = JSON.parse(readFileSync(file, 'utf8'));

/** The group of a sampled function, from its script URL and name (first matching rule wins). */
const RULES = [
  [(u, f) => f === '(idle)', 'idle'],
  [(u, f) => f === '(garbage collector)', 'garbage collection'],
  [(u, f) => f === '(program)', 'V8/native (unattributed)'],
  [(u, f) => !u && /^(parse|stringify)$/.test(f), 'JSON parse/stringify'],
  [(u) => /node_modules\/ws\//.test(u), 'ws framing (parse + send)'],
  [(u) => /node_modules\/zod\//.test(u), 'zod validation'],
  [(u) => /node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-)/.test(u), 'pg client (protocol, pool)'],
  [(u) => /node_modules\/@prisma|node_modules\/\.prisma|generated\/prisma/.test(u), 'Prisma'],
  [(u) => /node_modules\/prom-client\//.test(u), 'metrics (prom-client)'],
  [(u) => /node_modules\/(pino|winston)|logging\.repository/.test(u), 'logging'],
  [(u) => /node_modules\/(ioredis|bullmq)/.test(u), 'Redis/BullMQ'],
  [(u) => /node_modules\/@nestjs|node_modules\/express|node_modules\/rxjs/.test(u), 'Nest/Express'],
  [(u) => /metrics[a-z-]*\.repository/.test(u), 'metrics (ours)'],
  [(u) => /send-frame\.parser|result\.mapper/.test(u), 'hand-checked frames, result frames (ours)'],
  [(u) => /websocket\.(repository|service)/.test(u), 'websocket service + repository'],
  [(u) => /message\.service|utils\/batcher/.test(u), 'message service + group commit'],
  [(u) => /envelope\.repository|database\.repository/.test(u), 'envelope repository (SQL building)'],
  [(u) => /delivery\.service|envelope\.mapper|presence|bus\.repository/.test(u), 'delivery routing'],
  [(u) => /apps\/api\/(dist|\.data-ab-)|packages\/protocol/.test(u), 'other Cove code'],
  [
    (u) => /^node:(net|stream|internal\/stream|internal\/net)|stream_base|internal\/streams/.test(u),
    'socket I/O (node streams)',
  ],
  [(u) => /^node:/.test(u), 'other Node internals (timers, promises, buffers)'],
  [(u) => !u, 'native builtins (Buffer, crypto, writev…)'],
  [() => true, 'other dependencies'],
];

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
const totalSamples = profile.samples.length;
const durationUs = profile.endTime - profile.startTime;
const groups = new Map();
const functions = new Map();
for (const [id, n] of counts) {
  const { url, functionName } = byId.get(id).callFrame;
  const group = RULES.find(([test]) => test(url, functionName))[1];
  groups.set(group, (groups.get(group) ?? 0) + n);
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '')}`;
  functions.set(key, (functions.get(key) ?? 0) + n);
}
const idle = groups.get('idle') ?? 0;
const busy = totalSamples - idle;
process.stdout.write(
  `${file}: ${(durationUs / 1e6).toFixed(1)} s, ${totalSamples} samples, busy ${((100 * busy) / totalSamples).toFixed(1)}%\n`,
);
const rows = [...groups].filter(([g]) => g !== 'idle').sort((a, b) => b[1] - a[1]);
for (const [group, n] of rows) {
  const share = n / busy;
  const us = perMessage ? `  ${(share * Number(perMessage)).toFixed(1)} µs/msg` : '';
  process.stdout.write(`${(100 * share).toFixed(1).padStart(5)}%  ${group}${us}\n`);
}
process.stdout.write('\ntop functions (self time, share of busy):\n');
for (const [key, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  if (key.startsWith('(idle)')) continue;
  process.stdout.write(`${((100 * n) / busy).toFixed(1).padStart(5)}%  ${key}\n`);
}
