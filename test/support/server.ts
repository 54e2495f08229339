/**
 * Boots the real Cove server for end-to-end tests as its own process (`apps/api/dist/workers/api.js`, the same
 * entry point as `npm start`; built first when its sources are newer): on an ephemeral loopback port, with a fresh
 * PostgreSQL database (`cove_test_<random>`, dropped on close) or PGlite in a temporary directory, rate limits off
 * unless asked, and every line the server writes (its logs) captured so tests can inspect them. Jest cannot load
 * NestJS 12 (ESM-only) through its CommonJS dependencies, and a separate process is what clients meet anyway.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import pg from 'pg';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'apps/api/dist/workers/api.js');
/**
 * Rewritten by every `tsc -b` that built something: a change that leaves the entry's own output as it was (most of
 * them) does not touch the entry, so without this every test file would run `tsc -b` again until the entry changed.
 */
const BUILD_INFO = join(ROOT, 'apps/api/tsconfig.tsbuildinfo');
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Generous: the first start applies every migration to an empty database. */
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
  env?: Record<string, string>;
};

const newestMtime = async (dir: string): Promise<number> => {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts'))
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
};

/** Builds the server (and the packages it references) when its output is missing or older than its sources. */
export async function ensureServerBuilt(): Promise<void> {
  const sources = Math.max(
    await newestMtime(join(ROOT, 'apps/api/src')),
    await newestMtime(join(ROOT, 'packages/protocol/src')),
    await newestMtime(join(ROOT, 'packages/crypto/src')),
  );
  const builtAt = existsSync(ENTRY)
    ? Math.max(statSync(ENTRY).mtimeMs, existsSync(BUILD_INFO) ? statSync(BUILD_INFO).mtimeMs : 0)
    : 0;
  if (builtAt >= sources) return;
  try {
    execFileSync(
      'flock',
      ['/tmp/cove-api-build.lock', process.execPath, join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'apps/api'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
  } catch (error) {
    // A half-edited source tree elsewhere in the monorepo must not stop every end-to-end suite: use the last build.
    if (!existsSync(ENTRY)) throw error;
    process.stderr.write('warning: apps/api did not build; testing against its previous build\n');
  }
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  await ensureServerBuilt();
  const kind = options.database ?? 'postgres';
  const dataDir = mkdtempSync(join(tmpdir(), 'cove-server-'));
  let databaseName: string | null = null;
  let databaseUrl = '';
  if (kind === 'postgres') {
    databaseName = `cove_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${databaseName}`);
    await admin.end();
    databaseUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${databaseName}`);
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
      if (databaseName) {
        const admin = new pg.Client({ connectionString: ADMIN_URL });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
        await admin.end();
      }
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
