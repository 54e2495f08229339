/**
 * Server memory and throughput of attachment transfers (not part of `npm test`; timing is never pass/fail): starts
 * the built API as a child process on PGlite in a fresh DATA_DIR with the disk store (`STORE=s3`: the S3 store on an
 * in-process s3rver), registers one account, uploads SIZE_MIB of random bytes with tus in CHUNK_MIB PATCHes whose
 * bodies are streamed from a generator (so the client holds one chunk), then downloads it whole, and samples the
 * server's resident set (`/proc/<pid>/status` VmRSS) every 20 ms throughout. It reports the RSS before, the peak
 * growth during upload and during download, and MiB/s of each. Goal (issue 11): growth below 32 MiB for 100 MiB.
 *
 * Usage: npm run build && node bench/attachments.bench.js   (env: SIZE_MIB=100 CHUNK_MIB=8 STORE=disk|s3)
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromApi = createRequire(join(ROOT, 'apps/api/package.json'));
const signal = requireFromApi('@signalapp/libsignal-client');
const SIZE_MIB = Number(process.env.SIZE_MIB ?? 100);
const CHUNK_MIB = Number(process.env.CHUNK_MIB ?? 8);
const STORE = process.env.STORE ?? 'disk';
const MIB = 1024 * 1024;
/** One random MiB repeated: generating 100 MiB of randomness would be the client's cost, not the server's. */
const BLOCK = randomBytes(MIB);

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const rssMiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

function startServer(dir, extraEnv) {
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
        METRICS_PORT: 'off',
        ATTACHMENT_STORE: STORE,
        ...extraEnv,
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

async function register(url) {
  const identity = signal.IdentityKeyPair.generate();
  const signed = signal.PrivateKey.generate().getPublicKey().serialize();
  const kyber = signal.KEMKeyPair.generate().getPublicKey().serialize();
  const secret = b64(randomBytes(32));
  const res = await fetch(`${url}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      secret,
      registrationId: 1 + (randomBytes(2).readUInt16BE() % 16000),
      identityKey: b64(identity.publicKey.serialize()),
      signedPreKey: { keyId: 1, publicKey: b64(signed), signature: b64(identity.privateKey.sign(signed)) },
      kyberLastResortPreKey: { keyId: 1, publicKey: b64(kyber), signature: b64(identity.privateKey.sign(kyber)) },
    }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const { accountId, deviceId } = await res.json();
  return `Basic ${Buffer.from(`${accountId}.${deviceId}:${secret}`).toString('base64')}`;
}

/** A body of `mib` MiB streamed one MiB at a time. */
function body(mib) {
  return new ReadableStream({
    index: 0,
    pull(controller) {
      if (this.index++ >= mib) controller.close();
      else controller.enqueue(new Uint8Array(BLOCK));
    },
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'cove-bench-att-'));
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
  const server = await startServer(join(dir, 'data'), env);
  const pid = server.child.pid;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  try {
    const authorization = await register(server.url);
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssMiB(pid);
    peak = before;
    const size = SIZE_MIB * MIB;
    let started = performance.now();
    const created = await fetch(`${server.url}/v1/attachments/tus`, {
      method: 'POST',
      headers: { authorization, 'tus-resumable': '1.0.0', 'upload-length': String(size) },
    });
    if (created.status !== 201) throw new Error(`create: ${created.status}`);
    const id = created.headers.get('location').split('/').pop();
    for (let offset = 0; offset < size; offset += CHUNK_MIB * MIB) {
      const mib = Math.min(CHUNK_MIB, (size - offset) / MIB);
      const res = await fetch(`${server.url}/v1/attachments/tus/${id}`, {
        method: 'PATCH',
        headers: {
          authorization,
          'tus-resumable': '1.0.0',
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
          'content-length': String(mib * MIB),
        },
        body: body(mib),
        duplex: 'half',
      });
      if (res.status !== 204) throw new Error(`patch: ${res.status} ${await res.text()}`);
    }
    const uploadSeconds = (performance.now() - started) / 1000;
    const uploadPeak = peak;

    peak = rssMiB(pid);
    const downloadBefore = peak;
    started = performance.now();
    const res = await fetch(`${server.url}/v1/attachments/${id}`, { headers: { authorization } });
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of res.body) {
      hash.update(chunk);
      received += chunk.length;
    }
    const downloadSeconds = (performance.now() - started) / 1000;
    const expected = createHash('sha256');
    for (let i = 0; i < SIZE_MIB; i++) expected.update(BLOCK);
    const result = {
      store: STORE,
      sizeMiB: SIZE_MIB,
      chunkMiB: CHUNK_MIB,
      rssBeforeMiB: Math.round(before),
      uploadRssGrowthMiB: Math.round((uploadPeak - before) * 10) / 10,
      uploadMiBps: Math.round((SIZE_MIB / uploadSeconds) * 10) / 10,
      downloadRssGrowthMiB: Math.round((peak - downloadBefore) * 10) / 10,
      downloadMiBps: Math.round((SIZE_MIB / downloadSeconds) * 10) / 10,
      bytesIdentical: received === size && hash.digest('hex') === expected.digest('hex'),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    clearInterval(sampler);
    server.child.removeAllListeners('exit');
    const done = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await done;
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
