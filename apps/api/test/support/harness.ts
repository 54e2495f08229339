/**
 * Test harness for the API: boots the real Nest app on an ephemeral port against a fresh PostgreSQL database
 * (created per server, dropped after) or an in-memory PGlite, captures every log line, and drives it through real
 * HTTP and WebSocket clients with keys made by @signalapp/libsignal-client.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

import * as signal from '@signalapp/libsignal-client';
import WebSocket from 'ws';

import { createApp, type RunningApp } from '../../src/app.js';
import {
  ADMIN_URL,
  createTestDatabase,
  databaseUrl,
  dropTestDatabase,
  migratedPgliteImage,
  type TestDatabaseOptions,
} from './template-database.js';

export type Backend = 'postgres' | 'pglite';
export { ADMIN_URL };

export type TestServer = {
  url: string;
  wsUrl: string;
  backend: Backend;
  logs: string[];
  /** SQL against the server's database (PostgreSQL only; PGlite through the app's own connection). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  running: RunningApp;
  close(): Promise<void>;
};

/**
 * Starts the app on `backend`: for PostgreSQL over a fresh database, a clone of the migrated template, and for an
 * in-memory PGlite from an image of a migrated one, unless `database.emptyDatabase` (see template-database.ts).
 */
export async function startServer(
  backend: Backend,
  env: Record<string, string> = {},
  database: Pick<TestDatabaseOptions, 'emptyDatabase'> = {},
): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  let databaseName: string | undefined;
  const base: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'info',
    PWA_DIR: '/nonexistent',
    DATA_DIR: '/tmp/cove-test-data',
    /** Servers here share DATA_DIR: the admin socket is asked for only by the specs that test it (their own path). */
    ADMIN_SOCKET: 'off',
    /**
     * Short enough that the heartbeat tests see a drop within seconds, long enough that a loaded 2-core machine
     * (the server shares its event loop with the test) never misses a whole round: 250 ms dropped live sockets (1006).
     */
    WS_HEARTBEAT_INTERVAL: '2s',
    /** A free port per server: tests run side by side (and 9464 may be anyone's on a shared machine). */
    METRICS_PORT: '0',
  };
  if (backend === 'postgres') {
    databaseName = await createTestDatabase(database);
    base.DATABASE_URL = databaseUrl(databaseName);
    base.DATABASE_POOL_SIZE = '10';
  } else {
    base.PGLITE_DIR = 'memory';
  }
  const inMemory = backend === 'pglite' && (env.PGLITE_DIR ?? base.PGLITE_DIR) === 'memory';
  const running = await createApp({
    env: { ...base, ...env },
    logDestination: sink,
    ...(inMemory && !database.emptyDatabase ? { pgliteImage: await migratedPgliteImage() } : {}),
  });
  const { DatabaseRepository } = await import('../../src/repositories/database.repository.js');
  const db = running.app.get(DatabaseRepository);
  return {
    url: running.url,
    wsUrl: `${running.url.replace('http', 'ws')}/v1/websocket`,
    backend,
    logs,
    query: <T>(sql: string, params: unknown[] = []) => db.sql.query(sql, params) as Promise<T[]>,
    running,
    async close() {
      await running.close();
      if (databaseName) await dropTestDatabase(databaseName);
    },
  };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Key material of one account made with libsignal; private halves stay in the test. */
export class TestIdentity {
  readonly identity = signal.IdentityKeyPair.generate();
  /** Private halves made so far (for the canary check). */
  readonly privateKeys: Uint8Array[] = [this.identity.privateKey.serialize()];
  private kyberPair: signal.KEMKeyPair | undefined;

  get identityKey(): string {
    return b64(this.identity.publicKey.serialize());
  }

  signedPreKey(keyId: number): { keyId: number; publicKey: string; signature: string } {
    const priv = signal.PrivateKey.generate();
    this.privateKeys.push(priv.serialize());
    const pub = priv.getPublicKey().serialize();
    return { keyId, publicKey: b64(pub), signature: b64(this.identity.privateKey.sign(pub)) };
  }

  preKey(keyId: number): { keyId: number; publicKey: string } {
    const priv = signal.PrivateKey.generate();
    this.privateKeys.push(priv.serialize());
    return { keyId, publicKey: b64(priv.getPublicKey().serialize()) };
  }

  /** Kyber keys are slow-ish to make; tests reuse one pair under several ids. */
  kyberPreKey(keyId: number): { keyId: number; publicKey: string; signature: string } {
    if (!this.kyberPair) {
      this.kyberPair = signal.KEMKeyPair.generate();
      this.privateKeys.push(this.kyberPair.getSecretKey().serialize());
    }
    const pub = this.kyberPair.getPublicKey().serialize();
    return { keyId, publicKey: b64(pub), signature: b64(this.identity.privateKey.sign(pub)) };
  }

  registration(extra: Record<string, unknown> = {}, preKeys = 0): Record<string, unknown> & { secret: string } {
    const secret = b64(randomBytes(32));
    return {
      secret,
      registrationId: 1 + (randomBytes(2).readUInt16BE() % 16000),
      identityKey: this.identityKey,
      signedPreKey: this.signedPreKey(1),
      kyberLastResortPreKey: this.kyberPreKey(1000),
      preKeys: Array.from({ length: preKeys }, (_, i) => this.preKey(i + 1)),
      kyberPreKeys: Array.from({ length: preKeys }, (_, i) => this.kyberPreKey(i + 1)),
      ...extra,
    };
  }
}

export type HttpResult<T = any> = { status: number; body: T; headers: Headers };

/** One authenticated device of an account. */
export class TestDevice {
  constructor(
    readonly server: TestServer,
    readonly accountId: string,
    readonly deviceId: number,
    readonly secret: string,
    readonly registrationId: number,
    readonly identity: TestIdentity,
  ) {}

  get authorization(): string {
    return `Basic ${Buffer.from(`${this.accountId}.${this.deviceId}:${this.secret}`).toString('base64')}`;
  }

  request<T = any>(method: string, path: string, body?: unknown): Promise<HttpResult<T>> {
    return request<T>(this.server, method, path, body, { authorization: this.authorization });
  }

  async connect(): Promise<TestSocket> {
    const socket = await TestSocket.open(this.server.wsUrl);
    socket.sendJson({ type: 'auth', accountId: this.accountId, deviceId: this.deviceId, secret: this.secret });
    const ready = await socket.next();
    if (ready.type !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
    return socket;
  }
}

export async function request<T = any>(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const response = await fetch(`${server.url}${path}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** The Prometheus text from the server's metrics listener (the public port has no `/metrics`). */
export async function scrapeMetrics(server: Pick<TestServer, 'running'>, token?: string): Promise<string> {
  const url = server.running.metricsUrl;
  if (!url) throw new Error('the metrics listener is off (METRICS_PORT=off)');
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (response.status !== 200) throw new Error(`metrics: ${response.status}`);
  return response.text();
}

/** Registers a new account (device 1). */
export async function register(
  server: TestServer,
  options: { username?: string; preKeys?: number } = {},
): Promise<TestDevice> {
  const identity = new TestIdentity();
  const body = identity.registration(options.username ? { username: options.username } : {}, options.preKeys ?? 0);
  const res = await request<{ accountId: string; deviceId: number }>(server, 'POST', '/v1/accounts', body);
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return new TestDevice(server, res.body.accountId, 1, body.secret, body.registrationId as number, identity);
}

/** Links a new device to the primary's account. */
export async function link(primary: TestDevice, preKeys = 0): Promise<TestDevice> {
  const code = await primary.request<{ code: string }>('POST', '/v1/devices/provisioning-code');
  if (code.status !== 201) throw new Error(`provisioning code: ${code.status}`);
  const { identityKey: _unused, ...body } = primary.identity.registration({}, preKeys);
  const res = await request<{ accountId: string; deviceId: number }>(primary.server, 'POST', '/v1/devices', {
    ...body,
    provisioningCode: code.body.code,
  });
  if (res.status !== 201) throw new Error(`link failed: ${res.status} ${JSON.stringify(res.body)}`);
  return new TestDevice(
    primary.server,
    res.body.accountId,
    res.body.deviceId,
    body.secret,
    body.registrationId as number,
    primary.identity,
  );
}

/** A message for each device of `recipients`. */
export function messagesFor(
  recipients: TestDevice[],
  content = b64(randomBytes(48)),
  type: 'prekey' | 'whisper' = 'whisper',
): { timestamp: number; messages: Array<Record<string, unknown>> } {
  return {
    timestamp: Date.now(),
    messages: recipients.map((r) => ({
      destinationDeviceId: r.deviceId,
      destinationRegistrationId: r.registrationId,
      type,
      content,
    })),
  };
}

export type Frame = { type: string; [key: string]: any };

/** A WebSocket client that queues incoming frames and the close event. */
export class TestSocket {
  private readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse((data as Buffer).toString('utf8')) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /** `options`: for instance the `ca` that a `wss://` URL's certificate is checked against. */
  static open(url: string, options?: WebSocket.ClientOptions): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const socket = new TestSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  sendJson(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The next frame (optionally skipping pongs), or throws when the socket closes or nothing comes in time. */
  async next(timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.closed) throw new Error(`socket closed ${this.closed.code} ${this.closed.reason}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Collects envelopes until `queue-empty`. */
  async drain(): Promise<Frame[]> {
    const envelopes: Frame[] = [];
    for (;;) {
      const frame = await this.next();
      if (frame.type === 'queue-empty') return envelopes;
      if (frame.type !== 'envelope') throw new Error(`unexpected ${frame.type}`);
      envelopes.push(frame.envelope as Frame);
    }
  }

  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket not closed in time');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closed;
  }

  /** Frames received so far and not consumed. */
  get buffered(): number {
    return this.frames.length;
  }

  close(): void {
    this.ws.close();
  }
}
