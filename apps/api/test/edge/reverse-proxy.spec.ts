/**
 * The deployment guide followed for real (issue 15): Debian's nginx with `deploy/nginx/cove.conf` — only its ports,
 * server name and certificate paths changed — in front of two API instances on one PostgreSQL and one Redis. Through
 * the proxy: HTTP is redirected to HTTPS with the configured certificate; two devices' WebSockets land on different
 * instances and deliver to each other; a tus upload is created and continued in pieces on the instance that holds it
 * in 4 MiB pieces (the clients' size) and read back from any instance. `.ci/run` installs nginx.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { Cluster, REDIS_URL, type Instance } from '../support/cluster.js';
import { messagesFor, scrapeMetrics, TestDevice, TestIdentity, TestSocket } from '../support/harness.js';

const run = promisify(execFile);
const NGINX = '/usr/sbin/nginx';
const CONFIG = new URL('../../../../deploy/nginx/cove.conf', import.meta.url).pathname;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/** The response to a GET over HTTPS that trusts exactly `ca`, and the certificate the proxy presented. */
function get(url: string, ca: string): Promise<{ status: number; location?: string; subject?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, agent: false }, (res) => {
      const peer = (
        res.socket as unknown as { getPeerCertificate(): { subject: { CN: string } } }
      ).getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, subject: peer.subject.CN }));
    });
    req.on('error', reject);
    req.end();
  });
}

const connectedOn = async (instance: Instance): Promise<number> =>
  Number(/^cove_websocket_connections (\d+)/m.exec(await scrapeMetrics(instance))?.[1] ?? -1);

describe('two instances behind nginx with deploy/nginx/cove.conf', () => {
  let cluster: Cluster;
  let instances: Instance[];
  let dir: string;
  let nginx: ChildProcess;
  let ca: string;
  let proxy: string;
  let httpPort: number;

  /** An HTTP request through the proxy, trusting exactly its certificate. */
  const through = (
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Uint8Array | string,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(`${proxy}${path}`, { method, headers, ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end(body);
    });

  /** Registers an account through the proxy; the device's requests and socket go through it too. */
  const enrol = async (): Promise<TestDevice> => {
    const identity = new TestIdentity();
    const registration = identity.registration({}, 0);
    const res = await through(
      'POST',
      '/v1/accounts',
      { 'content-type': 'application/json' },
      JSON.stringify(registration),
    );
    expect(res.status).toBe(201);
    const { accountId } = JSON.parse(res.body.toString('utf8')) as { accountId: string };
    return new TestDevice(
      instances[0]!,
      accountId,
      1,
      registration.secret,
      registration.registrationId as number,
      identity,
    );
  };

  const connect = async (device: TestDevice): Promise<TestSocket> => {
    const socket = await TestSocket.open(`${proxy.replace('https', 'wss')}/v1/websocket`, { ca });
    socket.sendJson({ type: 'auth', accountId: device.accountId, deviceId: device.deviceId, secret: device.secret });
    expect(await socket.next()).toMatchObject({ type: 'ready' });
    expect(await socket.drain()).toEqual([]);
    return socket;
  };

  beforeAll(async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL, env: { TRUST_PROXY: '1' } });
    instances = [await cluster.start(), await cluster.start()];
    dir = await mkdtemp(join(tmpdir(), 'cove-nginx-'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'privkey.pem'),
      '-out',
      join(dir, 'fullchain.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=chat.example.org',
      '-addext',
      'subjectAltName=DNS:chat.example.org,IP:127.0.0.1',
    ]);
    ca = await readFile(join(dir, 'fullchain.pem'), 'utf8');
    httpPort = await freePort();
    const httpsPort = await freePort();
    const [a, b] = instances.map((i) => new URL(i.url).port);
    // The shipped file with this machine's ports and paths; nothing else changed.
    const site = (await readFile(CONFIG, 'utf8'))
      .replaceAll('127.0.0.1:3001', `127.0.0.1:${a}`)
      .replaceAll('127.0.0.1:3002', `127.0.0.1:${b}`)
      .replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
      .replace('listen [::]:80;', '')
      .replace('listen 443 ssl http2;', `listen 127.0.0.1:${httpsPort} ssl http2;`)
      .replace('listen [::]:443 ssl http2;', '')
      .replace('return 301 https://$host$request_uri;', `return 301 https://$host:${httpsPort}$request_uri;`)
      .replaceAll('/etc/letsencrypt/live/chat.example.org', dir);
    await writeFile(join(dir, 'cove.conf'), site);
    await writeFile(
      join(dir, 'nginx.conf'),
      [
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 256; }',
        'http {',
        `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;`,
        `  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
        `  include ${dir}/cove.conf;`,
        '}',
        '',
      ].join('\n'),
    );
    await run(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')]);
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await get(`https://127.0.0.1:${httpsPort}/healthz`, ca)).status === 200) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline)
        throw new Error(`nginx did not come up: ${await readFile(join(dir, 'error.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    proxy = `https://127.0.0.1:${httpsPort}`;
  }, 180_000);

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await cluster?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('should redirect HTTP to HTTPS and serve the API with the configured certificate', async () => {
    const health = await get(`${proxy}/healthz`, ca);
    expect(health).toEqual({ status: 200, subject: 'chat.example.org' });
    const plain = await fetch(`http://127.0.0.1:${httpPort}/v1/info`, { redirect: 'manual' });
    expect(plain.status).toBe(301);
    expect(plain.headers.get('location')).toBe(`${proxy}/v1/info`);
  });

  it('should spread sockets over both instances and deliver between them', async () => {
    const alice = await enrol();
    const bob = await enrol();
    const aliceSocket = await connect(alice);
    const bobSocket = await connect(bob);
    // least_conn: the second long-lived socket went to the instance without one.
    expect(await Promise.all(instances.map(connectedOn))).toEqual([1, 1]);

    aliceSocket.sendJson({ type: 'send', id: 1, destination: bob.accountId, message: messagesFor([bob]) });
    expect(await aliceSocket.next()).toMatchObject({ type: 'result', id: 1, status: 200 });
    const delivered = await bobSocket.next();
    expect(delivered).toMatchObject({ type: 'envelope', envelope: { sourceAccountId: alice.accountId } });

    aliceSocket.close();
    bobSocket.close();
  });

  it('should keep one device’s tus upload on one instance through creation and every piece', async () => {
    const alice = await enrol();
    const bob = await enrol();
    const blob = randomBytes(9 * 1024 * 1024 + 17);
    const headers = { authorization: alice.authorization, 'tus-resumable': '1.0.0' };
    const created = await through('POST', '/v1/attachments/tus', { ...headers, 'upload-length': String(blob.length) });
    expect(created.status).toBe(201);
    const location = String(created.headers.location ?? '');
    // The clients' piece size (4 MiB): above nginx's default body limit of 1 MiB, so the shipped limit is tested.
    const piece = 4 * 1024 * 1024;
    for (let offset = 0; offset < blob.length; offset += piece) {
      const head = await through('HEAD', location, headers);
      expect(head.status).toBe(200);
      expect(Number(head.headers['upload-offset'])).toBe(offset);
      const patched = await through(
        'PATCH',
        location,
        { ...headers, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        blob.subarray(offset, offset + piece),
      );
      expect(patched.status).toBe(204);
    }
    // Every request of the upload (creation, 3 HEADs, 3 PATCHes) reached the same instance.
    const uploadRequests = instances.map(
      (i) => i.logs.filter((line) => line.includes('"msg":"http"') && line.includes('/v1/attachments/tus')).length,
    );
    expect(uploadRequests.sort()).toEqual([0, 7]);
    const id = location.split('/').pop() ?? '';
    // Finished: any instance serves it, directly or through the proxy.
    const viaProxy = await through('GET', `/v1/attachments/${id}`, { authorization: bob.authorization });
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.body.equals(blob)).toBe(true);
    for (const instance of instances) {
      const got = await fetch(`${instance.url}/v1/attachments/${id}`, {
        headers: { authorization: bob.authorization },
      });
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(blob)).toBe(true);
    }
  });
});
