/**
 * Security headers on every response of the running server: a strict Content-Security-Policy on the app's pages
 * and scripts (scripts from this origin plus WebAssembly compilation only, no plugins, no `<base>`, no framing) and
 * one that runs no script at all on everything else (API answers, images, styles), `nosniff`, no referrer,
 * `Cross-Origin-Opener-Policy`, a Permissions-Policy with camera and microphone for this origin only, HSTS only when
 * configured, `no-store` on API answers and errors, year-long caching for hashed assets only, and revalidation for
 * index.html, the service worker and the manifest.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ConfigError, parseConfig } from '../../src/repositories/config.repository.js';
import { register, startServer, type TestServer } from '../support/harness.js';

/** The CSP as a map of directive → sources. */
function directives(header: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) map.set(name, sources);
  }
  return map;
}

/** The app's pages and scripts: this origin's scripts and WebAssembly, nothing inline, no eval. */
const APP_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'media-src': ["'self'", 'blob:'],
  'connect-src': ["'self'"],
  'worker-src': ["'self'"],
  'manifest-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
  'report-uri': ['/csp-reports'],
};

/** Everything else: no script of any kind (only the browser's own styling of an image or text it shows). */
const RESOURCE_POLICY = {
  'default-src': ["'none'"],
  'img-src': ["'self'"],
  'style-src': ["'unsafe-inline'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'report-uri': ['/csp-reports'],
};

/** The headers every response must carry, whatever it is, with the policy expected for it. */
function expectSecurityHeaders(what: string, headers: Headers, policy: Record<string, string[]>): void {
  const csp = directives(headers.get('content-security-policy'));
  expect({ what, csp: Object.fromEntries(csp) }).toEqual({ what, csp: policy });
  expect({
    what,
    nosniff: headers.get('x-content-type-options'),
    referrer: headers.get('referrer-policy'),
    coop: headers.get('cross-origin-opener-policy'),
    corp: headers.get('cross-origin-resource-policy'),
    frame: headers.get('x-frame-options'),
  }).toEqual({
    what,
    nosniff: 'nosniff',
    referrer: 'no-referrer',
    coop: 'same-origin',
    corp: 'same-origin',
    frame: 'DENY',
  });
  const permissions = (headers.get('permissions-policy') ?? '').split(/,\s*/);
  expect(permissions).toEqual(expect.arrayContaining(['camera=(self)', 'microphone=(self)', 'geolocation=()']));
  // Camera and microphone are the only features allowed at all, and only to this origin.
  expect(permissions.filter((p) => !p.endsWith('=()'))).toEqual(['camera=(self)', 'microphone=(self)']);
  expect(headers.get('x-powered-by')).toBeNull();
}

describe('security headers', () => {
  let server: TestServer;
  let plain: TestServer;
  let pwaDir: string;

  beforeAll(async () => {
    pwaDir = await mkdtemp(join(tmpdir(), 'cove-pwa-'));
    await mkdir(join(pwaDir, 'assets'));
    await mkdir(join(pwaDir, 'icons'));
    await writeFile(join(pwaDir, 'index.html'), '<!doctype html><title>Cove</title>');
    await writeFile(join(pwaDir, 'sw.js'), 'self.addEventListener("push", () => {});');
    await writeFile(join(pwaDir, 'manifest.webmanifest'), '{"name":"Cove"}');
    await writeFile(join(pwaDir, 'assets', 'index-C2BDkbqw.js'), 'export {};');
    await writeFile(join(pwaDir, 'assets', 'index-DteG-0Pa.css'), 'body{}');
    await writeFile(join(pwaDir, 'icons', 'icon-192.png'), 'png');
    server = await startServer('postgres', { PWA_DIR: pwaDir, HSTS: 'on', CSP_REPORT_URI: '/csp-reports' });
    plain = await startServer('postgres');
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await plain?.close();
    await rm(pwaDir, { recursive: true, force: true });
  }, 60_000);

  const get = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, init);

  it('should send the security headers and no-store on API answers and errors', async () => {
    const device = await register(server);
    const responses: Array<[string, Response]> = [
      ['info', await get('/v1/info')],
      ['openapi', await get('/v1/openapi.json')],
      ['health', await get('/healthz')],
      ['ready', await get('/readyz')],
      ['authenticated', await get('/v1/devices', { headers: { authorization: device.authorization } })],
      ['unauthenticated', await get('/v1/devices')],
      ['unknown route', await get('/v1/nothing', { headers: { accept: 'text/html' } })],
      [
        'malformed JSON',
        await get('/v1/accounts', { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }),
      ],
      [
        'too large',
        await get('/v1/accounts', {
          method: 'POST',
          body: JSON.stringify({ x: 'a'.repeat(2 * 1024 * 1024) }),
          headers: { 'content-type': 'application/json' },
        }),
      ],
    ];
    expect(responses.map(([what, res]) => [what, res.status])).toEqual([
      ['info', 200],
      ['openapi', 200],
      ['health', 200],
      ['ready', 200],
      ['authenticated', 200],
      ['unauthenticated', 401],
      ['unknown route', 404],
      ['malformed JSON', 400],
      ['too large', 413],
    ]);
    for (const [what, res] of responses) {
      expectSecurityHeaders(what, res.headers, RESOURCE_POLICY);
      expect({ what, cache: res.headers.get('cache-control') }).toEqual({ what, cache: 'no-store' });
      expect({ what, hsts: res.headers.get('strict-transport-security') }).toEqual({ what, hsts: 'max-age=31536000' });
    }
  });

  it('should let hashed assets be cached for a year and revalidate the page, the service worker and the rest', async () => {
    const app = APP_POLICY;
    const resource = RESOURCE_POLICY;
    const cases: Array<[string, string, string, Record<string, string[]>]> = [
      ['/', 'text/html', 'no-cache', app],
      ['/chats/123', 'text/html', 'no-cache', app],
      ['/index.html', 'text/html', 'no-cache', app],
      ['/sw.js', '*/*', 'no-cache', app],
      ['/manifest.webmanifest', '*/*', 'no-cache', resource],
      ['/icons/icon-192.png', '*/*', 'no-cache', resource],
      ['/assets/index-C2BDkbqw.js', '*/*', 'public, max-age=31536000, immutable', app],
      ['/assets/index-DteG-0Pa.css', '*/*', 'public, max-age=31536000, immutable', resource],
    ];
    for (const [path, accept, cache, policy] of cases) {
      const res = await get(path, { headers: { accept } });
      expect({ path, status: res.status, cache: res.headers.get('cache-control') }).toEqual({
        path,
        status: 200,
        cache,
      });
      expectSecurityHeaders(path, res.headers, policy);
    }
    expect((await get('/sw.js')).headers.get('service-worker-allowed')).toBe('/');
  });

  it('should send HSTS only when configured, with the configured max-age', async () => {
    const res = await fetch(`${plain.url}/v1/info`);
    expect(res.headers.get('strict-transport-security')).toBeNull();
    expect(directives(res.headers.get('content-security-policy')).has('report-uri')).toBe(false);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(parseConfig({}).hstsMaxAgeSeconds).toBeNull();
    expect(parseConfig({ HSTS: 'on' }).hstsMaxAgeSeconds).toBe(31_536_000);
    expect(parseConfig({ HSTS: '180d' }).hstsMaxAgeSeconds).toBe(15_552_000);
    expect(parseConfig({ HSTS: 'off' }).hstsMaxAgeSeconds).toBeNull();
    for (const env of [{ HSTS: 'yes' }, { HSTS: '500ms' }, { CSP_REPORT_URI: "/r; script-src 'unsafe-inline'" }]) {
      expect(() => parseConfig(env)).toThrow(ConfigError);
    }
  });
});
