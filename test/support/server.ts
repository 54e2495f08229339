/**
 * Boots the real Cove server for end-to-end tests as its own process (`apps/api/dist/workers/api.js`, the same
 * entry point as `npm start`; built first when its sources are newer): on an ephemeral loopback port, with a fresh
 * PostgreSQL database (`cove_test_<random>`, a clone of the migrated template, dropped on close) or PGlite in a
 * temporary directory, rate limits off unless asked, and every line the server writes (its logs) captured so tests
 * can inspect them. Jest cannot load NestJS 12 (ESM-only) through its CommonJS dependencies, and a separate process
 * is what clients meet anyway.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import pg from 'pg';

import {
  createTestDatabase,
  databaseUrl as urlOf,
  dropTestDatabase,
} from '../../apps/api/test/support/template-database.js';
import { ensureBuilt } from './build.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'apps/api/dist/workers/api.js');
/** Generous: a server may be asked to migrate an empty database at its start (`emptyDatabase`). */
const START_TIMEOUT_MS = 60_000;

export type TestServer = {
  url: string;
  port: number;
  /** Every line the server wrote to stdout and stderr. */
  logs: string[];
  /** Runs SQL against the server's database (PostgreSQL only). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  databaseName: string | null;
  readonly process: ChildProcess;
  /** Stops the server process (clients see it unreachable); `start()` brings it back on the same port and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
};

export type TestServerOptions = {
  database?: 'postgres' | 'pglite';
  /** PostgreSQL: an empty database the server migrates at its start, not a clone of the migrated template. */
  emptyDatabase?: boolean;
  env?: Record<string, string>;
};

/** Builds the server (and the packages it references) when its output is missing or older than its sources. */
export const ensureServerBuilt = (): Promise<void> =>
  ensureBuilt({
    project: 'apps/api',
    entry: 'apps/api/dist/workers/api.js',
    sources: ['apps/api/src', 'packages/protocol/src', 'packages/crypto/src'],
    lock: '/tmp/cove-api-build.lock',
  });

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  await ensureServerBuilt();
  const kind = options.database ?? 'postgres';
  const dataDir = mkdtempSync(join(tmpdir(), 'cove-server-'));
  let databaseName: string | null = null;
  let databaseUrl = '';
  if (kind === 'postgres') {
    databaseName = await createTestDatabase(options.emptyDatabase ? { emptyDatabase: true } : {});
    databaseUrl = urlOf(databaseName);
  }
  const logs: string[] = [];
  const env = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'debug',
    PWA_DIR: join(dataDir, 'no-pwa'),
    METRICS_PORT: '0',
    ...options.env,
  };
  let running = await launch({ ...env, PORT: '0' }, logs);
  const port = Number(new URL(running.url).port);
  const pool = databaseName ? new pg.Pool({ connectionString: databaseUrl, max: 2 }) : null;
  return {
    url: running.url,
    port,
    logs,
    databaseName,
    get process() {
      return running.child;
    },
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      if (!pool) throw new Error('query() needs the PostgreSQL backend');
      const result = await pool.query(sql, params);
      return result.rows as T[];
    },
    async stop() {
      await terminate(running.child);
    },
    async start() {
      if (running.child.exitCode === null) return;
      running = await launch({ ...env, PORT: String(port) }, logs);
    },
    async close() {
      await terminate(running.child);
      await pool?.end();
      if (databaseName) await dropTestDatabase(databaseName);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts the server process and resolves with its URL once it listens. */
async function launch(env: Record<string, string>, logs: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--enable-source-maps', ENTRY], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const firstLine = logs.length;
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join('')}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      logs.push(chunk.toString('utf8'));
      const match = /Cove API listening on (http:\/\/[0-9.]+:\d+)/.exec(logs.slice(firstLine).join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${logs.join('')}`));
    });
  });
  return { child, url };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
