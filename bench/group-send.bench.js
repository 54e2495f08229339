/**
 * Group send benchmark (issue 14; not part of `npm test`). Starts the built API as a child process on a fresh
 * PostgreSQL database (RATE_LIMITS=off), registers MEMBERS accounts through the real HTTP API (real libsignal keys,
 * one shared Kyber key pair to save time), and one sender running the real `@cove/client` Messenger (Node platform,
 * WebSocket connected). The sender creates a group of all members (every session is set up and its sender key
 * distributed before anything is timed), then, in the same run and for the same text:
 *   - one message to the group: `sendGroupText` + `flushOutbox` (encrypt once, one `send-multi`, server acceptance),
 *     best and median of ROUNDS,
 *   - the same text as separate 1:1 messages to each of the MEMBERS - 1 other members: `sendText` to each +
 *     `flushOutbox` (encrypt per device, one send per member), once,
 * and reports wall time, the sender's CPU, the server's and PostgreSQL's CPU, the ratio, and what the server stored
 * for one group message (shared ciphertext bytes, envelope rows and their bytes) against one ciphertext.
 *
 * Usage: npm run bench:groups -w packages/client   (env: MEMBERS=1000 ROUNDS=5)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdirSync, readFileSync, rm } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as signal from '@signalapp/libsignal-client';
import pg from 'pg';

import { Messenger } from '@cove/client';
import { createNodePlatform, createStderrLogger } from '@cove/client/node';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MEMBERS = Number(process.env.MEMBERS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ADMIN_URL = process.env.ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TEXT = 'The trail meets at the north gate at 7:30; bring water, the hut is closed this week.';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** User + system CPU seconds used so far by a process. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of the PostgreSQL backends serving `database`, summed (backends live as long as the pool here). */
function databaseCpu(database) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.startsWith('postgres: ') && cmdline.includes(` ${database} `)) total += cpuSeconds(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

function startServer(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'apps/api/dist/workers/api.js')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m =
        /listening (?:on http:\/\/127\.0\.0\.1:)?(\d+)/.exec(out) ??
        /Cove API listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

async function stopServer(child) {
  child.removeAllListeners('exit');
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** One member account through the API, with real keys (the Kyber key pair shared between members to save time). */
async function registerMember(url, kyberPublic) {
  const identity = signal.IdentityKeyPair.generate();
  const signed = signal.PrivateKey.generate().getPublicKey().serialize();
  const res = await fetch(`${url}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      secret: b64(randomBytes(32)),
      registrationId: 1 + (randomBytes(2).readUInt16BE() % 16000),
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
  return (await res.json()).accountId;
}

/** Runs `fn` and returns wall ms, this process's CPU ms, the server's and the database's CPU ms. */
async function measure(serverPid, database, fn) {
  const cpu0 = process.cpuUsage();
  const server0 = cpuSeconds(serverPid);
  const db0 = databaseCpu(database);
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    wallMs: wall,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    serverCpuMs: (cpuSeconds(serverPid) - server0) * 1000,
    databaseCpuMs: Math.max(0, databaseCpu(database) - db0) * 1000,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function main() {
  const database = `cove_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const { child, port } = await startServer({
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    DATABASE_POOL_SIZE: '8',
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
    PORT: '0',
    HOST: '127.0.0.1',
    PWA_DIR: '/nonexistent',
  });
  const url = `http://127.0.0.1:${port}`;
  const dir = await promisify(mkdtemp)(join(tmpdir(), 'cove-bench-groups-'));
  const db = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${database}` });
  await db.connect();
  let platform;
  let messenger;
  try {
    const setup0 = performance.now();
    const kyber = signal.KEMKeyPair.generate().getPublicKey().serialize();
    const members = [];
    // The group has MEMBERS members: the sender and MEMBERS - 1 others, each also sent the text 1:1 below.
    while (members.length < MEMBERS - 1)
      members.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(20, MEMBERS - 1 - members.length) }, () => registerMember(url, kyber)),
        )),
      );
    platform = await createNodePlatform({ dataDir: dir, logger: createStderrLogger('error') });
    messenger = await Messenger.open(platform);
    await messenger.register({ serverUrl: url, username: 'bench_sender', oneTimePreKeys: 1 });
    await messenger.connect();
    const group = await messenger.createGroup('Bench group', members);
    await messenger.flushOutbox();
    // The first message distributes our sender key pairwise to every member device (sessions exist by now).
    const first = await measure(child.pid, database, async () => {
      await messenger.sendGroupText(group.id, TEXT);
      await messenger.flushOutbox();
    });
    const setupMs = performance.now() - setup0;

    const groupRuns = [];
    const requests0 = messenger.multiRecipientRequests;
    for (let i = 0; i < ROUNDS; i++)
      groupRuns.push(
        await measure(child.pid, database, async () => {
          const sent = await messenger.sendGroupText(group.id, TEXT);
          await messenger.flushOutbox();
          if ((await messenger.message(sent.id))?.status !== 'sent') throw new Error('group message not sent');
        }),
      );
    const requestsPerMessage = (messenger.multiRecipientRequests - requests0) / ROUNDS;

    // What the server keeps for the last group message: its shared ciphertext once, and one row per device.
    const [last] = (await messenger.messages(`group:${group.id}`, { limit: 1 })).messages;
    const rows = await db.query(
      `SELECT count(*)::int AS rows, sum(octet_length(e.content))::int AS own_bytes, count(DISTINCT e.payload_id)::int AS payloads
         FROM envelopes e WHERE e.timestamp = $1 AND e.type = 'senderkey'`,
      [last.timestamp],
    );
    const payload = await db.query(
      `SELECT octet_length(p.content)::int AS bytes, pg_column_size(p.content)::int AS stored
         FROM shared_payloads p WHERE p.id IN (SELECT payload_id FROM envelopes WHERE timestamp = $1)`,
      [last.timestamp],
    );
    const envelopeRowBytes = await db.query(
      `SELECT avg(pg_column_size(e.*))::int AS row_bytes FROM envelopes e WHERE e.timestamp = $1`,
      [last.timestamp],
    );

    const direct = await measure(child.pid, database, async () => {
      for (const member of members) await messenger.sendText(member, TEXT);
      await messenger.flushOutbox();
    });
    const directRows = await db.query(
      `SELECT avg(octet_length(content))::int AS bytes FROM envelopes WHERE type IN ('whisper', 'prekey') AND source_device_id = 1 AND timestamp > $1`,
      [last.timestamp],
    );

    const best = Math.min(...groupRuns.map((r) => r.wallMs));
    const med = median(groupRuns.map((r) => r.wallMs));
    const result = {
      members: MEMBERS,
      setupMs,
      firstMessageWithDistribution: first,
      group: { runs: groupRuns, bestMs: best, medianMs: med, requestsPerMessage },
      direct,
      speedupMedian: direct.wallMs / med,
      speedupBest: direct.wallMs / best,
      storage: {
        sharedPayloads: rows.rows[0].payloads,
        deviceRows: rows.rows[0].rows,
        deviceRowOwnContentBytes: rows.rows[0].own_bytes,
        sharedCiphertextBytes: payload.rows[0]?.bytes,
        sharedStoredBytes: payload.rows[0]?.stored,
        avgEnvelopeRowBytes: envelopeRowBytes.rows[0].row_bytes,
        oneToOneCiphertextBytes: directRows.rows[0].bytes,
      },
      load: readFileSync('/proc/loadavg', 'utf8').trim(),
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(
      `group message to ${MEMBERS}: best ${fmt(best)}, median ${fmt(med)} (${requestsPerMessage} request each); ` +
        `${MEMBERS - 1} 1:1 messages: ${fmt(direct.wallMs)}; speed-up ${result.speedupMedian.toFixed(0)}× (median), ` +
        `${result.speedupBest.toFixed(0)}× (best)`,
    );
  } finally {
    await messenger?.close();
    await platform?.close();
    await db.end();
    await stopServer(child);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    await promisify(rm)(dir, { recursive: true, force: true });
  }
}

await main();
