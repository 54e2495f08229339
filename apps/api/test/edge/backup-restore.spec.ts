/**
 * The deployment guide's backup and restore, performed for real (issue 15): `deploy/backup.sh` dumps a running
 * server's PostgreSQL database and its DATA_DIR; `deploy/restore.sh` puts them into a new database and directory; a
 * server started on those delivers the envelope that was waiting, serves the attachment byte for byte, and keeps the
 * sealed-sender trust root and the VAPID key (clients pinned the first; push subscriptions depend on the second).
 * Restoring over a database that holds tables, into a non-empty directory, or from a backup whose bytes changed is
 * refused before anything is written.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import {
  ADMIN_URL,
  messagesFor,
  register,
  request,
  startServer,
  TestDevice,
  type TestServer,
} from '../support/harness.js';

const run = promisify(execFile);
const DEPLOY = new URL('../../../../deploy/', import.meta.url).pathname;

async function createDatabase(): Promise<{ name: string; url: string }> {
  const name = `cove_backup_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return { name, url: `postgres://postgres@127.0.0.1:5432/${name}` };
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

/** Runs a deploy script; resolves with its exit code and output instead of throwing on failure. */
async function script(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(DEPLOY, name), args, { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('backup and restore with deploy/backup.sh and deploy/restore.sh', () => {
  const databases: string[] = [];
  const dirs: string[] = [];
  const servers: TestServer[] = [];

  const tempDir = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  afterAll(async () => {
    for (const server of servers) await server.close().catch(() => undefined);
    for (const name of databases) await dropDatabase(name);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('should bring back waiting envelopes, attachments and the server keys, and refuse unsafe restores', async () => {
    const original = await createDatabase();
    databases.push(original.name);
    const dataDir = await tempDir('cove-data-');
    const server = await startServer('postgres', { DATABASE_URL: original.url, DATA_DIR: dataDir });
    servers.push(server);

    const alice = await register(server);
    const bob = await register(server);
    const waiting = messagesFor([bob]);
    expect((await alice.request('PUT', `/v1/messages/${bob.accountId}`, waiting)).status).toBe(200);
    const blob = randomBytes(70_000);
    const created = await fetch(`${server.url}/v1/attachments/tus`, {
      method: 'POST',
      headers: {
        authorization: alice.authorization,
        'tus-resumable': '1.0.0',
        'upload-length': String(blob.length),
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(blob),
    });
    expect(created.status).toBe(201);
    const attachmentId = created.headers.get('location')?.split('/').pop() ?? '';
    const info = (await request(server, 'GET', '/v1/info')).body as Record<string, unknown>;

    const backups = await tempDir('cove-backups-');
    const made = await script('backup.sh', [], { DATABASE_URL: original.url, DATA_DIR: dataDir, BACKUP_DIR: backups });
    expect(made).toMatchObject({ code: 0 });
    const backup = made.stdout.trim().split('\n').pop() ?? '';
    expect(backup).toMatch(/cove-\d{8}T\d{6}Z$/);
    await server.close();
    servers.splice(servers.indexOf(server), 1);

    // Refused: a database that holds tables (the original), and a directory that holds files.
    const freshDir = join(await tempDir('cove-restored-'), 'data');
    const intoLive = await script('restore.sh', [backup], { DATABASE_URL: original.url, DATA_DIR: freshDir });
    expect(intoLive.code).not.toBe(0);
    expect(intoLive.stderr).toMatch(/not empty .* tables/);
    const restored = await createDatabase();
    databases.push(restored.name);
    const intoFull = await script('restore.sh', [backup], { DATABASE_URL: restored.url, DATA_DIR: dataDir });
    expect(intoFull.code).not.toBe(0);
    expect(intoFull.stderr).toMatch(/is not empty/);

    // Refused: a backup whose archive changed after it was made.
    const tampered = join(await tempDir('cove-tampered-'), 'copy');
    await run('cp', ['-r', backup, tampered]);
    await appendFile(join(tampered, 'data.tar.gz'), Buffer.from([0]));
    const fromTampered = await script('restore.sh', [tampered], { DATABASE_URL: restored.url, DATA_DIR: freshDir });
    expect(fromTampered.code).not.toBe(0);
    const stillEmpty = new pg.Client({ connectionString: restored.url });
    await stillEmpty.connect();
    const { rows } = await stillEmpty.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'",
    );
    await stillEmpty.end();
    expect(rows[0]?.n).toBe('0');

    expect(await script('restore.sh', [backup], { DATABASE_URL: restored.url, DATA_DIR: freshDir })).toMatchObject({
      code: 0,
    });
    const back = await startServer('postgres', { DATABASE_URL: restored.url, DATA_DIR: freshDir });
    servers.push(back);
    expect((await request(back, 'GET', '/v1/info')).body).toEqual(info);
    const bobAgain = new TestDevice(back, bob.accountId, bob.deviceId, bob.secret, bob.registrationId, bob.identity);
    const socket = await bobAgain.connect();
    const envelopes = await socket.drain();
    socket.close();
    expect(envelopes.map((e) => e.content)).toEqual([waiting.messages[0]?.content]);
    const download = await fetch(`${back.url}/v1/attachments/${attachmentId}`, {
      headers: { authorization: bobAgain.authorization },
    });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(blob)).toBe(true);
  }, 180_000);
});
