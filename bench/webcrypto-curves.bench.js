/**
 * Decides goal 4 of issue 17 with figures: what X25519 and Ed25519 cost through the platform's WebCrypto against
 * libsodium's WebAssembly (what @cove/crypto uses), in Node and in Chromium, per operation the protocol needs —
 * an agreement with keys already imported (CryptoKey objects cached), the imports themselves (a raw private key
 * must be wrapped in PKCS #8), a fresh key pair that must be exported to be stored, and a signature check. Each
 * figure is the mean over a few thousand sequential operations, after a warm-up; Node also reports CPU time of the
 * process (WebCrypto work runs on libuv's thread pool and is counted there). Not part of `npm test`.
 *
 * Usage: node bench/webcrypto-curves.bench.js   (env: N=2000, CHROMIUM=/usr/bin/chromium, SKIP_BROWSER=1)
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const N = Number(process.env.N ?? 2000);

/**
 * The measurement, as one self-contained async function so that the same source runs in Node and in the page.
 * `sodium` is libsodium-wrappers-sumo after `ready`, `cpu` returns CPU microseconds so far (or null).
 */
async function measure(sodium, n, cpu) {
  const subtle = globalThis.crypto.subtle;
  const rows = [];
  const run = async (name, op) => {
    for (let i = 0; i < Math.min(200, n); i++) await op();
    const c0 = cpu();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await op();
    const wall = ((performance.now() - t0) * 1000) / n;
    const c1 = cpu();
    rows.push({ name, wallUs: wall, cpuUs: c0 === null ? null : (c1 - c0) / n });
  };
  const PKCS8_X25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20];
  const pkcs8 = (k) => {
    const out = new Uint8Array(48);
    out.set(PKCS8_X25519);
    out.set(k, 16);
    return out;
  };
  const a = sodium.randombytes_buf(32);
  const bPublic = sodium.crypto_scalarmult_base(sodium.randombytes_buf(32));
  const x = { name: 'X25519' };
  const pub = await subtle.importKey('raw', bPublic, x, false, []);
  const priv = await subtle.importKey('pkcs8', pkcs8(a), x, false, ['deriveBits']);
  const same = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256));
  const expected = sodium.crypto_scalarmult(a, bPublic);
  if (same.some((v, i) => v !== expected[i])) throw new Error('WebCrypto and libsodium disagree');
  await run('X25519 agreement: libsodium', () => sodium.crypto_scalarmult(a, bPublic));
  await run('X25519 agreement: WebCrypto, CryptoKeys cached', () =>
    subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256),
  );
  await run('X25519 import raw public key: WebCrypto', () => subtle.importKey('raw', bPublic, x, false, []));
  await run('X25519 import private key (PKCS #8): WebCrypto', () =>
    subtle.importKey('pkcs8', pkcs8(a), x, false, ['deriveBits']),
  );
  await run('X25519 agreement: WebCrypto, both keys imported', async () => {
    const p = await subtle.importKey('raw', bPublic, x, false, []);
    const s = await subtle.importKey('pkcs8', pkcs8(a), x, false, ['deriveBits']);
    return subtle.deriveBits({ name: 'X25519', public: p }, s, 256);
  });
  await run('X25519 public key from private: libsodium', () => sodium.crypto_scalarmult_base(a));
  await run('X25519 key pair, exported for storage: WebCrypto', async () => {
    const kp = await subtle.generateKey(x, true, ['deriveBits']);
    await subtle.exportKey('raw', kp.publicKey);
    return subtle.exportKey('pkcs8', kp.privateKey);
  });
  const kp = sodium.crypto_sign_keypair();
  const msg = sodium.randombytes_buf(100);
  const sig = sodium.crypto_sign_detached(msg, kp.privateKey);
  const ed = { name: 'Ed25519' };
  const edKey = await subtle.importKey('raw', kp.publicKey, ed, false, ['verify']);
  if (!(await subtle.verify(ed, edKey, sig, msg))) throw new Error('WebCrypto refused a libsodium signature');
  await run('Ed25519 verify: libsodium', () => sodium.crypto_sign_verify_detached(sig, msg, kp.publicKey));
  await run('Ed25519 verify: WebCrypto, key cached', () => subtle.verify(ed, edKey, sig, msg));
  await run('Ed25519 verify: WebCrypto, key imported', async () => {
    const k = await subtle.importKey('raw', kp.publicKey, ed, false, ['verify']);
    return subtle.verify(ed, k, sig, msg);
  });
  return rows;
}

/** The ESM builds of libsodium that @cove/crypto loads (the CommonJS ones are what `require.resolve` finds). */
function sodiumFiles() {
  return {
    wrappers: fileURLToPath(import.meta.resolve('libsodium-wrappers-sumo')),
    core: fileURLToPath(import.meta.resolve('libsodium-sumo')),
  };
}

function print(title, rows) {
  process.stdout.write(`\n${title}\n`);
  for (const r of rows) {
    const cpu = r.cpuUs === null ? '' : `  cpu ${r.cpuUs.toFixed(1).padStart(7)} µs`;
    process.stdout.write(`${r.name.padEnd(52)} wall ${r.wallUs.toFixed(1).padStart(7)} µs${cpu}\n`);
  }
}

async function inNode() {
  const sodium = (await import(sodiumFiles().wrappers)).default;
  await sodium.ready;
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const rows = await measure(sodium, N, cpu);
  // What @cove/client/node uses: node:crypto KeyObjects (synchronous), through the same checked backend.
  const { nodeX25519 } = await import('@cove/client/node');
  const a = sodium.randombytes_buf(32);
  const bPublic = sodium.crypto_scalarmult_base(sodium.randombytes_buf(32));
  const sk = nodeX25519.privateHandle(a);
  const pk = nodeX25519.publicHandle(bPublic);
  const sync = (name, op) => {
    for (let i = 0; i < 200; i++) op();
    const c0 = cpu();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) op();
    rows.push({ name, wallUs: ((performance.now() - t0) * 1000) / N, cpuUs: (cpu() - c0) / N });
  };
  sync('X25519 agreement: node:crypto, KeyObjects cached', () => nodeX25519.agree(sk, pk));
  sync('X25519 import private key (JWK): node:crypto', () => nodeX25519.privateHandle(a));
  sync('X25519 import public key (JWK): node:crypto', () => nodeX25519.publicHandle(bPublic));
  sync('X25519 agreement: node:crypto, both keys imported', () =>
    nodeX25519.agree(nodeX25519.privateHandle(a), nodeX25519.publicHandle(bPublic)),
  );
  sync('X25519 public key from private: node:crypto', () => nodeX25519.publicFromPrivate(nodeX25519.privateHandle(a)));
  print(`Node ${process.version}`, rows);
}

async function inChromium() {
  const { wrappers, core } = sodiumFiles();
  const files = {
    '/': [
      'text/html',
      `<!doctype html><script type="importmap">{"imports":{"libsodium-sumo":"/libsodium-sumo.mjs"}}</script>`,
    ],
    '/libsodium-wrappers.mjs': ['text/javascript', readFileSync(wrappers)],
    '/libsodium-sumo.mjs': ['text/javascript', readFileSync(core)],
  };
  const server = createServer((req, res) => {
    const file = files[req.url];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const version = browser.version();
    const rows = await page.evaluate(
      async ([source, n]) => {
        const sodium = (await import('/libsodium-wrappers.mjs')).default;
        await sodium.ready;
        const fn = new Function(`return (${source})`)();
        return fn(sodium, n, () => null);
      },
      [measure.toString(), N],
    );
    print(`Chromium ${version}`, rows);
  } finally {
    await browser.close();
    server.close();
  }
}

await inNode();
if (!process.env.SKIP_BROWSER) await inChromium();
