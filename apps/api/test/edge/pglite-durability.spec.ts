/**
 * "200 means durable" on the embedded database too: with PGlite in a directory, the send's `200` comes only after
 * the commit's write-ahead log was fsynced (observed on the real `fs.fsyncSync`, which still runs), the database
 * reopens with what was acknowledged, and `PGLITE_FSYNC=off` is the documented way back to no fsync at all.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { messagesFor, register, startServer } from '../support/harness.js';

/** PGlite starts slowly on the shared machine (WebAssembly PostgreSQL, migrations). */
const SLOW = 180_000;

/** Records the file behind every fsync while `action` runs; the real fsync still happens. */
async function fsyncedDuring<T>(action: () => Promise<T>): Promise<{ result: T; paths: string[] }> {
  const paths: string[] = [];
  const original = fs.fsyncSync;
  const spy = jest.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
    paths.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    original(fd);
  });
  try {
    return { result: await action(), paths };
  } finally {
    spy.mockRestore();
  }
}

describe('PGlite durability', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cove-pglite-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'should answer a send only after its commit is on disk, and keep it across a restart',
    async () => {
      const database = join(dir, 'durable');
      let server = await startServer('pglite', { PGLITE_DIR: database });
      let guid: string;
      try {
        const sender = await register(server);
        const recipient = await register(server);
        const { result, paths } = await fsyncedDuring(() =>
          sender.request('PUT', `/v1/messages/${recipient.accountId}`, messagesFor([recipient], 'ZHVyYWJsZQ==')),
        );
        expect(result.status).toBe(200);
        expect(paths.filter((p) => p.startsWith(`${database}/pg_wal/`)).length).toBeGreaterThan(0);
        const [row] = await server.query<{ guid: string }>('SELECT guid::text AS guid FROM envelopes');
        guid = row?.guid ?? '';
        expect(guid).not.toBe('');
      } finally {
        await server.close();
      }
      server = await startServer('pglite', { PGLITE_DIR: database });
      try {
        const rows = await server.query<{ guid: string }>('SELECT guid::text AS guid FROM envelopes');
        expect(rows.map((r) => r.guid)).toEqual([guid]);
        expect(await server.query('SHOW fsync')).toEqual([{ fsync: 'on' }]);
        expect(await server.query('SHOW wal_sync_method')).toEqual([{ wal_sync_method: 'fsync' }]);
      } finally {
        await server.close();
      }
    },
    SLOW,
  );

  it(
    'should not fsync with PGLITE_FSYNC=off',
    async () => {
      const server = await startServer('pglite', { PGLITE_DIR: join(dir, 'fast'), PGLITE_FSYNC: 'off' });
      try {
        const sender = await register(server);
        const recipient = await register(server);
        const { result, paths } = await fsyncedDuring(() =>
          sender.request('PUT', `/v1/messages/${recipient.accountId}`, messagesFor([recipient])),
        );
        expect(result.status).toBe(200);
        expect(paths).toEqual([]);
        expect(await server.query('SHOW fsync')).toEqual([{ fsync: 'off' }]);
      } finally {
        await server.close();
      }
    },
    SLOW,
  );
});
