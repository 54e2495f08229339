/**
 * Delivery benchmark of the Cove server (not part of `npm test`). It starts the built API as a child process on a
 * fresh PostgreSQL database (RATE_LIMITS=off), registers 2·N devices through the real HTTP API (keys signed with
 * libsignal), connects them all over WebSocket, and makes N sender→receiver pairs exchange ~300-byte envelopes
 * through `send` frames; receivers acknowledge every envelope. It reports, for each N:
 *   - delivered messages/s with a closed loop (each sender keeps WINDOW sends in flight),
 *   - p50/p99 latency from send to receipt at fixed offered rates (1,000 and 5,000 msgs/s),
 * and the server's resident memory per idle connection with 2,000 connected devices. The same load against two
 * baselines in the same run gives ratios: a bare `ws` relay (bench/bare-relay.js: no database, no validation, the
 * ceiling of these frames through Node and `ws`) and ejabberd (Debian's package, pinned to one core, plain XMPP on
 * loopback: bench/ejabberd-server.js, bench/xmpp-load-client.js; no durable store).
 *
 * Usage: npm run bench -w apps/api   (env: PAIRS=100,1000  SECONDS=10  WINDOW=8  RATES=1000,5000
 * SERVERS=bare,ejabberd,cove (a subset; ejabberd needs bench/setup-ejabberd.sh run once, as root)  EJABBERD_CORE=1;
 * API_ENTRY=<path of another build's apps/api/dist/workers/api.js> benches that build instead, e.g. a baseline
 * checkout in the same run; COVE_BUILDS=label=<api.js>,label=<api.js> benches several builds alternately on the
 * same registered devices, each build on its own copy of the database (its migrations are its own; the first build
 * registers), ROUNDS times each (A/B in one run: label order a, b, b, a, a, b, …); an entry may add
 * node flags after the path, `label=<api.js>;--flag`; SERVER_NODE_ARGS="--import ./bench/server-probe.js" with
 * PROBE_OUT=<file> adds the server's event-loop delay and GC pauses to each open-loop phase's figures, and
 * PROBE_STALLS=1 their times; TRACE_OUT=<file> writes a 10 ms timeline of each open-loop phase (TRACE_PG=off leaves
 * out its pg_stat_activity sampling); CLOSED=off skips the closed loop; VACUUM_PHASES=1 vacuums `envelopes` between
 * phases, as autovacuum would where it runs; STATEMENT_COST=1 adds, per build and on its own database copy with its
 * server stopped, PostgreSQL's CPU and WAL per message of the group commit's statements against a plain insert and
 * delete (bench/statement-cost.js; STATEMENT_BATCHES=1,16,64 STATEMENT_ROWS=3000 STATEMENT_ROUNDS=3, PG_WALDUMP=<path
 * of pg_waldump> for WAL records by kind); LOAD=off skips the load runs)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as signal from '@signalapp/libsignal-client';
import pg from 'pg';
import WebSocket from 'ws';

import { EJABBERD_DOMAIN, startEjabberd } from './ejabberd-server.js';
import { measureStatementCost } from './statement-cost.js';
import { connectXmpp } from './xmpp-load-client.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAIRS = (process.env.PAIRS ?? '100,1000').split(',').map(Number);
const SECONDS = Number(process.env.SECONDS ?? 10);
const WINDOW = Number(process.env.WINDOW ?? 8);
const RATES = (process.env.RATES ?? '1000,5000').split(',').map(Number);
const CONTENT_BYTES = 300;
/** Which servers to bench, in this order: the bare `ws` relay, ejabberd, Cove (ONLY=cove|bare kept as a shorthand). */
const SERVERS = (process.env.SERVERS ?? process.env.ONLY ?? 'bare,ejabberd,cove').split(',');
/** Cove builds to bench, as [label, api.js path]; one unless COVE_BUILDS names several (an A/B in one run). */
const COVE_BUILDS = process.env.COVE_BUILDS
  ? process.env.COVE_BUILDS.split(',').map((entry) => {
      const at = entry.indexOf('=');
      return [entry.slice(0, at), entry.slice(at + 1)];
    })
  : [['cove', process.env.API_ENTRY ?? join(ROOT, 'apps/api/dist/workers/api.js')]];
/**
 * A build's entry, `path` or `path;--node-flag;--node-flag` (e.g. `…/api.js;--max-semi-space-size=64`: the same
 * build with other V8 flags as another build of the A/B), as the node arguments that start it.
 */
const buildArgs = (entry) => {
  const [path, ...flags] = entry.split(';');
  return [...flags, path];
};
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const ADMIN_URL = process.env.ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

/** User + system CPU seconds used so far by a process. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of each PostgreSQL backend serving `database` (their process titles name it), by pid. Compare two
 * snapshots with {@link databaseCpuDelta}: a plain sum goes negative when a busy backend exits between them.
 */
function databaseCpuSnapshot(database) {
  const byPid = new Map();
  if (!database) return byPid;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.startsWith('postgres: ') && cmdline.includes(` ${database} `)) byPid.set(pid, cpuSeconds(pid));
    } catch {
      // The process ended meanwhile.
    }
  }
  return byPid;
}

/**
 * CPU seconds the backends used between two snapshots: growth of the ones alive at both, and all of the ones started
 * since. A backend that exited in between is not counted (an undercount, printed as such by being low, never < 0).
 */
function databaseCpuDelta(before, after) {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return Math.max(0, total);
}

function startProcess(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m =
        /listening (?:on http:\/\/127\.0\.0\.1:)?(\d+)/.exec(out) ??
        /Cove API listening on http:\/\/[^:]+:(\d+)/.exec(out);
      // Cove prints its metrics listener's URL right after; the bare relay has none.
      const metrics = /Cove API metrics on (http:\/\/\S+)/.exec(out);
      if (m && (metrics || !out.includes('Cove API'))) resolve({ child, port: Number(m[1]), metricsUrl: metrics?.[1] });
    });
    child.on('exit', (code) => reject(new Error(`process exited ${code}: ${out}`)));
  });
}

async function stopProcess(child) {
  child.removeAllListeners('exit');
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** Registers one account through the API; keys are real (libsignal), the Kyber key pair is shared to save time. */
async function registerDevice(url, kyberPublic) {
  const identity = signal.IdentityKeyPair.generate();
  const signed = signal.PrivateKey.generate().getPublicKey().serialize();
  const secret = b64(randomBytes(32));
  const registrationId = 1 + (randomBytes(2).readUInt16BE() % 16000);
  const res = await fetch(`${url}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      secret,
      registrationId,
      identityKey: b64(identity.publicKey.serialize()),
      signedPreKey: { keyId: 1, publicKey: b64(signed), signature: b64(identity.privateKey.sign(signed)) },
      kyberLastResortPreKey: {
        keyId: 1,
        publicKey: b64(kyberPublic),
        signature: b64(identity.privateKey.sign(kyberPublic)),
      },
    }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const { accountId } = await res.json();
  return { accountId, deviceId: 1, secret, registrationId };
}

function connect(wsUrl, device, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'auth', accountId: device.accountId, deviceId: 1, secret: device.secret }));
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'queue-empty') resolve(ws);
      else onFrame(frame);
    });
  });
}

/** Content: 8 bytes of send time (ms, float64, this process's clock) + random padding, 300 bytes in all. */
function makeContent() {
  const buf = randomBytes(CONTENT_BYTES);
  buf.writeDoubleLE(performance.now(), 0);
  return buf.toString('base64');
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs both load phases over `pairs` sender→receiver pairs already connected. `ackFrames` says whether receivers
 * acknowledge (the bare relay has no acks).
 */
async function runLoad(pairs, ackFrames, serverPid, database, metricsUrl) {
  progress(`load over ${pairs.length} pairs`);
  const probe = await phaseProbe(serverPid, metricsUrl);
  const stats = { delivered: 0, latencies: [], recording: false, sent: 0, received: 0 };
  /**
   * Waits until every envelope sent so far has arrived (at most 60 s) and, for Cove, until the server has applied
   * their acks (the queues in PostgreSQL are empty again, at most 120 s), so one phase does not spill into the next:
   * the closed loop leaves ~100,000 acks for the ack batcher, whose deletes would otherwise run through the first
   * open-loop phases. Returns the seconds the acks took after the last arrival (undefined without a database).
   */
  const quiesce = async () => {
    for (let i = 0; i < 600 && stats.received < stats.sent; i++) await sleep(100);
    if (stats.received < stats.sent) progress(`quiesce: ${stats.sent - stats.received} envelopes still on their way`);
    if (!database) return undefined;
    const arrived = performance.now();
    let left = await pgCount(database);
    for (let i = 0; i < 1200 && left > 0; i++) {
      await sleep(100);
      left = await pgCount(database);
    }
    if (left > 0) progress(`quiesce: ${left} envelopes still not acknowledged after 120 s`);
    const drained = (performance.now() - arrived) / 1000;
    if (process.env.VACUUM_PHASES === '1') await vacuumEnvelopes(database);
    return drained;
  };
  /** TRACE_OUT: the open-loop phase being traced (see {@link phaseTrace}), undefined otherwise. */
  let trace;
  let sendId = 0;
  const inflight = new Map();
  /** Send time by id in the open loop: send → `result` latency, the sender's side of the breakdown. */
  const sentTimes = new Map();
  let timeResults = false;
  for (const pair of pairs) {
    pair.receiverHandler = (frame) => {
      if (frame.type !== 'envelope') return;
      stats.received++;
      if (stats.recording) {
        stats.delivered++;
        const now = performance.now();
        const latency = now - Buffer.from(frame.envelope.content.slice(0, 12), 'base64').readDoubleLE(0);
        stats.latencies.push(latency);
        trace?.received(now, latency);
      }
      if (ackFrames) {
        pair.acks.push(frame.envelope.guid);
        // One flush per turn sends every ack gathered, 100 guids per frame (the frame's limit). It used to send only
        // the first 100 and schedule again only when a single ack was pending, so a receiver that got more than 100
        // envelopes in one turn (after any stall) never acknowledged the rest: 200,000–300,000 envelopes stayed in
        // the queues after a run and were counted by every later send's queue-cap check.
        if (!pair.ackScheduled) {
          pair.ackScheduled = true;
          setImmediate(() => {
            pair.ackScheduled = false;
            while (pair.acks.length > 0) {
              pair.receiverWs.send(JSON.stringify({ type: 'ack', guids: pair.acks.splice(0, 100) }));
            }
          });
        }
      }
    };
    pair.senderHandler = (frame) => {
      if (frame.type !== 'result') return;
      const cb = inflight.get(frame.id);
      inflight.delete(frame.id);
      if (frame.status !== 200) throw new Error(`send refused: ${JSON.stringify(frame)}`);
      const sentAt = sentTimes.get(frame.id);
      if (sentAt !== undefined) {
        sentTimes.delete(frame.id);
        if (stats.recording) {
          const now = performance.now();
          stats.resultLatencies.push(now - sentAt);
          trace?.result(now, now - sentAt);
        }
      }
      cb?.();
    };
  }
  const sendOne = (pair, done) => {
    const id = ++sendId;
    stats.sent++;
    if (done) inflight.set(id, done);
    if (timeResults) sentTimes.set(id, performance.now());
    if (pair.sendXmpp) {
      pair.sendXmpp(id, makeContent());
      return;
    }
    pair.senderWs.send(
      JSON.stringify({
        type: 'send',
        id,
        destination: pair.receiver.accountId,
        message: {
          timestamp: Date.now(),
          messages: [
            {
              destinationDeviceId: 1,
              destinationRegistrationId: pair.receiver.registrationId,
              type: 'whisper',
              content: makeContent(),
            },
          ],
        },
      }),
    );
  };

  // Phase 1: closed loop, WINDOW sends in flight per sender (CLOSED=off skips it, e.g. to profile only fixed rates).
  let running = process.env.CLOSED !== 'off';
  for (const pair of pairs) {
    const loop = () => {
      if (running) sendOne(pair, loop);
    };
    for (let i = 0; i < WINDOW; i++) loop();
  }
  if (running) await sleep(2000);
  stats.recording = true;
  const started = performance.now();
  const cpuBefore = cpuSeconds(serverPid);
  const dbBefore = databaseCpuSnapshot(database);
  const ownBefore = process.cpuUsage();
  if (running) await sleep(SECONDS * 1000);
  const elapsed = (performance.now() - started) / 1000;
  stats.recording = false;
  const serverCpu = cpuSeconds(serverPid) - cpuBefore;
  const databaseCpu = databaseCpuDelta(dbBefore, databaseCpuSnapshot(database));
  const own = process.cpuUsage(ownBefore);
  const generatorCpu = (own.user + own.system) / 1e6;
  running = false;
  const throughput = stats.delivered / elapsed;
  const closedLatencies = stats.latencies.sort((a, b) => a - b);
  const ackDrainSeconds = await quiesce();

  // Phase 2: open loop at each offered rate, spread over the senders, in 5 ms ticks.
  const openLoop = [];
  for (const rate of RATES) {
    stats.delivered = 0;
    stats.latencies = [];
    stats.resultLatencies = [];
    timeResults = !pairs[0]?.sendXmpp;
    await probe.start();
    stats.recording = true;
    const startedAt = new Date().toISOString();
    // CPU per delivered message of this phase, acks applied included: at a fixed rate the group commits are small,
    // so per-statement costs weigh more than in the closed loop's large batches.
    const phaseCpuBefore = cpuSeconds(serverPid);
    const phaseDbBefore = databaseCpuSnapshot(database);
    let offered = 0;
    let next = 0;
    const tickMs = 5;
    trace = process.env.TRACE_OUT ? await phaseTrace(database) : undefined;
    const t0 = performance.now();
    trace?.start(t0);
    const timer = setInterval(() => {
      const due = Math.min(((performance.now() - t0) / 1000) * rate - offered, (rate * tickMs * 4) / 1000);
      for (let i = 0; i < Math.floor(due); i++) {
        sendOne(pairs[next++ % pairs.length]);
        offered++;
      }
    }, tickMs);
    await sleep(SECONDS * 1000);
    clearInterval(timer);
    const openElapsed = (performance.now() - t0) / 1000;
    const phaseAckDrainSeconds = await quiesce();
    if (trace) {
      await trace.write(process.env.TRACE_OUT, { rate, startedAt });
      trace = undefined;
    }
    const phaseServerCpu = cpuSeconds(serverPid) - phaseCpuBefore;
    const phaseDatabaseCpu = databaseCpuDelta(phaseDbBefore, databaseCpuSnapshot(database));
    stats.recording = false;
    timeResults = false;
    sentTimes.clear();
    const latencies = stats.latencies.sort((a, b) => a - b);
    const resultLatencies = stats.resultLatencies.sort((a, b) => a - b);
    openLoop.push({
      rate,
      startedAt,
      endedAt: new Date().toISOString(),
      offeredPerSecond: Math.round(offered / openElapsed),
      deliveredPerSecond: Math.round(stats.delivered / openElapsed),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      p999: percentile(latencies, 99.9),
      result: resultLatencies.length
        ? { p50: percentile(resultLatencies, 50), p99: percentile(resultLatencies, 99) }
        : undefined,
      ackDrainSeconds: phaseAckDrainSeconds,
      serverCpuMicrosPerMessage: Math.round((phaseServerCpu * 1e6) / Math.max(1, stats.delivered)),
      databaseCpuMicrosPerMessage: database
        ? Math.round((phaseDatabaseCpu * 1e6) / Math.max(1, stats.delivered))
        : undefined,
      ...(await probe.stop()),
    });
  }
  return {
    deliveredPerSecond: Math.round(throughput),
    serverCpuMicrosPerMessage: Math.round((serverCpu * 1e6) / Math.max(1, throughput * elapsed)),
    databaseCpuMicrosPerMessage: Math.round((databaseCpu * 1e6) / Math.max(1, throughput * elapsed)),
    generatorCpuMicrosPerMessage: Math.round((generatorCpu * 1e6) / Math.max(1, throughput * elapsed)),
    closedLoop: { p50: percentile(closedLatencies, 50), p99: percentile(closedLatencies, 99) },
    ackDrainSeconds,
    openLoop,
  };
}

/** Percentile of a Prometheus histogram (cumulative buckets), as the upper bound of the bucket that reaches it. */
function bucketPercentile(buckets, p) {
  const total = buckets.at(-1)?.[1] ?? 0;
  for (const [le, count] of buckets) if (count >= (p / 100) * total) return le;
  return NaN;
}

/**
 * The send group commit's histograms from the server's metrics: [[le, cumulative count]], sums and counts; and the
 * acknowledgement batches' count and total size.
 */
async function commitMetrics(metricsUrl) {
  const text = await (await fetch(metricsUrl)).text();
  const buckets = [];
  for (const m of text.matchAll(/cove_group_commit_seconds_bucket\{le="([^"]+)",operation="send"\} (\S+)/g)) {
    buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  return {
    buckets,
    seconds: commitMetric(text, 'cove_group_commit_seconds_sum', 'send'),
    batches: commitMetric(text, 'cove_group_commit_seconds_count', 'send'),
    sends: commitMetric(text, 'cove_group_commit_batch_size_sum', 'send'),
    ackBatches: commitMetric(text, 'cove_group_commit_batch_size_count', 'ack'),
    acks: commitMetric(text, 'cove_group_commit_batch_size_sum', 'ack'),
  };
}

/** One group-commit series of the server's metrics text, for `operation` (0 when absent). */
function commitMetric(text, name, operation) {
  return Number(new RegExp(`${name}\\{operation="${operation}"\\} (\\S+)`).exec(text)?.[1] ?? 0);
}

/**
 * Where an open-loop phase's latency goes, measured around it: the load generator's own event-loop delay (it adds to
 * every receipt it timestamps), the server's event-loop delay and GC pauses (bench/server-probe.js, when the server
 * was started with it and PROBE_OUT), and the send group commits of the phase (count, mean size, mean and p99 time).
 */
async function phaseProbe(serverPid, metricsUrl) {
  const generatorDelay = monitorEventLoopDelay({ resolution: 1 });
  const probeFile = process.env.PROBE_OUT;
  let commitsBefore;
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  return {
    async start() {
      generatorDelay.reset();
      generatorDelay.enable();
      if (probeFile && metricsUrl) process.kill(serverPid, 'SIGUSR2');
      if (metricsUrl) commitsBefore = await commitMetrics(metricsUrl);
    },
    async stop() {
      generatorDelay.disable();
      const out = {
        generatorDelayMs: { p50: ms(generatorDelay.percentile(50)), p99: ms(generatorDelay.percentile(99)) },
      };
      if (probeFile && metricsUrl) {
        process.kill(serverPid, 'SIGUSR2');
        await sleep(200);
        const lines = readFileSync(probeFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        out.server = lines.findLast((l) => l.eventLoopDelayMs);
      }
      if (metricsUrl && commitsBefore) {
        const after = await commitMetrics(metricsUrl);
        const batches = after.batches - commitsBefore.batches;
        const buckets = after.buckets.map(([le, n], i) => [le, n - (commitsBefore.buckets[i]?.[1] ?? 0)]);
        out.commits = {
          batches,
          meanSize: Math.round(((after.sends - commitsBefore.sends) / Math.max(1, batches)) * 10) / 10,
          meanMs: Math.round(((after.seconds - commitsBefore.seconds) / Math.max(1, batches)) * 1e4) / 10,
          p99UpToMs: bucketPercentile(buckets, 99) * 1000,
        };
        const ackBatches = after.ackBatches - commitsBefore.ackBatches;
        out.ackCommits = {
          batches: ackBatches,
          meanSize: Math.round(((after.acks - commitsBefore.acks) / Math.max(1, ackBatches)) * 10) / 10,
        };
      }
      return out;
    },
  };
}

/** Width of a trace bucket: fine enough to place a stall of tens of milliseconds. */
const TRACE_BUCKET_MS = 10;

/**
 * TRACE_OUT=<file>: a timeline of one open-loop phase in {@link TRACE_BUCKET_MS} buckets from its start — messages
 * received, their worst send → receipt latency, the worst send → `result` latency — and, for Cove, what PostgreSQL's
 * busy backends and auxiliary processes were waiting on (pg_stat_activity sampled every 5 ms over its own
 * connection, unless TRACE_PG=off) with the WAL position, appended as one JSON line per phase with its start as
 * wall-clock time (`epochStart`, to line up with the server probe's PROBE_STALLS), to find what a stall coincides
 * with.
 */
async function phaseTrace(database) {
  let t0 = performance.now();
  const buckets = new Map();
  const bucket = (now) => {
    const i = Math.floor((now - t0) / TRACE_BUCKET_MS);
    let b = buckets.get(i);
    if (!b) buckets.set(i, (b = { received: 0, maxMs: 0, results: 0, maxResultMs: 0, waits: {}, wal: undefined }));
    return b;
  };
  // The generator's own stalls (its receipts are timestamped late): gaps over 5 ms between 1 ms ticks, by bucket.
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - lastTick > 5) {
      const b = bucket(lastTick);
      b.generatorGapMs = Math.max(b.generatorGapMs ?? 0, Math.round(now - lastTick));
    }
    lastTick = now;
  }, 1);
  let sampling = Boolean(database) && process.env.TRACE_PG !== 'off';
  let sampler;
  if (database) {
    const client = new pg.Client({ connectionString: databaseUrl(database) });
    await client.connect();
    sampler = (async () => {
      while (sampling) {
        const { rows } = await client.query(
          `SELECT pg_current_wal_lsn()::text AS lsn, backend_type, wait_event_type, wait_event, state
             FROM pg_stat_activity WHERE pid <> pg_backend_pid()`,
        );
        const b = bucket(performance.now());
        b.wal ??= rows[0]?.lsn;
        for (const r of rows) {
          if (r.backend_type === 'client backend' && r.state !== 'active') continue;
          const key = `${r.backend_type}:${r.wait_event_type ?? 'cpu'}:${r.wait_event ?? '-'}`;
          b.waits[key] = (b.waits[key] ?? 0) + 1;
        }
        await sleep(5);
      }
      await client.end();
    })();
  }
  return {
    start(at) {
      t0 = at;
      buckets.clear();
    },
    received(now, ms) {
      const b = bucket(now);
      b.received++;
      b.maxMs = Math.max(b.maxMs, Math.round(ms * 10) / 10);
    },
    result(now, ms) {
      const b = bucket(now);
      b.results++;
      b.maxResultMs = Math.max(b.maxResultMs, Math.round(ms * 10) / 10);
    },
    async write(file, header) {
      clearInterval(ticker);
      sampling = false;
      await sampler;
      const timeline = [...buckets].sort((a, b) => a[0] - b[0]).map(([i, b]) => ({ t: i * TRACE_BUCKET_MS, ...b }));
      appendFileSync(file, `${JSON.stringify({ ...header, epochStart: performance.timeOrigin + t0, timeline })}\n`);
    },
  };
}

async function connectPairs(wsUrl, devices) {
  const pairs = [];
  for (let i = 0; i + 1 < devices.length; i += 2) {
    const pair = { sender: devices[i], receiver: devices[i + 1], acks: [], ackScheduled: false };
    pair.senderWs = await connect(wsUrl, pair.sender, (f) => pair.senderHandler?.(f));
    pair.receiverWs = await connect(wsUrl, pair.receiver, (f) => pair.receiverHandler?.(f));
    pairs.push(pair);
  }
  return pairs;
}

function closePairs(pairs) {
  for (const p of pairs) {
    p.senderWs.terminate();
    p.receiverWs.terminate();
  }
}

async function benchCove() {
  progress('cove: starting');
  // REUSE_DEVICES=<file>: the first run registers into a database it keeps and notes it and its devices in the file;
  // later runs reuse both (registering 2,000 devices takes minutes on a loaded machine). Drop the database by hand.
  const reuse = process.env.REUSE_DEVICES;
  const saved = reuse && existsSync(reuse) ? JSON.parse(readFileSync(reuse, 'utf8')) : undefined;
  const database = saved?.database ?? `cove_bench_${randomBytes(5).toString('hex')}`;
  /** Build label → its own copy of the database (see below). */
  const databaseOf = new Map();
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  if (!saved) await admin.query(`CREATE DATABASE ${database}`);
  const nodeArgs = (process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const env = {
    DATABASE_URL: databaseUrl(database),
    DATABASE_POOL_SIZE: '8',
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
    PORT: '0',
    HOST: '127.0.0.1',
    PWA_DIR: '/nonexistent',
    METRICS_PORT: '0',
  };
  const [[, firstBuild]] = COVE_BUILDS;
  let { child, port } = await startProcess([...nodeArgs, ...buildArgs(firstBuild)], env);
  let metricsUrl;
  let url = `http://127.0.0.1:${port}`;
  let wsUrl;
  const results = [];
  try {
    const kyber = signal.KEMKeyPair.generate().getPublicKey().serialize();
    const devices = saved?.devices ?? [];
    const total = 2 * Math.max(...PAIRS);
    while (devices.length < total) {
      devices.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(20, total - devices.length) }, () => registerDevice(url, kyber)),
        )),
      );
    }
    if (reuse && !saved) writeFileSync(reuse, JSON.stringify({ database, devices }));
    await stopProcess(child);
    child = undefined;
    // Each build runs on its own copy of the registered database, so a build's migrations (a replaced function, a
    // new trigger) never run under another build's code in the same A/B. The copies start at the schema of the build
    // that registered (the first one, or an earlier run's): each build then applies its own pending migrations.
    if (COVE_BUILDS.length > 1) {
      for (const [label] of COVE_BUILDS) {
        const copy = `${database}_${label.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
        await admin.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${copy} TEMPLATE ${database}`);
        databaseOf.set(label, copy);
      }
    }
    // A/B: builds alternate (a b b a a b …) so that neither always runs in the machine's quieter minutes.
    const order = [];
    for (let round = 0; round < ROUNDS; round++) {
      const builds = round % 2 === 0 ? COVE_BUILDS : [...COVE_BUILDS].reverse();
      order.push(...builds);
    }
    for (const [label, build] of order) {
      const buildDatabase = databaseOf.get(label) ?? database;
      env.DATABASE_URL = databaseUrl(buildDatabase);
      const removed = await emptyQueues(buildDatabase);
      progress(`cove: ${label}${removed ? ` (${removed} envelopes left by earlier runs removed first)` : ''}`);
      const result = { server: label, runs: [], envelopesRemovedFirst: removed };
      // Idle memory is measured on a fresh server process (as for the bare relay): RSS before and after connecting
      // 2,000 devices that then stay idle. Registration traffic would otherwise leave heap headroom that hides them.
      ({ child, port, metricsUrl } = await startProcess([...nodeArgs, ...buildArgs(build)], env));
      url = `http://127.0.0.1:${port}`;
      wsUrl = `ws://127.0.0.1:${port}/v1/websocket`;
      // Warm up the code paths a connection uses (authentication query, frame handling), then measure.
      closePairs(await connectPairs(wsUrl, devices.slice(0, 100)));
      await sleep(2000);
      // IDLE=off skips the idle-memory figure (2,000 more connections per build, minutes on a loaded machine).
      const idleCount = process.env.IDLE === 'off' ? 0 : Math.min(2000, devices.length);
      await sleep(1000);
      const before = rssKb(child.pid);
      const idle = await connectPairs(wsUrl, devices.slice(0, idleCount));
      await sleep(3000);
      const after = rssKb(child.pid);
      result.idle = {
        connections: idleCount,
        rssBeforeKb: before,
        rssAfterKb: after,
        kbPerConnection: (after - before) / idleCount,
      };
      closePairs(idle);
      await sleep(1000);
      for (const n of process.env.LOAD === 'off' ? [] : PAIRS) {
        const pairs = await connectPairs(wsUrl, devices.slice(0, 2 * n));
        const run = await runLoad(pairs, true, child.pid, buildDatabase, metricsUrl);
        await sleep(1000);
        closePairs(pairs);
        const left = await pgCount(buildDatabase);
        result.runs.push({ pairs: n, ...run, envelopesLeftUnacked: left });
        await sleep(1000);
      }
      const metrics = await (await fetch(metricsUrl)).text();
      for (const op of ['send', 'ack']) {
        const sum = commitMetric(metrics, 'cove_group_commit_batch_size_sum', op);
        const count = commitMetric(metrics, 'cove_group_commit_batch_size_count', op);
        const seconds = commitMetric(metrics, 'cove_group_commit_seconds_sum', op);
        result[`${op}Batches`] = {
          count,
          meanSize: Math.round((sum / count) * 10) / 10,
          meanMs: Math.round((seconds / count) * 1e4) / 10,
        };
      }
      await stopProcess(child);
      child = undefined;
      if (process.env.STATEMENT_COST === '1') {
        progress(`cove: ${label}: statement cost`);
        result.statementCost = await measureStatementCost(
          join(dirname(buildArgs(build).at(-1)), '..'),
          databaseUrl(buildDatabase),
          devices.slice(0, 2 * Math.max(...PAIRS)),
          {
            batches: (process.env.STATEMENT_BATCHES ?? '1,16,64').split(',').map(Number),
            rows: Number(process.env.STATEMENT_ROWS ?? 3000),
          },
        );
      }
      results.push(result);
    }
  } finally {
    if (child) await stopProcess(child);
    for (const copy of databaseOf.values()) await admin.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
    if (!reuse) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
  return results;
}

/**
 * VACUUM_PHASES=1: vacuums the envelopes table between phases, as PostgreSQL's autovacuum would on a server where it
 * runs (the bench machine's has it off): a phase otherwise starts by cleaning up after the previous one's hundred
 * thousand deleted rows.
 */
function vacuumEnvelopes(database) {
  return withDatabase(database, (c) => c.query('VACUUM envelopes'));
}

async function pgCount(database) {
  const { rows } = await withDatabase(database, (c) => c.query('SELECT count(*)::int AS n FROM envelopes'));
  return rows[0].n;
}

/** The bench database's connection string. */
const databaseUrl = (database) => `postgres://postgres@127.0.0.1:5432/${database}`;

/** Runs `work` on a connection of its own to the bench database, closed after it whatever happens. */
async function withDatabase(database, work) {
  const c = new pg.Client({ connectionString: databaseUrl(database) });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/**
 * Empties the envelope queues of a reused bench database before a build's run, and returns how many it removed.
 * Envelopes a previous run left (a phase that did not drain within its minute, acks lost when its server stopped)
 * are drained by the next run's connections without acks, so they stayed forever: every send's queue-cap check then
 * counted hundreds of old envelopes per recipient, and PostgreSQL's CPU per message grew run after run (30 → 115 µs
 * in the runs of 2026-12-07 08:39–09:11, and the 288–350 µs of 06:15–06:37). Each build now starts from empty queues.
 */
function emptyQueues(database) {
  return withDatabase(database, async (c) => {
    const { rowCount } = await c.query('DELETE FROM envelopes');
    await c.query('VACUUM ANALYZE envelopes');
    // The delete dirtied every page the old envelopes held: write them now, not during the next build's measurement
    // (a checkpoint after deleting 300,000 rows otherwise lands in the next run's phases as commits of 100+ ms).
    await c.query('CHECKPOINT');
    return rowCount;
  });
}

/**
 * The ejabberd baseline: a private ejabberd (bench/ejabberd-server.js, pinned to one core) and the same load through
 * XMPP (bench/xmpp-load-client.js): each account registers in band and logs in with SASL PLAIN; a send is a
 * `<message type='chat'>` whose body is the same 300 random bytes in base64 (400 characters, the send time in its
 * first 8 bytes). XMPP has no per-message answer from the server (without XEP-0198), so a send is "done" for the
 * closed loop when its receiver has it: WINDOW messages in flight per sender, end to end. Nothing is acknowledged
 * and nothing is stored durably.
 */
async function benchEjabberd() {
  progress('ejabberd: starting');
  let server;
  try {
    server = await startEjabberd();
  } catch (error) {
    return { server: 'ejabberd', runs: [], idle: { kbPerConnection: NaN, connections: 0 }, error: error.message };
  }
  const results = { server: 'ejabberd', version: server.version, core: server.core, runs: [] };
  try {
    const total = 2 * Math.max(...PAIRS);
    const devices = Array.from({ length: total }, (_, i) => ({
      username: `u${i}`,
      password: randomBytes(12).toString('hex'),
    }));
    const connectAll = async (list, register) => {
      const pairs = [];
      for (let i = 0; i + 1 < list.length; i += 2) {
        const pair = { sender: list[i], receiver: list[i + 1], acks: [] };
        const open = (d) =>
          connectXmpp({
            port: server.port,
            domain: EJABBERD_DOMAIN,
            username: d.username,
            password: d.password,
            resource: 'bench',
            register,
          });
        pair.senderXmppConn = await open(pair.sender);
        pair.receiverXmppConn = await open(pair.receiver);
        const to = pair.receiverXmppConn.jid;
        pair.sendXmpp = (id, content) => pair.senderXmppConn.send(to, id, content);
        pair.receiverXmppConn.onMessage = (m) => {
          pair.receiverHandler?.({ type: 'envelope', envelope: { guid: m.id, content: m.body } });
          // The closed loop's "done": the receiver has it (see above).
          pair.senderHandler?.({ type: 'result', id: Number(m.id), status: 200 });
        };
        pairs.push(pair);
      }
      return pairs;
    };
    const closeAll = (pairs) => {
      for (const p of pairs) {
        p.senderXmppConn.close();
        p.receiverXmppConn.close();
      }
    };
    // Register every account once (in band), then measure idle memory on the warmed-up VM like the others.
    closeAll(await connectAll(devices, true));
    await sleep(2000);
    const idleCount = Math.min(2000, devices.length);
    const before = rssKb(server.pid);
    const idle = await connectAll(devices.slice(0, idleCount), false);
    await sleep(3000);
    const after = rssKb(server.pid);
    results.idle = {
      connections: idleCount,
      rssBeforeKb: before,
      rssAfterKb: after,
      kbPerConnection: (after - before) / idleCount,
    };
    closeAll(idle);
    await sleep(1000);
    for (const n of PAIRS) {
      const pairs = await connectAll(devices.slice(0, 2 * n), false);
      results.runs.push({ pairs: n, ...(await runLoad(pairs, false, server.pid)) });
      closeAll(pairs);
      await sleep(1000);
    }
  } finally {
    await server.stop();
  }
  return results;
}

async function benchBare() {
  progress('bare: starting');
  const { child, port } = await startProcess([join(ROOT, 'bench/bare-relay.js')], { PORT: '0' });
  const wsUrl = `ws://127.0.0.1:${port}`;
  const results = { server: 'bare-ws', runs: [] };
  try {
    const total = 2 * Math.max(...PAIRS);
    const devices = Array.from({ length: total }, () => ({
      accountId: randomBytes(16).toString('hex'),
      deviceId: 1,
      secret: b64(randomBytes(32)),
      registrationId: 1,
    }));
    await sleep(500);
    const before = rssKb(child.pid);
    const idleCount = Math.min(2000, devices.length);
    const idle = await connectPairs(wsUrl, devices.slice(0, idleCount));
    await sleep(3000);
    const after = rssKb(child.pid);
    results.idle = {
      connections: idleCount,
      rssBeforeKb: before,
      rssAfterKb: after,
      kbPerConnection: (after - before) / idleCount,
    };
    closePairs(idle);
    await sleep(1000);
    for (const n of PAIRS) {
      const pairs = await connectPairs(wsUrl, devices.slice(0, 2 * n));
      results.runs.push({ pairs: n, ...(await runLoad(pairs, false, child.pid)) });
      closePairs(pairs);
      await sleep(1000);
    }
  } finally {
    await stopProcess(child);
  }
  return results;
}

/** One line of progress on stderr (the figures go to stdout at the end). */
function progress(what) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);
}

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

/** WAL records per message by kind, the frequent ones (≥ 0.05 per message), most first. */
const walSummary = (records) =>
  Object.entries(records)
    .filter(([, n]) => n >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');

async function main() {
  const skipped = (server) => ({ server, runs: [], idle: { kbPerConnection: NaN, connections: 0 } });
  const bare = SERVERS.includes('bare') ? await benchBare() : skipped('bare-ws');
  const ejabberd = SERVERS.includes('ejabberd') ? await benchEjabberd() : skipped('ejabberd');
  const coves = SERVERS.includes('cove') ? await benchCove() : [];
  const lines = [];
  lines.push(
    `date: ${new Date().toISOString()}  window: ${WINDOW}  seconds: ${SECONDS}  offered rates: ${RATES.join(', ')}/s` +
      `  load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  if (ejabberd.error) lines.push(`ejabberd: not run: ${ejabberd.error}`);
  if (ejabberd.version) lines.push(`ejabberd: ${ejabberd.version}, pinned to core ${ejabberd.core}`);
  for (const r of [bare, ejabberd, ...coves]) {
    if (!r.runs.length && !r.statementCost) continue;
    lines.push(
      `${r.server}: idle RSS ${fmt(r.idle.kbPerConnection)} KB/connection (${r.idle.connections} connections)`,
    );
    if (r.sendBatches?.count) {
      lines.push(
        `${r.server}: group commit: ${r.sendBatches.count} send batches of ${r.sendBatches.meanSize} sends in ${r.sendBatches.meanMs} ms on average; ` +
          `${r.ackBatches.count} ack batches of ${r.ackBatches.meanSize} in ${r.ackBatches.meanMs} ms`,
      );
    }
    for (const c of r.statementCost ?? []) {
      const ratio = (x, y) => (x / y).toFixed(2);
      lines.push(
        `${r.server} statements, sends of ${c.batch} and acks of ${c.ackBatch}, PostgreSQL per message: ` +
          `insert ${fmt(c.checked.insertCpuMicros)} µs (plain ${fmt(c.plain.insertCpuMicros)}, ` +
          `${ratio(c.checked.insertCpuMicros, c.plain.insertCpuMicros)}x), delete ${fmt(c.checked.deleteCpuMicros)} µs ` +
          `(plain ${fmt(c.plain.deleteCpuMicros)}, ${ratio(c.checked.deleteCpuMicros, c.plain.deleteCpuMicros)}x), ` +
          `WAL ${c.checked.walBytes} bytes (plain ${c.plain.walBytes})` +
          (c.checked.walRecordsInsert && c.checked.walRecordsDelete
            ? `; WAL records, send: ${walSummary(c.checked.walRecordsInsert)}; ack: ${walSummary(c.checked.walRecordsDelete)}`
            : ''),
      );
    }
    for (const run of r.runs) {
      const base = bare.runs.find((b) => b.pairs === run.pairs);
      const xmpp = ejabberd.runs.find((b) => b.pairs === run.pairs);
      lines.push(
        `${r.server} N=${run.pairs}: ${run.deliveredPerSecond} delivered msgs/s (closed loop p50 ${fmt(run.closedLoop.p50)} ms, p99 ${fmt(run.closedLoop.p99)} ms)` +
          (r.sendBatches && base ? `, ${(run.deliveredPerSecond / base.deliveredPerSecond).toFixed(2)}x bare ws` : '') +
          (r.sendBatches && xmpp
            ? `, ${(run.deliveredPerSecond / xmpp.deliveredPerSecond).toFixed(2)}x ejabberd`
            : '') +
          `; CPU per message: server ${run.serverCpuMicrosPerMessage} µs` +
          (run.databaseCpuMicrosPerMessage ? `, PostgreSQL ${run.databaseCpuMicrosPerMessage} µs` : '') +
          `, load generator ${run.generatorCpuMicrosPerMessage} µs` +
          (run.ackDrainSeconds !== undefined
            ? `; acks applied ${fmt(run.ackDrainSeconds)} s after the closed loop`
            : '') +
          run.openLoop
            .map(
              (o) =>
                `; at ${o.offeredPerSecond}/s offered: ${o.deliveredPerSecond}/s delivered, p50 ${fmt(o.p50)} ms, p99 ${fmt(o.p99)} ms` +
                (o.result ? ` (send→result p50 ${fmt(o.result.p50)}, p99 ${fmt(o.result.p99)})` : '') +
                ` [generator loop delay p99 ${fmt(o.generatorDelayMs.p99)} ms` +
                (o.server
                  ? `; server loop delay p50 ${fmt(o.server.eventLoopDelayMs.p50)} / p99 ${fmt(o.server.eventLoopDelayMs.p99)} / max ${fmt(o.server.eventLoopDelayMs.max)} ms, GC ${o.server.gc.count} pauses ${o.server.gc.totalMs} ms (max ${o.server.gc.maxMs})`
                  : '') +
                (o.commits
                  ? `; ${o.commits.batches} commits of ${o.commits.meanSize}, ${o.commits.meanMs} ms mean, p99 ≤ ${o.commits.p99UpToMs} ms`
                  : '') +
                (o.ackCommits ? `; ${o.ackCommits.batches} ack deletes of ${o.ackCommits.meanSize}` : '') +
                (o.ackDrainSeconds !== undefined ? `; acks applied ${fmt(o.ackDrainSeconds)} s after` : '') +
                (o.serverCpuMicrosPerMessage !== undefined
                  ? `; CPU µs/msg server ${o.serverCpuMicrosPerMessage}` +
                    (o.databaseCpuMicrosPerMessage !== undefined ? `, PostgreSQL ${o.databaseCpuMicrosPerMessage}` : '')
                  : '') +
                ']',
            )
            .join('') +
          (run.envelopesLeftUnacked !== undefined ? `; ${run.envelopesLeftUnacked} envelopes left unacked` : ''),
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ bare, ejabberd, coves })}\n`);
}

await main();
