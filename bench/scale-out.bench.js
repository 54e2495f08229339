/**
 * Scale-out and offline-delivery benchmark of the Cove server (not part of `npm test`). It starts the built API
 * (`apps/api/dist`) as child processes on a fresh PostgreSQL database and a unique Redis prefix, and measures:
 *   1. delivered messages/s and p50/p99 send→receipt latency with N sender→receiver pairs (~300-byte envelopes,
 *      `send` frames, every envelope acknowledged, WINDOW sends in flight per sender) on ONE instance, then with
 *      the same clients spread over TWO instances (half of the pairs cross instances, through Redis pub/sub);
 *   2. the time for a device that was offline to drain DRAIN queued envelopes on reconnect (auth → queue-empty,
 *      every envelope received);
 *   3. the delay from sending an envelope to a sleeping device to its Web Push request arriving at a local HTTPS
 *      push service (an upper bound on "accepted → push left the server"), one envelope per device, PUSHES devices.
 *
 * Usage: npm run build && node bench/scale-out.bench.js
 *   env: PAIRS=100  SECONDS=10  WINDOW=8  ROUNDS=2  DRAIN=10000  PUSHES=200  REDIS_URL=redis://127.0.0.1:6379
 *   PHASES=load (phase 1 only)
 * Phase 1 alternates one/two instances ROUNDS times and reports the means (and each round in the JSON), with the CPU
 * µs per delivered message of the instances, PostgreSQL and Redis (medians of the rounds), the server CPU each
 * message that crosses instances adds, and the server tier's projected messages/s per core for 1–8 instances.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as signal from '@signalapp/libsignal-client';
import ece from 'http_ece';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAIRS = Number(process.env.PAIRS ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 10);
const WINDOW = Number(process.env.WINDOW ?? 8);
const DRAIN = Number(process.env.DRAIN ?? 10_000);
const PUSHES = Number(process.env.PUSHES ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_URL = process.env.ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CONTENT_BYTES = 300;

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

/** Starts one API instance; resolves with its port once it listens. */
function startInstance(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'apps/api/dist/workers/api.js')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      const metrics = /metrics on (http:\/\/\S+)/.exec(out);
      if (m && metrics)
        resolve({
          child,
          port: Number(m[1]),
          url: `http://127.0.0.1:${m[1]}`,
          ws: `ws://127.0.0.1:${m[1]}/v1/websocket`,
          metricsUrl: metrics[1],
        });
    });
    child.on('exit', (code) => reject(new Error(`instance exited ${code}: ${out}`)));
  });
}

async function stopInstance(instance) {
  instance.child.removeAllListeners('exit');
  const done = new Promise((r) => instance.child.once('exit', r));
  instance.child.kill('SIGTERM');
  await Promise.race([done, sleep(5000)]);
  if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
}

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

async function registerMany(url, count) {
  const kyber = signal.KEMKeyPair.generate().getPublicKey().serialize();
  const devices = [];
  while (devices.length < count) {
    const batch = Math.min(20, count - devices.length);
    devices.push(...(await Promise.all(Array.from({ length: batch }, () => registerDevice(url, kyber)))));
  }
  return devices;
}

/** Connects and authenticates; `onFrame` gets every frame; resolves at `queue-empty`. */
function connect(wsUrl, device, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () =>
      ws.send(JSON.stringify({ type: 'auth', accountId: device.accountId, deviceId: 1, secret: device.secret })),
    );
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'queue-empty') resolve(ws);
      onFrame(frame);
    });
  });
}

function sendFrame(ws, id, receiver, content) {
  ws.send(
    JSON.stringify({
      type: 'send',
      id,
      destination: receiver.accountId,
      message: {
        timestamp: Date.now(),
        messages: [
          { destinationDeviceId: 1, destinationRegistrationId: receiver.registrationId, type: 'whisper', content },
        ],
      },
    }),
  );
}

/** Content: send time (ms, float64, this process's clock) + random padding. */
function timedContent() {
  const buf = randomBytes(CONTENT_BYTES);
  buf.writeDoubleLE(performance.now(), 0);
  return buf.toString('base64');
}

/** User + system CPU seconds used so far by a process (0 when it is gone). */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Pids of the processes whose command line matches `test` (PostgreSQL backends of a database, the Redis server). */
function pidsOf(test) {
  const pids = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) pids.push(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

/** CPU seconds per pid, for the instances, the bench database's backends and the Redis server. */
function cpuSnapshot(instances, database) {
  const snap = { instances: instances.map((i) => cpuSeconds(i.child.pid)), database: new Map(), redis: 0 };
  for (const pid of pidsOf((c) => c.startsWith('postgres: ') && c.includes(` ${database} `))) {
    snap.database.set(pid, cpuSeconds(pid));
  }
  for (const pid of pidsOf((c) => c.startsWith('redis-server') || c.includes('/redis-server'))) {
    snap.redis += cpuSeconds(pid);
  }
  return snap;
}

/**
 * Closed-loop load over pairs whose sockets may sit on different instances. With `cpu` ({ instances, database }),
 * also the CPU µs per delivered message of the instances (together), of PostgreSQL's backends for the bench
 * database, and of the Redis server (shared with other tenants of the machine: an upper bound).
 */
async function runLoad(pairs, cpu) {
  const stats = { delivered: 0, latencies: [], recording: false };
  let running = true;
  let nextId = 0;
  for (const pair of pairs) {
    pair.onReceiver = (frame) => {
      if (frame.type !== 'envelope') return;
      if (stats.recording) {
        stats.delivered++;
        stats.latencies.push(
          performance.now() - Buffer.from(frame.envelope.content.slice(0, 12), 'base64').readDoubleLE(0),
        );
      }
      pair.acks.push(frame.envelope.guid);
      if (pair.acks.length === 1)
        setImmediate(() => pair.receiverWs.send(JSON.stringify({ type: 'ack', guids: pair.acks.splice(0, 100) })));
    };
    pair.onSender = (frame) => {
      if (frame.type !== 'result') return;
      if (frame.status !== 200) throw new Error(`send refused: ${JSON.stringify(frame)}`);
      if (running) sendFrame(pair.senderWs, ++nextId, pair.receiver, timedContent());
    };
  }
  for (const pair of pairs)
    for (let i = 0; i < WINDOW; i++) sendFrame(pair.senderWs, ++nextId, pair.receiver, timedContent());
  await sleep(2000);
  stats.recording = true;
  const started = performance.now();
  const before = cpu ? cpuSnapshot(cpu.instances, cpu.database) : undefined;
  await sleep(SECONDS * 1000);
  const elapsed = (performance.now() - started) / 1000;
  stats.recording = false;
  const after = cpu ? cpuSnapshot(cpu.instances, cpu.database) : undefined;
  running = false;
  await sleep(1500);
  const sorted = stats.latencies.sort((a, b) => a - b);
  const result = {
    perSecond: Math.round(stats.delivered / elapsed),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
  if (before && after) {
    const perMessage = (seconds) => Math.round(((seconds * 1e6) / Math.max(1, stats.delivered)) * 10) / 10;
    const instanceSeconds = after.instances.map((x, i) => x - (before.instances[i] ?? 0));
    let database = 0;
    for (const [pid, x] of after.database) database += x - (before.database.get(pid) ?? 0);
    result.cpuMicrosPerMessage = {
      server: perMessage(instanceSeconds.reduce((x, y) => x + y, 0)),
      perInstance: instanceSeconds.map(perMessage),
      postgres: perMessage(Math.max(0, database)),
      redis: perMessage(Math.max(0, after.redis - before.redis)),
    };
  }
  return result;
}

async function connectPairs(devices, instanceOf) {
  const pairs = [];
  for (let i = 0; i + 1 < devices.length; i += 2) {
    const k = i / 2;
    const pair = { sender: devices[i], receiver: devices[i + 1], acks: [] };
    pair.senderWs = await connect(instanceOf(k, 'sender').ws, pair.sender, (f) => pair.onSender?.(f));
    pair.receiverWs = await connect(instanceOf(k, 'receiver').ws, pair.receiver, (f) => pair.onReceiver?.(f));
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

/** A local HTTPS push service (self-signed, trusted by the instances through NODE_EXTRA_CA_CERTS). */
async function startPushService() {
  const dir = mkdtempSync(join(tmpdir(), 'cove-bench-push-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const arrivals = new Map();
  /** Per subscription id: its private key and auth secret, to decrypt like a browser; and acceptance delays. */
  const keys = new Map();
  const acceptedToArrival = [];
  const server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const now = Date.now();
        const id = req.url.split('/').pop();
        if (!arrivals.has(id)) {
          arrivals.set(id, performance.now());
          const key = keys.get(id);
          if (key) {
            const payload = ece.decrypt(Buffer.concat(chunks), {
              version: 'aes128gcm',
              privateKey: key.ecdh,
              authSecret: key.auth,
            });
            /** Layout of packages/protocol/src/push.ts: version, kind, pending (2), length (2), envelope JSON. */
            if (payload[1] === 1) {
              const envelope = JSON.parse(payload.subarray(6, 6 + payload.readUInt16BE(4)).toString());
              acceptedToArrival.push(now - envelope.serverTimestamp);
            }
          }
        }
        res.writeHead(201);
        res.end();
      });
    },
  );
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `https://127.0.0.1:${server.address().port}`,
    certPath: join(dir, 'cert.pem'),
    arrivals,
    keys,
    acceptedToArrival,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A browser-side subscription: P-256 key pair and auth secret (the push service here decrypts like a browser). */
function subscriptionKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

/** Removes this run's queues, presence and heartbeat keys from the shared Redis. */
async function deleteRedisPrefix(prefix) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

async function main() {
  const database = `cove_bench_${randomBytes(5).toString('hex')}`;
  const prefix = `cove-bench-${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const push = await startPushService();
  const env = {
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    DATABASE_POOL_SIZE: '8',
    REDIS_URL,
    REDIS_PREFIX: prefix,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
    PORT: '0',
    HOST: '127.0.0.1',
    PWA_DIR: '/nonexistent',
    METRICS_PORT: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'cove-bench-data-')),
    // The local push service listens on a random port, which the allow-list must name (443 otherwise).
    PUSH_ALLOWED_HOSTS: new URL(push.origin).host,
    NODE_EXTRA_CA_CERTS: push.certPath,
  };
  const results = { date: new Date().toISOString(), pairs: PAIRS, seconds: SECONDS, window: WINDOW };
  const a = await startInstance(env);
  let b;
  try {
    const devices = await registerMany(a.url, 2 * PAIRS);

    // 1. One instance, then the same clients over two (senders alternate A/B, receivers alternate in pairs of
    //    pairs, so half the pairs cross instances); ROUNDS times, alternating, to spread the machine's load drift.
    b = await startInstance(env);
    results.rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      let pairs = await connectPairs(devices, () => a);
      const one = await runLoad(pairs, { instances: [a, b], database });
      closePairs(pairs);
      await sleep(1000);
      pairs = await connectPairs(devices, (k, role) => ((role === 'sender' ? k : Math.floor(k / 2)) % 2 === 0 ? a : b));
      const two = await runLoad(pairs, { instances: [a, b], database });
      closePairs(pairs);
      await sleep(1000);
      results.rounds.push({ one, two, ratio: two.perSecond / one.perSecond });
    }
    const mean = (xs) => xs.reduce((x, y) => x + y, 0) / xs.length;
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const summary = (key) => ({
      perSecond: Math.round(mean(results.rounds.map((r) => r[key].perSecond))),
      p50: mean(results.rounds.map((r) => r[key].p50)),
      p99: mean(results.rounds.map((r) => r[key].p99)),
      serverMicros: median(results.rounds.map((r) => r[key].cpuMicrosPerMessage.server)),
      postgresMicros: median(results.rounds.map((r) => r[key].cpuMicrosPerMessage.postgres)),
      redisMicros: median(results.rounds.map((r) => r[key].cpuMicrosPerMessage.redis)),
    });
    results.one = summary('one');
    results.two = summary('two');
    results.twoOverOne = results.two.perSecond / results.one.perSecond;
    // Half the pairs cross instances in the two-instance run, so the extra server CPU per crossing message is twice
    // the difference per message. With k instances and recipients spread evenly, (k-1)/k of the messages cross:
    // server CPU per message = one + crossing·(k-1)/k, and each core added to the server tier carries
    // 1e6 / that many messages per second (PostgreSQL's CPU per message is a separate, shared tier).
    results.crossingMicros = 2 * (results.two.serverMicros - results.one.serverMicros);
    results.projection = [1, 2, 4, 8].map((k) => {
      const micros = results.one.serverMicros + (Math.max(0, results.crossingMicros) * (k - 1)) / k;
      return { instances: k, serverMicrosPerMessage: micros, msgsPerSecondPerCore: Math.round(1e6 / micros) };
    });
    if (process.env.PHASES === 'load') {
      printLoad(results);
      return;
    }

    // 2. Offline drain.
    const [sender, sleeper] = await registerMany(a.url, 2);
    let acked = 0;
    const senderWs = await connect(a.ws, sender, (f) => {
      if (f.type === 'result') acked++;
    });
    for (let i = 0; i < DRAIN; i++) {
      sendFrame(senderWs, i, sleeper, randomBytes(CONTENT_BYTES).toString('base64'));
      if (i % 200 === 199) while (acked < i - 400) await sleep(5);
    }
    while (acked < DRAIN) await sleep(10);
    let received = 0;
    const drainStarted = performance.now();
    let drainWs;
    const drained = new Promise((resolve) => {
      void connect(b.ws, sleeper, (f) => {
        if (f.type === 'envelope') {
          received++;
          drainWs?.send(JSON.stringify({ type: 'ack', guids: [f.envelope.guid] }));
        }
        if (f.type === 'queue-empty') resolve(performance.now() - drainStarted);
      }).then((ws) => (drainWs = ws));
    });
    results.drain = { envelopes: DRAIN, received: 0, ms: await drained };
    results.drain.received = received;
    drainWs?.terminate();
    senderWs.terminate();

    // 3. Push delay for sleeping devices (subscriptions on the local push service; one envelope each).
    const [pushSender, ...sleepers] = await registerMany(a.url, PUSHES + 1);
    for (const [i, d] of sleepers.entries()) {
      const sub = subscriptionKeys();
      push.keys.set(String(i), sub);
      const res = await fetch(`${a.url}/v1/push/subscription`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${d.accountId}.1:${d.secret}`).toString('base64')}`,
        },
        body: JSON.stringify({ endpoint: `${push.origin}/push/${i}`, keys: { p256dh: sub.p256dh, auth: sub.auth } }),
      });
      if (res.status !== 204) throw new Error(`subscribe: ${res.status}`);
    }
    const sentAt = new Map();
    const pushWs = await connect(b.ws, pushSender, () => undefined);
    for (const [i, d] of sleepers.entries()) {
      sentAt.set(String(i), performance.now());
      sendFrame(pushWs, i, d, randomBytes(CONTENT_BYTES).toString('base64'));
      await sleep(20);
    }
    const deadline = Date.now() + 30_000;
    while (push.arrivals.size < PUSHES && Date.now() < deadline) await sleep(50);
    const delays = [...push.arrivals].map(([id, at]) => at - sentAt.get(id)).sort((x, y) => x - y);
    for (const instance of [a, b]) {
      const text = await (await fetch(instance.metricsUrl)).text();
      results.pushMetrics ??= [];
      results.pushMetrics.push(
        text
          .split('\n')
          .filter((l) =>
            /^cove_(push_total|push_send_duration_seconds_(sum|count)|envelopes_routed_total|job_failures)/.test(l),
          ),
      );
    }
    const accepted = [...push.acceptedToArrival].sort((x, y) => x - y);
    results.push = {
      acceptedToPush: { p50: percentile(accepted, 50), p99: percentile(accepted, 99), samples: accepted.length },
      devices: PUSHES,
      arrived: delays.length,
      p50: percentile(delays, 50),
      p99: percentile(delays, 99),
      max: delays.at(-1),
    };
    pushWs.terminate();
  } finally {
    if (b) await stopInstance(b);
    await stopInstance(a);
    await push.close();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    rmSync(env.DATA_DIR, { recursive: true, force: true });
    await deleteRedisPrefix(prefix);
  }
  const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
  printLoad(results);
  console.log(`offline drain: ${results.drain.received}/${DRAIN} envelopes in ${f(results.drain.ms)} ms (goal ≤ 2000)`);
  console.log(
    `push delay (accepted → push at the push service, server clock in the payload): p50 ${f(results.push.acceptedToPush.p50)} ms, p99 ${f(results.push.acceptedToPush.p99)} ms (goal p99 ≤ 200)`,
  );
  console.log(
    `push delay (send → push at the push service), ${results.push.arrived}/${PUSHES}: p50 ${f(results.push.p50)} ms, p99 ${f(results.push.p99)} ms (goal p99 ≤ 200)`,
  );
}

/** Phase 1's table, CPU per message, crossing overhead and the projection per added core. */
function printLoad(results) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
  console.log(JSON.stringify(results, null, 2));
  console.log(
    `load average: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    `\n| setup | delivered msgs/s | p50 ms | p99 ms | CPU µs/msg server / PostgreSQL / Redis (median of rounds) |\n| --- | ---: | ---: | ---: | ---: |`,
  );
  for (const [key, label] of [
    ['one', `one instance, ${PAIRS} pairs`],
    ['two', `two instances, ${PAIRS} pairs (half cross)`],
  ]) {
    const r = results[key];
    console.log(
      `| ${label} | ${r.perSecond} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.serverMicros)} / ${f(r.postgresMicros)} / ${f(r.redisMicros)} |`,
    );
  }
  console.log(
    `\ntwo/one throughput ratio (mean of ${ROUNDS} alternating rounds): ${results.twoOverOne.toFixed(2)}; per round: ${results.rounds.map((r) => r.ratio.toFixed(2)).join(', ')}`,
  );
  console.log(`cross-instance overhead: ${f(results.crossingMicros)} µs of server CPU per message that crosses`);
  console.log(
    `projected server-tier capacity per core: ${results.projection.map((p) => `${p.instances} instance(s): ${f(p.serverMicrosPerMessage)} µs/msg → ${p.msgsPerSecondPerCore}/s per core`).join('; ')}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
