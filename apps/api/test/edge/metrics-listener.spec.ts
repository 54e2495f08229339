/**
 * Metrics are not public: the public port answers 404 for `/metrics` (also where the PWA's SPA fallback would
 * answer), the Prometheus text is served only by the separate listener (`METRICS_HOST`, default loopback;
 * `METRICS_PORT`), behind `Authorization: Bearer` when `METRICS_TOKEN` is set, and a listener on a non-loopback
 * address without a token is refused at start.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ConfigError, parseConfig } from '../../src/repositories/config.repository.js';
import { register, request, scrapeMetrics, startServer, type TestServer } from '../support/harness.js';

const TOKEN = 'scrape-token-0123456789abcdef';

describe('metrics listener', () => {
  let open: TestServer;
  let guarded: TestServer;
  let pwaDir: string;

  beforeAll(async () => {
    pwaDir = await mkdtemp(join(tmpdir(), 'cove-pwa-'));
    await writeFile(join(pwaDir, 'index.html'), '<!doctype html><title>Cove</title>');
    open = await startServer('postgres', { PWA_DIR: pwaDir });
    guarded = await startServer('postgres', { METRICS_TOKEN: TOKEN });
  }, 120_000);

  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    await rm(pwaDir, { recursive: true, force: true });
  }, 60_000);

  it('should answer 404 for /metrics on the public port, whatever the client accepts', async () => {
    await register(open);
    for (const accept of ['*/*', 'text/plain', 'text/html']) {
      const res = await request(open, 'GET', '/metrics', undefined, { accept });
      expect({ accept, status: res.status }).toEqual({ accept, status: 404 });
      expect(JSON.stringify(res.body ?? '')).not.toContain('cove_');
    }
    expect((await request(open, 'GET', '/metrics/', undefined, { accept: 'text/html' })).status).toBe(404);
  });

  it('should serve the Prometheus text on its own loopback listener only', async () => {
    const url = open.running.metricsUrl ?? '';
    expect(new URL(url).hostname).toBe('127.0.0.1');
    expect(new URL(url).port).not.toBe(new URL(open.url).port);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text).toMatch(/^cove_http_requests_total\{method="POST",route="\/v1\/accounts",status="201"\} 1$/m);
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(url.replace('/metrics', '/v1/info'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('should require the bearer token when METRICS_TOKEN is set', async () => {
    const url = guarded.running.metricsUrl ?? '';
    for (const authorization of [
      undefined,
      'Bearer ',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}X`,
      `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
      TOKEN,
    ]) {
      const res = await fetch(url, authorization ? { headers: { authorization } } : {});
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.text()).not.toContain('cove_');
    }
    expect(await scrapeMetrics(guarded, TOKEN)).toContain('cove_websocket_connections');
  });

  it('should stop listening when the server closes', async () => {
    const server = await startServer('postgres');
    const url = server.running.metricsUrl ?? '';
    expect((await fetch(url)).status).toBe(200);
    await server.close();
    await expect(fetch(url)).rejects.toThrow();
  }, 60_000);

  it('should default to 127.0.0.1:9464 and refuse a reachable listener without a token', () => {
    expect(parseConfig({}).metrics).toEqual({ host: '127.0.0.1', port: 9464, token: undefined });
    expect(parseConfig({ METRICS_PORT: 'off' }).metrics).toBeNull();
    expect(parseConfig({ METRICS_HOST: '::1' }).metrics?.host).toBe('::1');
    expect(parseConfig({ METRICS_HOST: '0.0.0.0', METRICS_TOKEN: TOKEN }).metrics).toEqual({
      host: '0.0.0.0',
      port: 9464,
      token: TOKEN,
    });
    for (const env of [
      { METRICS_HOST: '0.0.0.0' },
      { METRICS_HOST: '10.0.0.5' },
      { METRICS_HOST: '::' },
      { METRICS_TOKEN: 'short' },
      { METRICS_TOKEN: 'has a space in it, sixteen+' },
      { METRICS_PORT: '65536' },
      { METRICS_PORT: 'on' },
      { METRICS_PORT: '3000', PORT: '3000' },
    ]) {
      expect(() => parseConfig(env)).toThrow(ConfigError);
      expect(() => parseConfig(env)).toThrow(/METRICS_/);
    }
  });
});
