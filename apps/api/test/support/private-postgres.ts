/**
 * A private PostgreSQL cluster for fault tests: `initdb` under a temporary directory, its own port and socket
 * directory, trust authentication, started, stopped and restarted with `pg_ctl` (`-m fast`: sessions are terminated
 * as in a real restart). Run as the current user, or as `postgres` through `runuser` when the tests run as root
 * (PostgreSQL refuses to run as root). Nothing here touches the shared server on 5432.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { freePort } from './tls-fixtures.js';

const run = promisify(execFile);

/** The newest installed PostgreSQL's binaries (Debian layout), or those on the PATH. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return '';
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : '';
}

export class PrivatePostgres {
  private readonly bin = binDir();
  private readonly asRoot = process.getuid?.() === 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Creates and starts a cluster. */
  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'cove-pg-'));
    const pg = new PrivatePostgres(dir, await freePort());
    if (pg.asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await pg.exec('initdb', ['-D', pg.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await pg.up();
    return pg;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  /** The admin URL (database `postgres`). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private async exec(tool: string, args: string[]): Promise<string> {
    const path = this.bin ? join(this.bin, tool) : tool;
    const { stdout } = this.asRoot
      ? await run('runuser', ['-u', 'postgres', '--', path, ...args], { timeout: 60_000 })
      : await run(path, args, { timeout: 60_000 });
    return stdout;
  }

  private get options(): string {
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=50`;
  }

  async up(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.data, '-o', this.options, '-l', join(this.dir, 'log'), '-w', 'start']);
  }

  async down(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'stop']);
  }

  /** `pg_ctl restart -m fast`: every session is terminated, the server is back when this resolves. */
  async restart(): Promise<void> {
    await this.exec('pg_ctl', [
      '-D',
      this.data,
      '-m',
      'fast',
      '-o',
      this.options,
      '-l',
      join(this.dir, 'log'),
      '-w',
      'restart',
    ]);
  }

  async close(): Promise<void> {
    await this.down().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
