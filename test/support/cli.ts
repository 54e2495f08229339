/**
 * Runs the `cove` CLI (packages/client/bin/cove.js, built first when its sources changed) as a separate process
 * for end-to-end tests: one-shot commands with their output and exit code, and long-running `listen` processes
 * whose output lines can be awaited and which can be stopped or killed.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { join, resolve } from 'node:path';

import { ensureBuilt } from './build.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'packages/client/bin/cove.js');
/** Builds the CLI (and the packages it references) when its output is missing or older than its sources. */
export const ensureCliBuilt = (): Promise<void> =>
  ensureBuilt({
    project: 'packages/client',
    entry: 'packages/client/dist/node/cli/main.js',
    sources: ['packages/client/src', 'packages/protocol/src', 'packages/crypto/src'],
    lock: '/tmp/cove-client-build.lock',
  });

export type CliResult = { code: number; stdout: string; stderr: string; lines: string[] };

/** The JSON objects of a `--json` command's standard output, one per line. */
export const jsonLines = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** `npm run admin -w apps/api -- <command>` against the server listening on the admin socket `socket`. */
export const adminCommand = (
  socket: string,
  command: string,
): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((done) => {
    execFile(
      'npm',
      ['run', '--silent', 'admin', '-w', 'apps/api', '--', command],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ADMIN_SOCKET: socket, HOME: process.env.HOME ?? '/tmp' } },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });

/** Runs one command to completion (`stdin`: written to its standard input, which is then closed). */
export async function cove(
  dataDir: string,
  args: string[],
  options: { json?: boolean; stdin?: string } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, '--data', dataDir, ...(options.json ? ['--json'] : []), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', COVE_LOG_LEVEL: 'error' },
  });
  /** What the command reads from standard input (`--password-stdin`), then end of file. */
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number>((done) => child.once('exit', (exit) => done(exit ?? -1)));
  return { code, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') };
}

export type Listener = {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: string[];
  /** Waits until a JSON line matching `predicate` was printed. */
  waitFor(
    what: string,
    predicate: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  events(): Record<string, unknown>[];
  stop(): Promise<number>;
  kill(): Promise<void>;
};

/** Starts `cove --json listen` and returns a handle (its log on stderr from `logLevel` up: errors by default). */
export function listen(dataDir: string, extra: string[] = [], logLevel = 'error'): Listener {
  const child = spawn(process.execPath, [BIN, '--data', dataDir, '--json', 'listen', ...extra], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', COVE_LOG_LEVEL: logLevel },
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  });
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<number>((done) => child.once('exit', (code, signal) => done(code ?? (signal ? -1 : 0))));
  const events = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    child,
    lines,
    stderr,
    events,
    async waitFor(what, predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events().find(predicate);
        if (found) return found;
        if (child.exitCode !== null)
          throw new Error(`listener exited (${child.exitCode}) before ${what}: ${stderr.join('')}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export type RunningCommand = {
  lines: string[];
  stderr: string[];
  /** Waits until a stdout line matches `predicate`; returns it. */
  waitForLine(what: string, predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  kill(): Promise<void>;
};

/** Starts any long-running command (`cove link`) and collects its output lines. */
export function start(dataDir: string, args: string[]): RunningCommand {
  const child = spawn(process.execPath, [BIN, '--data', dataDir, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', COVE_LOG_LEVEL: 'error' },
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  });
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<number>((done) => child.once('exit', (code, signal) => done(code ?? (signal ? -1 : 0))));
  return {
    lines,
    stderr,
    exited,
    async waitForLine(what, predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(predicate);
        if (found !== undefined) return found;
        if (child.exitCode !== null)
          throw new Error(`command exited (${child.exitCode}) before ${what}: ${stderr.join('')}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
