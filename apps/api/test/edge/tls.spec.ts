/**
 * The server's own HTTPS (`TLS_CERT` / `TLS_KEY`, issue 15's deployment without a proxy, e.g. to try Cove from a phone
 * on the same network): the API and the WebSocket answer over TLS with the configured certificate; a renewed
 * certificate is taken on `SIGHUP` without a restart, and a broken renewal keeps the old one; a missing file, a key
 * that does not belong to the certificate, an expired certificate, or only one of the two variables stops the start
 * with a message naming the variable.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';

import { createApp } from '../../src/app.js';
import { ConfigError, parseConfig } from '../../src/repositories/config.repository.js';
import { startServer, type TestServer } from '../support/harness.js';

const run = promisify(execFile);

/** A self-signed certificate for 127.0.0.1 (openssl is on every Debian machine; Node cannot issue certificates). */
async function issue(dir: string, name: string, days = 2): Promise<{ cert: string; key: string; pem: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(days),
    '-subj',
    `/CN=${name}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return { cert, key, pem: await readFile(cert, 'utf8') };
}

/** GET over HTTPS trusting exactly `ca`; resolves with the status and the certificate the server presented. */
function get(url: string, ca: string): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, agent: false }, (res) => {
      const peer = (res.socket as unknown as { getPeerCertificate(): { fingerprint256: string } }).getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint: peer.fingerprint256 }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The certificate a fresh TLS handshake gets, without trusting it (to see which one is served). */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

describe('HTTPS served by the server itself', () => {
  let dir: string;
  let first: { cert: string; key: string; pem: string };
  let server: TestServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cove-tls-'));
    first = await issue(dir, 'first');
    server = await startServer('pglite', { TLS_CERT: first.cert, TLS_KEY: first.key });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('should serve the API and the WebSocket over TLS with the configured certificate', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await get(`${server.url}/healthz`, first.pem);
    expect(health).toEqual({ status: 200, fingerprint: fingerprintOf(first.pem) });
    // Plain HTTP on the same port gets no answer it could mistake for the API.
    await expect(fetch(server.url.replace('https', 'http') + '/healthz')).rejects.toThrow();

    const socket = new WebSocket(`${server.wsUrl}`, { ca: first.pem });
    const closed = await new Promise<{ code: number }>((resolve, reject) => {
      socket.on('open', () => socket.send('not json'));
      socket.on('close', (code) => resolve({ code }));
      socket.on('error', reject);
    });
    // The socket opened over TLS and the server closed it for the garbage frame, with a reason code.
    expect(closed.code).toBeGreaterThanOrEqual(1000);
    expect(closed.code).not.toBe(1006);
  });

  it('should take a renewed certificate on SIGHUP and keep the old one when the renewal is broken', async () => {
    const renewed = await issue(dir, 'renewed');
    await writeFile(first.cert, renewed.pem);
    await writeFile(first.key, await readFile(renewed.key));
    process.emit('SIGHUP', 'SIGHUP');
    const port = Number(new URL(server.url).port);
    const deadline = Date.now() + 10_000;
    while ((await presented(port)) !== fingerprintOf(renewed.pem)) {
      if (Date.now() > deadline) throw new Error('the renewed certificate was not taken');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await get(`${server.url}/healthz`, renewed.pem)).status).toBe(200);

    // A half-written renewal (a key of another certificate) is refused and the renewed pair stays in service.
    const other = await issue(dir, 'other');
    await writeFile(first.key, await readFile(other.key));
    process.emit('SIGHUP', 'SIGHUP');
    const refused = Date.now() + 10_000;
    while (!server.logs.some((line) => line.includes('tls reload refused'))) {
      if (Date.now() > refused) throw new Error('no refusal logged');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await presented(port)).toBe(fingerprintOf(renewed.pem));
    expect(server.logs.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('should refuse to start on a missing file, a foreign key, an expired certificate, or one variable alone', async () => {
    const a = await issue(dir, 'a');
    const b = await issue(dir, 'b');
    const start = (env: Record<string, string>) =>
      createApp({ env: { PORT: '0', HOST: '127.0.0.1', PGLITE_DIR: 'memory', METRICS_PORT: 'off', ...env } });

    await expect(start({ TLS_CERT: join(dir, 'missing.crt'), TLS_KEY: a.key })).rejects.toThrow(
      /TLS_CERT: cannot read .*missing\.crt \(ENOENT\)/,
    );
    await expect(start({ TLS_CERT: a.cert, TLS_KEY: b.key })).rejects.toThrow(/TLS_KEY does not belong/);
    await expect(start({ TLS_CERT: a.key, TLS_KEY: a.key })).rejects.toThrow(/TLS_CERT: .* holds no PEM certificate/);
    await expect(start({ TLS_CERT: a.cert, TLS_KEY: a.cert })).rejects.toThrow(/TLS_KEY: .* no readable private key/);
    expect(() => parseConfig({ TLS_CERT: a.cert })).toThrow(ConfigError);
    expect(() => parseConfig({ TLS_KEY: a.key })).toThrow(/set both TLS_CERT and TLS_KEY/);
    expect(parseConfig({ TLS_CERT: '', TLS_KEY: '' }).tls).toBeNull();

    // openssl cannot backdate with -days, so an expired certificate is one whose end lies before the clock used.
    const { readTlsFiles } = await import('../../src/repositories/tls.repository.js');
    const later = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    await expect(readTlsFiles({ certPath: a.cert, keyPath: a.key }, later)).rejects.toThrow(/TLS_CERT: .* expired/);
  });
});
