/**
 * What durable commits cost the embedded database (not part of `npm test`): starts the built API as a child process
 * on PGlite in a fresh directory, once with `PGLITE_FSYNC=on` (the default: every commit waits for its WAL on disk)
 * and once with `off`, registers SENDERS senders and one recipient through the HTTP API (keys signed with
 * libsignal), then measures HTTP sends (`PUT /v1/messages/:id`, one ~300-byte envelope each, 200 = stored):
 *   - one sender at a time: p50/p90 latency of SEQUENTIAL sends,
 *   - SENDERS senders at once, each with one send in flight, for SECONDS: sends/s (group commit shares fsyncs).
 * It measures the disk of the machine it runs on; compare the two modes, not absolute numbers across machines.
 *
 * Usage: npm run bench:pglite -w apps/api   (env: SEQUENTIAL=200  SENDERS=20  SECONDS=10)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as signal from '@signalapp/libsignal-client';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? 200);
const SENDERS = Number(process.env.SENDERS ?? 20);
const SECONDS = Number(process.env.SECONDS ?? 10);
const CONTENT = randomBytes(300).toString('base64');

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Starts the API on PGlite in `dir`; resolves with its URL once it listens. */
function startServer(dir, fsync) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'apps/api/dist/workers/api.js')], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: '',
        PGLITE_DIR: dir,
        PGLITE_FSYNC: fsync,
        DATA_DIR: dir,
        RATE_LIMITS: 'off',
        LOG_LEVEL: 'warn',
        PWA_DIR: '/nonexistent',
        METRICS_PORT: 'off',
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

async function stopServer(server) {
  server.child.removeAllListeners('exit');
  const done = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  await done;
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
  return { accountId, secret, registrationId };
}

/** One send; resolves with its duration in ms. */
async function send(url, from, to) {
  const started = performance.now();
  const res = await fetch(`${url}/v1/messages/${to.accountId}`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${from.accountId}.1:${from.secret}`).toString('base64')}`,
    },
    body: JSON.stringify({
      timestamp: Date.now(),
      messages: [
        { destinationDeviceId: 1, destinationRegistrationId: to.registrationId, type: 'whisper', content: CONTENT },
      ],
    }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`send: ${res.status}`);
  return performance.now() - started;
}

async function measure(fsync) {
  const dir = mkdtempSync(join(tmpdir(), `cove-bench-pglite-${fsync}-`));
  const server = await startServer(dir, fsync);
  try {
    const kyber = signal.KEMKeyPair.generate().getPublicKey().serialize();
    const recipient = await registerDevice(server.url, kyber);
    const senders = [];
    for (let i = 0; i < SENDERS; i++) senders.push(await registerDevice(server.url, kyber));
    for (let i = 0; i < 20; i++) await send(server.url, senders[0], recipient);

    const latencies = [];
    for (let i = 0; i < SEQUENTIAL; i++) latencies.push(await send(server.url, senders[0], recipient));
    latencies.sort((a, b) => a - b);

    let sent = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const started = performance.now();
    await Promise.all(
      senders.map(async (from) => {
        while (performance.now() < deadline) {
          await send(server.url, from, recipient);
          sent++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return {
      fsync,
      sequentialP50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
      sequentialP90Ms: Math.round(percentile(latencies, 90) * 10) / 10,
      concurrentSendsPerSecond: Math.round(sent / elapsed),
    };
  } finally {
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = {
  date: new Date().toISOString(),
  sequential: SEQUENTIAL,
  senders: SENDERS,
  seconds: SECONDS,
  runs: [],
};
for (const fsync of ['on', 'off', 'on', 'off']) results.runs.push(await measure(fsync));
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
