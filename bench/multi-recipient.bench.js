/**
 * One group message to RECIPIENTS devices, server side (not part of `npm test`): starts the built API as a child
 * process on a fresh PostgreSQL database (127.0.0.1:5432), registers RECIPIENTS accounts and one sender through the
 * HTTP API (keys signed with libsignal), then, in the same run and on the same server:
 *   - multi: one `PUT /v1/messages/multi` carrying one CONTENT_BYTES ciphertext for every recipient device
 *     (ROUNDS times; server acceptance time = request sent → `200`, which means durably stored);
 *   - direct: RECIPIENTS separate `PUT /v1/messages/{accountId}` of the same size (ROUNDS times), CONCURRENCY in
 *     flight at once (the best case for 1:1 sends: group commit shares their statements), from first request to last
 *     `200`;
 * and, after each, the bytes the database holds for that message: ciphertext bytes (`shared_payloads.content` plus
 * the rows' own `content`) and whole rows (`pg_column_size`), acknowledging everything before the next round.
 * It measures the server only (no client encryption); compare the two modes, not absolute numbers across machines.
 *
 * Usage: npm run bench:multi-recipient -w apps/api   (env: RECIPIENTS=1000 ROUNDS=3 CONCURRENCY=16 CONTENT_BYTES=300;
 * API_ENTRY=<another build's apps/api/dist/workers/api.js> benches that build, e.g. a baseline checkout)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as signal from '@signalapp/libsignal-client';
import pg from 'pg';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RECIPIENTS = Number(process.env.RECIPIENTS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const CONTENT_BYTES = Number(process.env.CONTENT_BYTES ?? 300);
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round1 = (n) => Math.round(n * 10) / 10;

function startServer(databaseUrl) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [process.env.API_ENTRY ?? join(ROOT, 'apps/api/dist/workers/api.js')], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        DATA_DIR: '/tmp/cove-bench-multi',
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

const auth = (device) => `Basic ${Buffer.from(`${device.accountId}.1:${device.secret}`).toString('base64')}`;

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

async function put(url, from, path, body) {
  const res = await fetch(`${url}${path}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: auth(from) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Ciphertext bytes and whole-row bytes the database holds for queued envelopes, and the payload rows. */
async function stored(db) {
  const [e] = (
    await db.query(
      `SELECT count(*)::int AS rows, coalesce(sum(octet_length(content)), 0)::int AS own,
              coalesce(sum(pg_column_size(e.*)), 0)::int AS row_bytes FROM envelopes e`,
    )
  ).rows;
  const [p] = (
    await db.query(
      `SELECT count(*)::int AS payloads, coalesce(sum(octet_length(content)), 0)::int AS shared,
              coalesce(sum(pg_column_size(p.*)), 0)::int AS row_bytes FROM shared_payloads p`,
    )
  ).rows;
  return {
    envelopeRows: e.rows,
    payloadRows: p.payloads,
    ciphertextBytes: e.own + p.shared,
    rowBytes: e.row_bytes + p.row_bytes,
  };
}

const empty = (db) => db.query('DELETE FROM envelopes');

const name = `cove_bench_multi_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const databaseUrl = `postgres://postgres@127.0.0.1:5432/${name}`;
const server = await startServer(databaseUrl);
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
try {
  const kyber = signal.KEMKeyPair.generate().getPublicKey().serialize();
  const sender = await registerDevice(server.url, kyber);
  const recipients = [];
  while (recipients.length < RECIPIENTS) {
    const batch = Math.min(20, RECIPIENTS - recipients.length);
    recipients.push(...(await Promise.all(Array.from({ length: batch }, () => registerDevice(server.url, kyber)))));
  }
  const content = b64(randomBytes(CONTENT_BYTES));
  const multiBody = () => ({
    type: 'senderkey',
    content,
    timestamp: Date.now(),
    recipients: recipients.map((r) => ({
      accountId: r.accountId,
      devices: [{ deviceId: 1, registrationId: r.registrationId }],
    })),
  });
  const directBody = (r) => ({
    timestamp: Date.now(),
    messages: [{ destinationDeviceId: 1, destinationRegistrationId: r.registrationId, type: 'whisper', content }],
  });

  /** Warm-up: one of each, so both paths have their statements prepared and connections open. */
  await put(server.url, sender, '/v1/messages/multi', multiBody());
  await put(server.url, sender, `/v1/messages/${recipients[0].accountId}`, directBody(recipients[0]));
  await empty(db);

  const multi = [];
  const direct = [];
  let multiStored;
  let directStored;
  for (let round = 0; round < ROUNDS; round++) {
    const body = JSON.stringify(multiBody());
    let started = performance.now();
    const res = await fetch(`${server.url}/v1/messages/multi`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: auth(sender) },
      body,
    });
    const answer = await res.json();
    multi.push(performance.now() - started);
    if (res.status !== 200 || answer.stored !== RECIPIENTS) throw new Error(`multi: ${res.status}`);
    multiStored = { requestBytes: Buffer.byteLength(body), ...(await stored(db)) };
    await empty(db);

    started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < recipients.length) {
          const r = recipients[next++];
          await put(server.url, sender, `/v1/messages/${r.accountId}`, directBody(r));
        }
      }),
    );
    direct.push(performance.now() - started);
    directStored = await stored(db);
    await empty(db);
  }
  const result = {
    date: new Date().toISOString(),
    recipients: RECIPIENTS,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    contentBytes: CONTENT_BYTES,
    multiAcceptanceMs: multi.map(round1),
    directAcceptanceMs: direct.map(round1),
    medianSpeedup: round1(median(direct) / median(multi)),
    multiStored,
    directStored,
    /** Goal: ≤ 1.1 × one ciphertext (plus the per-device rows, which hold no ciphertext here). */
    multiCiphertextPerOneCiphertext: Math.round((multiStored.ciphertextBytes / CONTENT_BYTES) * 100) / 100,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await db.end();
  await stopServer(server);
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
