/**
 * Several API instances over one database and one Redis, for delivery tests: a fresh PostgreSQL database and a
 * unique Redis key prefix per test (so suites run in parallel with others), instances either in this process (a
 * Nest app, optionally with an HTTPS agent for a local push service) or in a child process (so a test can SIGKILL
 * one), and a private redis-server for tests that restart Redis. Everything started here is stopped by `close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Agent } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';
import pg from 'pg';

import { createApp } from '../../src/app.js';
import { DatabaseRepository } from '../../src/repositories/database.repository.js';
import { type TestServer } from './harness.js';
import { createTestDatabase, databaseUrl, dropTestDatabase } from './template-database.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A fresh database, cloned from the migrated template (see template-database.ts). */
export async function createDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = await createTestDatabase();
  return { name, url: databaseUrl(name), drop: () => dropTestDatabase(name) };
}

/** Deletes every key under `prefix` (queues, presence, bus state of one test). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export type Instance = TestServer & { kill?: () => void; pid?: number };

export type ClusterOptions = {
  /** Redis URL, or null for the embedded (in-process queue) mode. */
  redisUrl: string | null;
  env?: Record<string, string>;
  pushAgent?: Agent;
};

export class Cluster {
  readonly prefix = `cove-test-${randomUUID()}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'cove-cluster-'));
  private readonly instances: Instance[] = [];
  private readonly children = new Set<ChildProcess>();

  private constructor(
    readonly database: { name: string; url: string; drop(): Promise<void> },
    readonly options: ClusterOptions,
  ) {}

  static async create(options: ClusterOptions): Promise<Cluster> {
    return new Cluster(await createDatabase(), options);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PORT: '0',
      HOST: '127.0.0.1',
      RATE_LIMITS: 'off',
      LOG_LEVEL: 'info',
      PWA_DIR: '/nonexistent',
      DATA_DIR: this.dataDir,
      DATABASE_URL: this.database.url,
      DATABASE_POOL_SIZE: '5',
      REDIS_PREFIX: this.prefix,
      METRICS_PORT: '0',
      ...(this.options.redisUrl ? { REDIS_URL: this.options.redisUrl } : {}),
      ...this.options.env,
      ...extra,
    };
  }

  /** An instance in this process. */
  async start(extra: Record<string, string> = {}): Promise<Instance> {
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const running = await createApp({
      env: this.env(extra),
      logDestination: sink,
      ...(this.options.pushAgent ? { pushAgent: this.options.pushAgent } : {}),
    });
    const db = running.app.get(DatabaseRepository);
    let closed = false;
    const instance: Instance = {
      url: running.url,
      wsUrl: `${running.url.replace('http', 'ws')}/v1/websocket`,
      backend: 'postgres',
      logs,
      query: <T>(sql: string, params: unknown[] = []) => db.sql.query(sql, params) as Promise<T[]>,
      running,
      async close() {
        if (closed) return;
        closed = true;
        await running.close();
      },
    };
    this.instances.push(instance);
    return instance;
  }

  /** A `npm run worker` process (the real entry point) on this cluster's database and Redis. */
  async spawnWorker(extra: Record<string, string> = {}): Promise<{ stop(): Promise<void>; logs: string[] }> {
    const child = spawn(
      process.execPath,
      ['--import', './apps/api/test/support/ts-register.mjs', 'apps/api/src/workers/worker.ts'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, NODE_OPTIONS: '', ...this.env(extra) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.children.add(child);
    const logs: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start: ${logs.join('')}`)), 60_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        logs.push(chunk.toString('utf8'));
        if (chunk.toString('utf8').includes('Cove worker running')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited with ${code}: ${logs.join('')}`));
      });
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      logs,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        this.children.delete(child);
      },
    };
  }

  /** An instance in a child process, which the test may SIGKILL. Its `query` goes through a separate pool. */
  async spawn(extra: Record<string, string> = {}): Promise<Instance> {
    const child = spawn(
      process.execPath,
      ['--import', './apps/api/test/support/ts-register.mjs', 'apps/api/test/support/instance-main.ts'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, NODE_OPTIONS: '', ...this.env(extra) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.children.add(child);
    const logs: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      let buffer = '';
      const timer = setTimeout(() => reject(new Error(`instance did not start: ${logs.slice(-5).join('\n')}`)), 60_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          logs.push(line);
          if (line.startsWith('{"url"')) {
            clearTimeout(timer);
            resolve((JSON.parse(line) as { url: string }).url);
          }
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`instance exited with ${code}: ${logs.slice(-5).join('\n')}`));
      });
    });
    const pool = new pg.Pool({ connectionString: this.database.url, max: 2 });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const children = this.children;
    const instance: Instance = {
      url,
      wsUrl: `${url.replace('http', 'ws')}/v1/websocket`,
      backend: 'postgres',
      logs,
      query: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[],
      running: undefined as never,
      pid: child.pid,
      kill: () => child.kill('SIGKILL'),
      async close() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        children.delete(child);
        await pool.end();
      },
    };
    this.instances.push(instance);
    return instance;
  }

  async close(): Promise<void> {
    for (const instance of this.instances.reverse()) await instance.close().catch(() => undefined);
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    if (this.options.redisUrl) await deleteRedisPrefix(this.options.redisUrl, this.prefix).catch(() => undefined);
    await this.database.drop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A private redis-server (AOF on, fsync always) on a free port, which a test may restart. */
export class PrivateRedis {
  private process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'cove-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolve(p));
      });
    });
    const redis = new PrivateRedis(port);
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.process = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        this.dir,
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error('private redis did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Stops the server (its AOF keeps what was written). */
  async down(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
