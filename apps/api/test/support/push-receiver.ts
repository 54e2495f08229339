/**
 * A local Web Push service for tests: an HTTPS server on 127.0.0.1 with a self-signed certificate (made with the
 * `openssl` CLI) that checks what a real push service checks — the VAPID JWT (ES256 against the key in the
 * `Authorization` header, `aud` = this origin, `exp` within 24 h, `sub` a mailto:/https: URL) — then decrypts the
 * `aes128gcm` body with `http_ece` using the subscription's private key, as the browser would. Each subscription
 * can be scripted to answer with given statuses (429, 500, 410…) before accepting.
 */
import { createECDH, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import ece from 'http_ece';

import { selfSignedCertificate } from './tls-fixtures.js';

export type ReceivedPush = {
  subscription: string;
  status: number;
  headers: {
    ttl: string | undefined;
    urgency: string | undefined;
    topic: string | undefined;
    encoding: string | undefined;
  };
  /** The request body as the push service sees it. */
  body: Buffer;
  /** The decrypted payload, as the browser would hand it to the service worker (null when refused before). */
  payload: Buffer | null;
  claims: { aud: string; exp: number; sub: string };
  vapidKey: string;
  at: number;
};

export type TestSubscription = {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  ecdh: ECDH;
  /** Answers to give, in order, before answering 201 (a status, or a status with headers such as Retry-After). */
  script: ScriptedAnswer[];
};

export type ScriptedAnswer = number | { status: number; headers: Record<string, string> };

export class PushReceiver {
  readonly received: ReceivedPush[] = [];
  /** Requests refused for a bad VAPID token or undecryptable body (a test failure if non-empty). */
  readonly rejected: Array<{ subscription: string; reason: string }> = [];
  readonly agent: Agent;
  private readonly subscriptions = new Map<string, TestSubscription>();
  private readonly waiters: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    cert: Buffer,
  ) {
    this.agent = new Agent({ ca: cert, keepAlive: true });
  }

  static async start(): Promise<PushReceiver> {
    const dir = mkdtempSync(join(tmpdir(), 'cove-push-'));
    const issued = await selfSignedCertificate(dir, 'push', { cn: '127.0.0.1', days: 1 });
    const cert = readFileSync(issued.cert);
    /** The server's handler needs the receiver, which needs the server: the holder breaks the cycle. */
    const holder: { receiver?: PushReceiver } = {};
    const server = createServer({ key: readFileSync(issued.key), cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = holder.receiver?.handle(req.url ?? '', req.headers, Buffer.concat(chunks)) ?? { status: 500 };
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.receiver = new PushReceiver(server, dir, cert);
    return holder.receiver;
  }

  /** The receiver's certificate (PEM), e.g. for `NODE_EXTRA_CA_CERTS` of a child process. */
  get certPath(): string {
    return join(this.dir, 'push.crt');
  }

  /** The receiver as a `PUSH_ALLOWED_HOSTS` entry: its host and (not 443) its port. */
  get allowListEntry(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get origin(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A new browser-side subscription: a P-256 key pair and auth secret, and an endpoint on this receiver. */
  subscribe(script: ScriptedAnswer[] = []): TestSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const id = randomBytes(12).toString('base64url');
    const sub: TestSubscription = {
      id,
      endpoint: `${this.origin}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
      ecdh,
      script: [...script],
    };
    this.subscriptions.set(id, sub);
    return sub;
  }

  for(subscription: TestSubscription): ReceivedPush[] {
    return this.received.filter((r) => r.subscription === subscription.id);
  }

  delivered(subscription: TestSubscription): ReceivedPush[] {
    return this.for(subscription).filter((r) => r.status === 201);
  }

  /** Resolves when `predicate` holds (checked after each request), or rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for pushes');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private handle(
    url: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ): { status: number; headers?: Record<string, string> } {
    try {
      const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(url)?.[1];
      const sub = id ? this.subscriptions.get(id) : undefined;
      if (!sub) return { status: 404 };
      const auth = verifyVapid(String(headers.authorization ?? ''), this.origin);
      if ('error' in auth) {
        this.rejected.push({ subscription: sub.id, reason: auth.error });
        return { status: 403 };
      }
      const scripted = sub.script.shift();
      const status = typeof scripted === 'object' ? scripted.status : (scripted ?? 201);
      let payload: Buffer | null = null;
      if (status === 201) {
        try {
          payload = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.keys.auth });
        } catch {
          this.rejected.push({ subscription: sub.id, reason: 'undecryptable body' });
          return { status: 400 };
        }
      }
      this.received.push({
        subscription: sub.id,
        status,
        headers: {
          ttl: headers.ttl as string | undefined,
          urgency: headers.urgency as string | undefined,
          topic: headers.topic as string | undefined,
          encoding: headers['content-encoding'] as string | undefined,
        },
        body,
        payload,
        claims: auth.claims,
        vapidKey: auth.key,
        at: Date.now(),
      });
      return typeof scripted === 'object' ? scripted : { status };
    } finally {
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** RFC 8292 §3: `vapid t=<JWT>, k=<base64url uncompressed P-256 key>`; the JWT is ES256 over the header and claims. */
function verifyVapid(
  header: string,
  origin: string,
): { claims: { aud: string; exp: number; sub: string }; key: string } | { error: string } {
  const match = /^vapid t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header);
  if (!match) return { error: 'no vapid authorization' };
  const [, token = '', key = ''] = match;
  const [head = '', body = '', signature = ''] = token.split('.');
  const jwtHeader = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string; typ?: string };
  if (jwtHeader.alg !== 'ES256') return { error: 'alg is not ES256' };
  const point = Buffer.from(key, 'base64url');
  if (point.length !== 65 || point[0] !== 4) return { error: 'k is not an uncompressed P-256 point' };
  const publicKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const ok = verify(
    'sha256',
    Buffer.from(`${head}.${body}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!ok) return { error: 'bad signature' };
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  if (claims.aud !== origin) return { error: 'wrong audience' };
  const now = Date.now() / 1000;
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) return { error: 'bad expiry' };
  if (!/^(mailto:|https:)/.test(claims.sub)) return { error: 'bad subject' };
  return { claims, key };
}
