/**
 * End-to-end attachment transfer against a plain HTTP transfer of the same bytes, in the same run, to the same
 * server (not part of `npm test`; timing is never pass/fail). Starts the built API as a child process on PGlite in a
 * fresh DATA_DIR (disk store, or `STORE=s3`: the S3 store on an in-process s3rver), then, ROUNDS times alternately:
 *
 * - plain: one account uploads the file's bytes as they are (read from disk, streamed) with tus in 8 MiB PATCHes
 *   and downloads them whole with one GET, writing them to disk and hashing them;
 * - end to end: two `@cove/client` messengers (the real client core on the Node platform, data in temp dirs) —
 *   alice's `sendAttachment` (given the file's size, as the CLI does) encrypts the file from disk into her blob store
 *   and PATCHes each encrypted 4 MiB piece while the rest is encrypted, the outbox sends the message; bob receives
 *   it, downloads it (ranged GETs, resumable, the next one in flight while a piece is stored), verifies the digest
 *   and every chunk as it arrives, then decrypts it in one pass (each chunk checked against the verified chunk
 *   hashes) to a file and hashes it. Timed from `sendAttachment` to bob's last byte on disk.
 *
 * It prints each round, the median MiB/s of both and their ratio (goal, issue 11: end to end ≥ 0.5× plain). Then it
 * measures the server during a 100 MiB upload (MEMORY_MIB) by the client core's uploader (4 MiB PATCHes) and by a
 * plain tus client (8 MiB PATCHes): peak growth of its resident set (`/proc/<pid>/status` VmRSS, every 20 ms) and
 * of its V8 heap (`cove_nodejs_heap_size_used_bytes` from the metrics listener, every 100 ms). Goal: < 32 MiB.
 *
 * Usage: npm run bench:attachments-e2e   (env: SIZE_MIB=50 ROUNDS=2 MEMORY_MIB=100 STORE=disk|s3)
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

import { Messenger } from '@cove/client';
import { attachmentBlobSize, attachmentPaddedSize } from '@cove/crypto';
import { createNodePlatform, createStderrLogger } from '@cove/client/node';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromApi = createRequire(join(ROOT, 'apps/api/package.json'));
const SIZE_MIB = Number(process.env.SIZE_MIB ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const MEMORY_MIB = Number(process.env.MEMORY_MIB ?? 100);
const STORE = process.env.STORE ?? 'disk';
const MIB = 1024 * 1024;
/** Plain PATCHes as large as the server bench's: the plain side gets its best case, not the client's 4 MiB. */
const PLAIN_CHUNK = 8 * MIB;

/** The largest plain size whose blob (padded to its bucket, with the format's overhead) fits in `limit` bytes. */
const largestPlainSizeWithin = (limit) => {
  let low = 0;
  let high = limit;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (attachmentBlobSize(attachmentPaddedSize(mid)) <= limit) low = mid;
    else high = mid - 1;
  }
  return low;
};

const round1 = (n) => Math.round(n * 10) / 10;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rssMiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

const freePort = () =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

function startServer(dir, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'apps/api/dist/workers/api.js')], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: '',
        DATA_DIR: dir,
        RATE_LIMITS: 'off',
        LOG_LEVEL: 'warn',
        PWA_DIR: '/nonexistent',
        ATTACHMENT_STORE: STORE,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`. */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from the state field (3): indexes 11 and 12; clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/**
 * Samples the server's RSS (20 ms) and V8 heap (100 ms, from its metrics) while `fn` runs; returns peak growth and
 * the CPU seconds the server and this process (both clients) spent: on a loaded machine wall time mostly measures
 * the wait for a core, and CPU time is what each transfer costs.
 */
async function sampled(pid, metricsUrl, fn) {
  const heapMiB = async () => {
    const text = await (await fetch(metricsUrl)).text();
    const m = /^cove_nodejs_heap_size_used_bytes\s+(\S+)/m.exec(text);
    return m ? Number(m[1]) / MIB : NaN;
  };
  const rssBefore = rssMiB(pid);
  const heapBefore = await heapMiB();
  let rssPeak = rssBefore;
  let heapPeak = heapBefore;
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 20);
  let sampling = true;
  const heapLoop = (async () => {
    while (sampling) {
      heapPeak = Math.max(heapPeak, await heapMiB().catch(() => heapPeak));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = performance.now();
  const serverCpu = cpuSeconds(pid);
  const clientCpu = process.cpuUsage();
  try {
    const value = await fn();
    const client = process.cpuUsage(clientCpu);
    return {
      value,
      seconds: (performance.now() - started) / 1000,
      serverCpuSeconds: round1(cpuSeconds(pid) - serverCpu),
      clientCpuSeconds: round1((client.user + client.system) / 1e6),
      rssBeforeMiB: Math.round(rssBefore),
      rssGrowthMiB: round1(rssPeak - rssBefore),
      heapGrowthMiB: round1(heapPeak - heapBefore),
    };
  } finally {
    clearInterval(rssTimer);
    sampling = false;
    await heapLoop;
  }
}

async function openMessenger(serverUrl, username) {
  const dataDir = mkdtempSync(join(tmpdir(), `cove-bench-${username}-`));
  const platform = await createNodePlatform({ dataDir, logger: createStderrLogger('error') });
  const messenger = await Messenger.open(platform);
  const account = await messenger.register({ serverUrl, username, oneTimePreKeys: 5 });
  const stored = await platform.storage.get('meta', 'account');
  const authorization = `Basic ${Buffer.from(
    `${account.accountId}.${account.deviceId}:${Buffer.from(stored.secret).toString('base64')}`,
  ).toString('base64')}`;
  return { dataDir, platform, messenger, accountId: account.accountId, authorization };
}

async function closeMessenger(client) {
  await client.messenger.close();
  await client.platform.close();
  rmSync(client.dataDir, { recursive: true, force: true });
}

/** Writes `pieces` to `path`, hashing them; resolves with the hex SHA-256 and the byte count. */
async function saveAndHash(pieces, path) {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  let size = 0;
  for await (const piece of pieces) {
    hash.update(piece);
    size += piece.length;
    if (!out.write(piece)) await new Promise((r) => out.once('drain', r));
  }
  out.end();
  await finished(out);
  return { sha256: hash.digest('hex'), size };
}

/** A tus upload of `size` bytes of `file` in `chunk`-byte PATCHes, each body streamed from disk; returns its id. */
async function plainUpload(url, authorization, file, size, chunk) {
  const created = await fetch(`${url}/v1/attachments/tus`, {
    method: 'POST',
    headers: { authorization, 'tus-resumable': '1.0.0', 'upload-length': String(size) },
  });
  if (created.status !== 201) throw new Error(`create: ${created.status}`);
  const id = created.headers.get('location').split('/').pop();
  for (let offset = 0; offset < size; offset += chunk) {
    const length = Math.min(chunk, size - offset);
    const res = await fetch(`${url}/v1/attachments/tus/${id}`, {
      method: 'PATCH',
      headers: {
        authorization,
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        'content-length': String(length),
      },
      body: createReadStream(file, { start: offset, end: offset + length - 1 }),
      duplex: 'half',
    });
    if (res.status !== 204) throw new Error(`patch: ${res.status} ${await res.text()}`);
  }
  return id;
}

async function plainRound(url, client, file, size, outFile) {
  const started = performance.now();
  const id = await plainUpload(url, client.authorization, file, size, PLAIN_CHUNK);
  const uploaded = performance.now();
  const res = await fetch(`${url}/v1/attachments/${id}`, { headers: { authorization: client.authorization } });
  if (res.status !== 200) throw new Error(`download: ${res.status}`);
  const saved = await saveAndHash(res.body, outFile);
  saved.stages = {
    upload: round1((uploaded - started) / 1000),
    'download+write': round1((performance.now() - uploaded) / 1000),
  };
  await fetch(`${url}/v1/attachments/tus/${id}`, {
    method: 'DELETE',
    headers: { authorization: client.authorization, 'tus-resumable': '1.0.0' },
  });
  return saved;
}

/** Resolves with bob's message carrying an attachment from alice sent at `timestamp`. */
function incoming(bob, timestamp) {
  return new Promise((resolve) => {
    const unsubscribe = bob.messenger.subscribe((event) => {
      if (event.type === 'message-added' && event.message.timestamp === timestamp && event.message.attachments) {
        unsubscribe();
        resolve(event.message);
      }
    });
  });
}

async function e2eRound(alice, bob, file, outFile) {
  // The message's timestamp is only known once sendAttachment returns: watch every new incoming attachment.
  const arrivals = [];
  const unsubscribe = bob.messenger.subscribe((event) => {
    if (event.type === 'message-added' && event.message.attachments) arrivals.push(event.message);
  });
  const stages = {};
  let mark = performance.now();
  const stage = (name) => {
    const now = performance.now();
    stages[name] = round1((now - mark) / 1000);
    mark = now;
  };
  const sent = await alice.messenger.sendAttachment(bob.accountId, {
    source: createReadStream(file),
    size: statSync(file).size,
    contentType: 'application/octet-stream',
    fileName: 'bench.bin',
  });
  stage('encrypt+upload');
  await alice.messenger.flushOutbox();
  stage('send');
  const status = (await alice.messenger.message(sent.id))?.status;
  if (status !== 'sent' && status !== 'delivered') throw new Error(`alice's message is ${status}`);
  const message = arrivals.find((m) => m.timestamp === sent.timestamp) ?? (await incoming(bob, sent.timestamp));
  unsubscribe();
  stage('receive');
  // As `cove listen` saves it: downloaded, verified and decrypted in one pass into the file.
  const saved = await saveAndHash(bob.messenger.downloadAndDecryptAttachment(message.id, 0), outFile);
  stage('download+verify+decrypt+write');
  saved.stages = stages;
  // Not timed: bob reads it again from his device (one pass over the stored blob, with the chunk hashes verified on
  // download), then both sides' blobs and the upload go, so the next round starts from the same state.
  saved.afterwards = async () => {
    const started = performance.now();
    const again = await saveAndHash(bob.messenger.readAttachment(message.id, 0), `${outFile}.again`);
    if (again.sha256 !== saved.sha256) throw new Error('end to end: the stored attachment reads back differently');
    stages['read again (not timed)'] = round1((performance.now() - started) / 1000);
    await bob.messenger.deleteMessage(message.id);
    await alice.messenger.deleteMessage(sent.id);
  };
  return saved;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'cove-bench-att-e2e-'));
  let s3 = null;
  const env = {};
  if (STORE === 's3') {
    const { default: S3rver } = await import(requireFromApi.resolve('s3rver'));
    s3 = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: join(dir, 's3'),
      configureBuckets: [{ name: 'cove-bench' }],
    });
    const { port } = await s3.run();
    Object.assign(env, {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: 'cove-bench',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
    });
  }
  const metricsPort = await freePort();
  const server = await startServer(join(dir, 'data'), { ...env, METRICS_PORT: String(metricsPort) });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const pid = server.child.pid;
  const clients = [];
  try {
    const alice = await openMessenger(server.url, `bench_alice_${randomBytes(3).toString('hex')}`);
    clients.push(alice);
    const bob = await openMessenger(server.url, `bench_bob_${randomBytes(3).toString('hex')}`);
    clients.push(bob);
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
    // The session and the first (small) exchange are set up before anything is timed.
    await alice.messenger.sendText(bob.accountId, 'warm-up');
    await alice.messenger.flushOutbox();

    const size = SIZE_MIB * MIB;
    const file = join(dir, 'input.bin');
    writeFileSync(file, randomBytes(size));
    const expected = createHash('sha256').update(readFileSync(file)).digest('hex');
    const load = loadavg().map((n) => n.toFixed(1));
    const plain = [];
    const e2e = [];
    const plainCpu = [];
    const e2eCpu = [];
    for (let round = 0; round < ROUNDS; round++) {
      const p = await sampled(pid, metricsUrl, () => plainRound(server.url, alice, file, size, join(dir, 'plain.out')));
      const e = await sampled(pid, metricsUrl, () => e2eRound(alice, bob, file, join(dir, 'e2e.out')));
      await e.value.afterwards();
      for (const [kind, r] of [
        ['plain', p],
        ['end-to-end', e],
      ])
        if (r.value.sha256 !== expected || r.value.size !== size) throw new Error(`${kind}: bytes differ`);
      plain.push(SIZE_MIB / p.seconds);
      e2e.push(SIZE_MIB / e.seconds);
      plainCpu.push(p.clientCpuSeconds + p.serverCpuSeconds);
      e2eCpu.push(e.clientCpuSeconds + e.serverCpuSeconds);
      process.stdout.write(
        `round ${round + 1}: plain ${round1(SIZE_MIB / p.seconds)} MiB/s (server RSS +${p.rssGrowthMiB} MiB, heap +${p.heapGrowthMiB} MiB), ` +
          `end to end ${round1(SIZE_MIB / e.seconds)} MiB/s (server RSS +${e.rssGrowthMiB} MiB, heap +${e.heapGrowthMiB} MiB); ` +
          `seconds: plain ${JSON.stringify(p.value.stages)}, end to end ${JSON.stringify(e.value.stages)}; ` +
          `CPU s (client/server): plain ${p.clientCpuSeconds}/${p.serverCpuSeconds}, end to end ${e.clientCpuSeconds}/${e.serverCpuSeconds}\n`,
      );
    }

    // Server memory during a MEMORY_MIB upload: the client core's uploader, then a plain tus client.
    const big = join(dir, 'big.bin');
    rmSync(file);
    const out = createWriteStream(big);
    for (let i = 0; i < MEMORY_MIB; i++) out.write(randomBytes(MIB));
    out.end();
    await finished(out);
    const bigSize = MEMORY_MIB * MIB;
    // Encryption runs on the client; the server is sampled from the upload's creation to the message's send.
    const corePlain = largestPlainSizeWithin(bigSize);
    const coreMemory = await sampled(pid, metricsUrl, async () => {
      const sent = await alice.messenger.sendAttachment(bob.accountId, {
        source: createReadStream(big, { end: corePlain - 1 }),
        size: corePlain,
        contentType: 'application/octet-stream',
        fileName: 'big.bin',
      });
      await alice.messenger.flushOutbox();
      const status = (await alice.messenger.message(sent.id))?.status;
      if (status !== 'sent' && status !== 'delivered') throw new Error(`alice's large message is ${status}`);
      return sent;
    });
    const plainMemory = await sampled(pid, metricsUrl, () =>
      plainUpload(server.url, alice.authorization, big, bigSize, PLAIN_CHUNK),
    );
    const result = {
      date: new Date().toISOString(),
      store: STORE,
      loadAverage: load,
      sizeMiB: SIZE_MIB,
      rounds: ROUNDS,
      plainMiBps: round1(median(plain)),
      endToEndMiBps: round1(median(e2e)),
      ratio: Math.round((median(e2e) / median(plain)) * 100) / 100,
      plainCpuSeconds: round1(median(plainCpu)),
      endToEndCpuSeconds: round1(median(e2eCpu)),
      cpuRatio: Math.round((median(plainCpu) / median(e2eCpu)) * 100) / 100,
      memory: {
        sizeMiB: MEMORY_MIB,
        clientCoreUpload: {
          plainMiB: round1(corePlain / MIB),
          blobMiB: round1(attachmentBlobSize(attachmentPaddedSize(corePlain)) / MIB),
          rssBeforeMiB: coreMemory.rssBeforeMiB,
          rssGrowthMiB: coreMemory.rssGrowthMiB,
          heapGrowthMiB: coreMemory.heapGrowthMiB,
          MiBps: round1(corePlain / MIB / coreMemory.seconds),
        },
        plainUpload: {
          rssBeforeMiB: plainMemory.rssBeforeMiB,
          rssGrowthMiB: plainMemory.rssGrowthMiB,
          heapGrowthMiB: plainMemory.heapGrowthMiB,
          MiBps: round1(MEMORY_MIB / plainMemory.seconds),
        },
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const client of clients) await closeMessenger(client).catch(() => undefined);
    server.child.removeAllListeners('exit');
    const done = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await done;
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
