/**
 * Server options that change behaviour: invite-only registration, rate limits (per requester, and per requester
 * and target for prekey bundles), and serving the built PWA on the API's origin with an SPA fallback.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { request, startServer, TestDevice, TestIdentity, type TestServer } from './support/harness.js';

describe('server options', () => {
  let server: TestServer;
  let pwaDir: string;

  beforeAll(async () => {
    pwaDir = await mkdtemp(join(tmpdir(), 'cove-pwa-'));
    await writeFile(join(pwaDir, 'index.html'), '<!doctype html><title>Cove</title>');
    await writeFile(join(pwaDir, 'sw.js'), 'self.addEventListener("push", () => {});');
    await writeFile(join(pwaDir, 'app.js'), 'console.log(1)');
    server = await startServer('postgres', {
      RATE_LIMITS: 'on',
      REGISTRATION: 'invite',
      INVITE_CODES: 'first-code, second-code',
      PWA_DIR: pwaDir,
    });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await rm(pwaDir, { recursive: true, force: true });
  }, 60_000);

  const registerWith = async (inviteCode?: string) => {
    const identity = new TestIdentity();
    const body = identity.registration(inviteCode ? { inviteCode } : {});
    const res = await request(server, 'POST', '/v1/accounts', body);
    return {
      res,
      device: new TestDevice(server, res.body.accountId, 1, body.secret, body.registrationId as number, identity),
    };
  };

  it('should require a valid invite code when registration is by invitation', async () => {
    expect((await request(server, 'GET', '/v1/info')).body.registration).toBe('invite');
    expect((await registerWith()).res.status).toBe(403);
    const wrong = await registerWith('third-code');
    expect(wrong.res.status).toBe(403);
    expect(wrong.res.body.error).toBe('invite_required');
    expect((await registerWith('second-code')).res.status).toBe(201);
  });

  it('should rate-limit bundle fetches per requester and target, with Retry-After', async () => {
    const target = (await registerWith('first-code')).device;
    const other = (await registerWith('first-code')).device;
    const fetcher = (await registerWith('first-code')).device;
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await fetcher.request('GET', `/v1/keys/${target.accountId}/1`)).status);
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    const limited = await fetcher.request('GET', `/v1/keys/${target.accountId}/1`);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another target, or another requester, is not affected.
    expect((await fetcher.request('GET', `/v1/keys/${other.accountId}/1`)).status).toBe(200);
    expect((await other.request('GET', `/v1/keys/${target.accountId}/1`)).status).toBe(200);
  });

  it('should rate-limit username lookups per requester', async () => {
    const device = (await registerWith('first-code')).device;
    const statuses = await Promise.all(
      Array.from({ length: 61 }, (_, i) => device.request('GET', `/v1/accounts/username/nobody_${i}`)),
    );
    expect(statuses.filter((r) => r.status === 404)).toHaveLength(60);
    expect(statuses.filter((r) => r.status === 429)).toHaveLength(1);
  });

  it('should serve the PWA with an SPA fallback, leaving API routes alone', async () => {
    const index = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<title>Cove</title>');
    const deep = await fetch(`${server.url}/chats/123`, { headers: { accept: 'text/html' } });
    expect(await deep.text()).toContain('<title>Cove</title>');
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    const sw = await fetch(`${server.url}/sw.js`);
    expect(sw.headers.get('service-worker-allowed')).toBe('/');
    expect(sw.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${server.url}/app.js`)).status).toBe(200);
    const api = await request(server, 'GET', '/v1/info');
    expect(api.body.name).toBe('Cove');
    expect((await request(server, 'GET', '/v1/unknown', undefined, { accept: 'text/html' })).status).toBe(404);
  });
});
