/**
 * Where the PWA's time goes (issue 17 goal 3), in Chromium with two profiles against the built API on PostgreSQL,
 * for one or more builds of the PWA in the same run (alternating, so the machine's load hits each alike). Not part
 * of `npm test`; timing is never pass/fail. Per build and round it measures:
 *
 * - cold start: the browser quit and started again on a registered profile, navigation start → first chat-list item
 *   in the DOM (`performance.now()` in the page, stamped by a MutationObserver), and everything the page requested
 *   before that moment, gzipped (-9, the build's files as the server sends them; the precache serves them here);
 * - send → display: Alice clicks send, the bubble appears in Bob's open chat (PROBES messages at a conversational
 *   pace, each after the previous one was read), split into Alice's part (click → the message leaving: her
 *   sealed-sender `PUT /v1/messages/…` fetch, or her WebSocket `send` when identified; composing, encrypting,
 *   storing), the wire (that → Bob's WebSocket `message` event: server, PostgreSQL commit, delivery) and Bob's part (the `message` event → the bubble in the DOM: decrypting, storing,
 *   rendering). An init script (the bench's, not the app's) stamps those fetches, WebSocket sends and receives and every IndexedDB
 *   transaction (created → complete) on the page's clock (`timeOrigin + now()`, comparable across processes);
 * - CPU of both pages during the probes (V8 sampling profiler over CDP), each sample mapped through the build's
 *   source maps to the package it comes from and grouped: crypto, protocol + validation, client core, storage (our
 *   row store and the IndexedDB calls), rendering, garbage collection, other; `(program)` is the browser's native
 *   work V8 cannot attribute (style, layout, paint, IndexedDB and WebCrypto internals). UNMAPPED=1 lists the
 *   busiest functions without a source.
 *
 * Usage: node bench/pwa-latency.bench.js [dist …]   (default: apps/pwa/dist; env PROBES=15 ROUNDS=1; run `npm run
 * build` first). Prints a JSON summary per build. CHAIN=1 adds the median probe's chain on each side: every
 * IndexedDB transaction (`r`/`w` start–end) and Web Lock (`L<name> requested+waited`), in ms from the click
 * (Alice) or the message's arrival (Bob).
 */
/* global document, location, MutationObserver, IDBDatabase -- functions passed to the pages run there, not in Node */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromPwa = createRequire(join(ROOT, 'apps/pwa/package.json'));
const requireFromApi = createRequire(join(ROOT, 'apps/api/package.json'));
const { chromium } = requireFromPwa('playwright-core');
const { TraceMap, originalPositionFor } = requireFromPwa('@jridgewell/trace-mapping');
const pg = requireFromApi('pg');

const PROBES = Number(process.env.PROBES ?? 15);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const DISTS = (process.argv.slice(2).length ? process.argv.slice(2) : [join(ROOT, 'apps/pwa/dist')]).map((d) =>
  resolve(d),
);
const ADMIN_DB = 'postgres://postgres@127.0.0.1:5432/postgres';
/** The browser suite's flags (test/pwa/support/harness.ts): no sandbox in the container, no background traffic. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const TIMEOUT = 120_000;

/** Runs in every page before its scripts: stamps WebSocket traffic and IndexedDB transactions on the page's clock. */
function instrument() {
  const now = () => performance.timeOrigin + performance.now();
  const trace = { sent: [], sealed: [], received: [], idb: [], locks: [], listAt: null };
  Object.defineProperty(globalThis, '__coveTrace', { value: trace });
  // The moment the first chat-list item is in the DOM (page clock, performance.now()): what was requested before it
  // is what the list waited for.
  const listed = new MutationObserver(() => {
    if (trace.listAt !== null || !document.querySelector('[data-testid="conversation-item"]')) return;
    trace.listAt = performance.now();
    listed.disconnect();
  });
  listed.observe(document, { childList: true, subtree: true });
  // Sealed-sender messages leave over HTTP (`PUT /v1/messages/<account>`), identified ones over the WebSocket.
  const nativeFetch = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : (input?.url ?? String(input));
    const method = init?.method ?? (typeof input === 'object' ? input?.method : undefined) ?? 'GET';
    if (method === 'PUT' && /\/v1\/messages\/[^/]+$/.test(new URL(url, location.href).pathname))
      trace.sealed.push(now());
    return nativeFetch.call(this, input, init);
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    trace.sent.push(now());
    return send.call(this, data);
  };
  const Native = WebSocket;
  globalThis.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      // Registered before the app's own listener, so it stamps the arrival, not the app's handling.
      this.addEventListener('message', () => trace.received.push(now()));
    }
  };
  // Web Locks: requested → granted → released, so a chain shows where it waited for a lock rather than worked.
  const locks = globalThis.navigator?.locks;
  if (locks) {
    const request = locks.request.bind(locks);
    locks.request = (name, ...rest) => {
      const fn = rest[rest.length - 1];
      const entry = {
        name: String(name).split(':').slice(0, 3).join(':'),
        requested: now(),
        granted: null,
        released: null,
      };
      trace.locks.push(entry);
      const wrapped = async (lock) => {
        entry.granted = now();
        try {
          return await fn(lock);
        } finally {
          entry.released = now();
        }
      };
      return request(name, ...rest.slice(0, -1), wrapped);
    };
  }
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (...args) {
    const tx = transaction.apply(this, args);
    const entry = { start: now(), end: null, mode: args[1] ?? 'readonly' };
    trace.idb.push(entry);
    const end = () => (entry.end = now());
    tx.addEventListener('complete', end);
    tx.addEventListener('abort', end);
    tx.addEventListener('error', end);
    return tx;
  };
}

async function startServer(dist, database) {
  const child = spawn(process.execPath, [join(ROOT, 'apps/api/dist/workers/api.js')], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'cove-bench-pwa-')),
      RATE_LIMITS: 'false',
      LOG_LEVEL: 'warn',
      METRICS_PORT: '0',
      VAPID_SUBJECT: 'mailto:ops@cove.test',
      PWA_DIR: dist,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolveUrl(m[1].replace('127.0.0.1', 'localhost'));
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  return { url, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

async function launch(dir, url) {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 760 },
    locale: 'en-US',
    serviceWorkers: 'allow',
  });
  await context.addInitScript(instrument);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  return { context, page };
}

const byId = (page, id) => page.getByTestId(id);

async function register(page, username) {
  await byId(page, 'username-input').fill(username);
  await byId(page, 'register-button').click();
  await byId(page, 'welcome-done').click({ timeout: TIMEOUT });
  await byId(page, 'new-chat-button').waitFor({ timeout: TIMEOUT });
}

/** Waits until the message `text` shows `status` (the app's `data-status` on the message element). */
async function waitForStatus(page, text, status) {
  await page.waitForFunction(
    ([t, s]) =>
      [...document.querySelectorAll('[data-testid="message"]')].some(
        (el) => el.querySelector('.bubble-text')?.textContent === t && el.getAttribute('data-status') === s,
      ),
    [text, status],
    // Polled, not on every animation frame: the bench's own probing would show up in the pages' profiles.
    { timeout: TIMEOUT, polling: 100 },
  );
}

/** Package-level group of a source path from a source map. */
function groupOf(source, fn) {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return 'browser/V8 (unattributed)';
  if (!source) {
    if (/^wasm|^\$/.test(fn)) return 'crypto';
    // Web API calls show up under their own names, without a script.
    if (/^(get|getAll|getKey|put|delete|count|transaction|objectStore|index|openCursor|structuredClone)$/.test(fn))
      return 'storage (IndexedDB calls)';
    if (/^(request|addEventListener|removeEventListener|postMessage|dispatchEvent)$/.test(fn))
      return 'locks, events, messaging';
    return 'other JS without a source map (builtins, bench probes)';
  }
  if (/libsodium|@noble|packages\/crypto/.test(source)) return 'crypto';
  if (/zod|@bufbuild|packages\/protocol/.test(source)) return 'protocol + validation';
  if (/packages\/client/.test(source)) return 'client core';
  if (/node_modules\/idb|src\/platform\/(idb|encrypted|row-cipher|vault|codec|at-rest)/.test(source)) return 'storage';
  if (/react|scheduler|src\/ui|i18next/.test(source)) return 'rendering';
  if (/src\/app/.test(source)) return 'app shell + view models';
  return 'other';
}

/** With UNMAPPED=1: the busiest functions without a source (name and script), printed at the end. */
const unmapped = new Map();

function summarizeProfile(profile, dist, maps) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const deltas = profile.timeDeltas;
  const totals = {};
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = nodes.get(id);
    const us = deltas[i + 1] ?? 0;
    const { functionName: fn, url, lineNumber, columnNumber } = node.callFrame;
    if (fn === '(idle)') return;
    let source = null;
    const file = /\/(assets\/[^/?#]+\.js)$/.exec(url)?.[1];
    if (file) {
      let map = maps.get(file);
      if (map === undefined) {
        try {
          map = new TraceMap(readFileSync(join(dist, `${file}.map`), 'utf8'));
        } catch {
          map = null;
        }
        maps.set(file, map);
      }
      if (map && lineNumber >= 0)
        source = originalPositionFor(map, { line: lineNumber + 1, column: columnNumber }).source;
    } else if (/\.wasm/.test(url)) source = 'libsodium';
    const group = groupOf(source, fn);
    totals[group] = (totals[group] ?? 0) + us;
    if (process.env.UNMAPPED && !source) {
      const k = `${fn || '(anonymous)'} ${url.slice(-60)}`;
      unmapped.set(k, (unmapped.get(k) ?? 0) + us);
    }
    busy += us;
  });
  return Object.fromEntries(
    Object.entries(totals)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, `${Math.round(v / 1000)} ms (${((100 * v) / busy).toFixed(0)}%)`]),
  );
}

/**
 * The gzip -9 size of what a request fetched: the build's file for the app's own files (what the precache holds,
 * `/` being index.html), the body size the browser saw for anything else (API answers).
 */
function gzippedSize(dist, entry) {
  const path = new URL(entry.name).pathname;
  if (path.startsWith('/v1/')) return entry.encodedBodySize;
  try {
    return gzipSync(readFileSync(join(dist, path === '/' ? 'index.html' : path)), { level: 9 }).length;
  } catch {
    return entry.encodedBodySize;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const p90 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)] : NaN;
};
/** Total time inside [from, to] covered by at least one IndexedDB transaction. */
function idbCovered(entries, from, to) {
  const spans = entries
    .map((e) => [Math.max(e.start, from), Math.min(e.end ?? to, to)])
    .filter(([a, b]) => b > a)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of spans) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/**
 * With CHAIN=1: the IndexedDB transactions and Web Locks of one side within [from, to], in ms from `from`:
 * `r`/`w` start–end for a readonly/readwrite transaction, `L<name>` requested+waited for a lock.
 */
function chain(trace, from, to) {
  const out = [];
  for (const e of trace.idb)
    if (e.start >= from && e.start <= to)
      out.push([
        e.start - from,
        `${e.mode === 'readwrite' ? 'w' : 'r'} ${Math.round(e.start - from)}–${Math.round((e.end ?? to) - from)}`,
      ]);
  for (const l of trace.locks)
    if (l.requested >= from && l.requested <= to)
      out.push([
        l.requested - from,
        `L${l.name} ${Math.round(l.requested - from)}+${Math.round((l.granted ?? to) - l.requested)}`,
      ]);
  return out.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
}

async function runOnce(dist) {
  const database = `cove_bench_pwa_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const admin = new pg.Client({ connectionString: ADMIN_DB });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const server = await startServer(dist, database);
  const dirs = [mkdtempSync(join(tmpdir(), 'cove-bench-alice-')), mkdtempSync(join(tmpdir(), 'cove-bench-bob-'))];
  let alice;
  let bob;
  try {
    alice = await launch(dirs[0], server.url);
    bob = await launch(dirs[1], server.url);
    const tag = Math.random().toString(36).slice(2, 7);
    const [aliceName, bobName] = [`alice_${tag}`, `bob_${tag}`];
    await register(alice.page, aliceName);
    await register(bob.page, bobName);
    await byId(alice.page, 'new-chat-button').click();
    await byId(alice.page, 'new-chat-username-input').fill(bobName);
    await byId(alice.page, 'new-chat-start-button').click();
    await byId(alice.page, 'message-input').fill('hello');
    await byId(alice.page, 'send-button').click();
    await bob.page
      .locator(`[data-testid="conversation-item"][data-conversation="${aliceName}"]`)
      .click({ timeout: TIMEOUT });
    await byId(bob.page, 'request-accept').click({ timeout: TIMEOUT });
    await waitForStatus(alice.page, 'hello', 'read');

    const cdp = await Promise.all([alice, bob].map((p) => p.context.newCDPSession(p.page)));
    for (const s of cdp) {
      await s.send('Profiler.enable');
      await s.send('Profiler.setSamplingInterval', { interval: 200 });
      await s.send('Profiler.start');
    }
    const probes = [];
    for (let i = 0; i < PROBES; i++) {
      const text = `latency probe ${i}`;
      const seen = bob.page.evaluate(
        (t) =>
          new Promise((done) => {
            const at = () => performance.timeOrigin + performance.now();
            const check = () =>
              [...document.querySelectorAll('[data-testid="message"] .bubble-text')].some((el) => el.textContent === t);
            if (check()) return done(at());
            const observer = new MutationObserver(() => {
              if (check()) {
                observer.disconnect();
                done(at());
              }
            });
            observer.observe(document.body, { childList: true, subtree: true, characterData: true });
          }),
        text,
      );
      await byId(alice.page, 'message-input').fill(text);
      // Let the "typing" notice the fill started go out first: the next send after the click is the message.
      await new Promise((r) => setTimeout(r, 400));
      const clicked = await alice.page.evaluate(() => {
        const at = performance.timeOrigin + performance.now();
        document.querySelector('[data-testid="send-button"]').click();
        return at;
      });
      const shown = await seen;
      const [aliceTrace, bobTrace] = await Promise.all(
        [alice, bob].map((p) => p.page.evaluate(() => globalThis.__coveTrace)),
      );
      // The message leaves sealed over HTTP once both sides have each other's profile key (as here after the
      // request was accepted); otherwise identified, as the next WebSocket send.
      const sealed = aliceTrace.sealed.find((t) => t >= clicked);
      const sent = sealed ?? aliceTrace.sent.find((t) => t >= clicked);
      const received = bobTrace.received.find((t) => t >= (sent ?? clicked));
      probes.push({
        sealed: sealed !== undefined,
        total: shown - clicked,
        alice: sent === undefined ? NaN : sent - clicked,
        wire: sent === undefined || received === undefined ? NaN : received - sent,
        bob: received === undefined ? NaN : shown - received,
        aliceIdb: sent === undefined ? NaN : idbCovered(aliceTrace.idb, clicked, sent),
        bobIdb: received === undefined ? NaN : idbCovered(bobTrace.idb, received, shown),
        aliceChain: sent === undefined ? [] : chain(aliceTrace, clicked, sent),
        bobChain: received === undefined ? [] : chain(bobTrace, received, shown),
      });
      // A conversational pace: the next message after this one was read (Bob's read receipt reached Alice).
      await waitForStatus(alice.page, text, 'read');
    }
    const maps = new Map();
    const profiles = [];
    for (const s of cdp) profiles.push(summarizeProfile((await s.send('Profiler.stop')).profile, dist, maps));

    // Cold start: quit Alice's browser, start it again on her profile, time navigation → first list item.
    await alice.context.close();
    const coldStarted = Date.now();
    alice = await launch(dirs[0], server.url);
    await byId(alice.page, 'conversation-item').first().waitFor({ timeout: TIMEOUT });
    // Everything start-up fetches, also what comes after the list (the core, libsodium and its WebAssembly), once
    // it has settled; each request with when it started, against when the first list item appeared.
    await new Promise((r) => setTimeout(r, 3_000));
    const { listAt, fetched } = await alice.page.evaluate(() => ({
      listAt: globalThis.__coveTrace.listAt,
      fetched: performance
        .getEntriesByType('navigation')
        .concat(performance.getEntriesByType('resource'))
        .map((e) => ({ name: e.name, startTime: e.startTime, encodedBodySize: e.encodedBodySize ?? 0 })),
    }));
    const beforeList = fetched.filter((e) => e.startTime <= listAt);
    const cold = {
      ms: listAt,
      gzipBytes: beforeList.reduce((n, e) => n + gzippedSize(dist, e), 0),
      files: beforeList.map((e) => new URL(e.name).pathname),
    };
    const all = fetched.reduce((n, e) => n + gzippedSize(dist, e), 0);
    const col = (k) => probes.map((p) => p[k]).filter((v) => Number.isFinite(v));
    const f = (v) => Math.round(v);
    return {
      coldNavigationToListMs: f(cold.ms),
      coldBrowserStartToListMs: Date.now() - coldStarted,
      // Everything the page requested before the first list item appeared, gzipped (-9) as the server would send it
      // (on a cold start the service worker's precache serves it), and everything start-up requested.
      gzipBytesBeforeList: cold.gzipBytes,
      requestedBeforeList: cold.files,
      gzipBytesAtStartup: all,
      sendToDisplay: { p50: f(median(col('total'))), p90: f(p90(col('total'))), n: col('total').length },
      sentSealed: probes.filter((p) => p.sealed).length,
      medianMs: {
        alice: f(median(col('alice'))),
        aliceInIndexedDb: f(median(col('aliceIdb'))),
        wire: f(median(col('wire'))),
        bob: f(median(col('bob'))),
        bobInIndexedDb: f(median(col('bobIdb'))),
      },
      cpuDuringProbes: { alice: profiles[0], bob: profiles[1] },
      ...(process.env.CHAIN
        ? (() => {
            const p = [...probes].sort((a, b) => a.total - b.total)[Math.floor((probes.length - 1) / 2)];
            return { medianProbeChain: { total: f(p.total), alice: p.aliceChain, bob: p.bobChain } };
          })()
        : {}),
    };
  } finally {
    await alice?.context.close().catch(() => undefined);
    await bob?.context.close().catch(() => undefined);
    await server.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

for (let round = 1; round <= ROUNDS; round++)
  for (const dist of DISTS) {
    const load = loadavg()[0].toFixed(1);
    const result = await runOnce(dist);
    process.stdout.write(
      `${JSON.stringify({ round, dist, loadAverage: `${load} → ${loadavg()[0].toFixed(1)}`, ...result }, null, 2)}\n`,
    );
  }
if (process.env.UNMAPPED)
  for (const [k, us] of [...unmapped].sort((a, b) => b[1] - a[1]).slice(0, 25))
    process.stdout.write(`${Math.round(us / 1000)} ms  ${k}\n`);
