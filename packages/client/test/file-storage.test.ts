import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ClientError } from '../src/errors.js';
import { FileStorage } from '../src/node/file-storage.js';
import type { StoredValue, TableName, WriteOp } from '../src/platform.js';

/** The engine stores any StoredValue in any table: the core's row types are not what these tests are about. */
const raw = (ops: { op: 'put'; table: TableName; key: string; value: StoredValue }[]): WriteOp[] =>
  ops as unknown as WriteOp[];

describe(FileStorage.name, () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-storage-'));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('should store, list in key order with prefix, reverse, after and limit', async () => {
    const storage = await FileStorage.open(dir);
    await storage.commit(
      raw(
        ['b/2', 'a/1', 'b/10', 'b/1', 'c'].map((key) => ({
          op: 'put' as const,
          table: 'messages' as const,
          key,
          value: { key },
        })),
      ),
    );
    expect((await storage.list('messages', { prefix: 'b/' })).map((e) => e.key)).toEqual(['b/1', 'b/10', 'b/2']);
    expect((await storage.list('messages', { prefix: 'b/', reverse: true, limit: 2 })).map((e) => e.key)).toEqual([
      'b/2',
      'b/10',
    ]);
    expect((await storage.list('messages', { prefix: 'b/', reverse: true, after: 'b/10' })).map((e) => e.key)).toEqual([
      'b/1',
    ]);
    expect((await storage.list('messages', { after: 'b/2' })).map((e) => e.key)).toEqual(['c']);
    expect(await storage.count('messages', { prefix: 'b/' })).toBe(3);
    await storage.close();
  });

  it('should keep bytes and nested values across a reopen', async () => {
    const storage = await FileStorage.open(dir);
    const value = { record: new Uint8Array([0, 1, 255]), nested: { list: [1, 'two', null, true] } };
    await storage.commit(raw([{ op: 'put', table: 'sessions', key: 'x', value }]));
    await storage.close();
    const reopened = await FileStorage.open(dir);
    expect(await reopened.get('sessions', 'x')).toEqual(value);
    await reopened.close();
  });

  it('should hand out copies, never its own objects', async () => {
    const storage = await FileStorage.open(dir);
    await storage.commit(raw([{ op: 'put', table: 'meta', key: 'k', value: { n: 1 } }]));
    const first = await storage.get<{ n: number }>('meta', 'k');
    first!.n = 2;
    expect(await storage.get('meta', 'k')).toEqual({ n: 1 });
    await storage.close();
  });

  it('should apply a batch atomically and in order', async () => {
    const storage = await FileStorage.open(dir);
    await storage.commit([
      { op: 'put', table: 'meta', key: 'a', value: 1 },
      { op: 'delete', table: 'meta', key: 'a' },
      { op: 'put', table: 'meta', key: 'b', value: 2 },
    ]);
    await expect(
      storage.commit([
        { op: 'put', table: 'meta', key: 'c', value: 3 },
        { op: 'put', table: 'nope' as 'meta', key: 'd', value: 4 },
      ]),
    ).rejects.toThrow();
    expect(await storage.get('meta', 'a')).toBeUndefined();
    expect(await storage.get('meta', 'b')).toBe(2);
    expect(await storage.get('meta', 'c')).toBeUndefined();
    await storage.close();
  });

  it('should drop a torn final journal record (crash mid-write) and keep the rest', async () => {
    const storage = await FileStorage.open(dir);
    await storage.commit([{ op: 'put', table: 'meta', key: 'kept', value: 1 }]);
    await storage.close();
    await fs.appendFile(path.join(dir, 'journal-0.log'), 'deadbeefdeadbeef [{"op":"put","tab');
    const reopened = await FileStorage.open(dir);
    expect(await reopened.get('meta', 'kept')).toBe(1);
    await reopened.commit([{ op: 'put', table: 'meta', key: 'after', value: 2 }]);
    await reopened.close();
    const again = await FileStorage.open(dir);
    expect(await again.get('meta', 'after')).toBe(2);
    await again.close();
  });

  it('should report a damaged record in the middle of the journal', async () => {
    const storage = await FileStorage.open(dir);
    for (let i = 0; i < 3; i += 1) await storage.commit([{ op: 'put', table: 'meta', key: `k${i}`, value: i }]);
    await storage.close();
    const file = path.join(dir, 'journal-0.log');
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    lines[0] = lines[0]!.replace('"value":0', '"value":9');
    await fs.writeFile(file, lines.join('\n'));
    await expect(FileStorage.open(dir)).rejects.toThrow(ClientError);
  });

  it('should fold the journal into a snapshot and reopen from it', async () => {
    const storage = await FileStorage.open(dir);
    await storage.commit(
      raw([{ op: 'put', table: 'preKeys', key: '1', value: { record: new Uint8Array(32).fill(7) } }]),
    );
    await storage.compactNow();
    await storage.commit(raw([{ op: 'put', table: 'preKeys', key: '2', value: 'later' }]));
    await storage.close();
    const files = (await fs.readdir(dir)).sort();
    expect(files).toEqual(['journal-1.log', 'state.json']);
    const reopened = await FileStorage.open(dir);
    expect(await reopened.get('preKeys', '1')).toEqual({ record: new Uint8Array(32).fill(7) });
    expect(await reopened.get('preKeys', '2')).toBe('later');
    await reopened.close();
  });

  it('should create its files readable only by the owner', async () => {
    const storage = await FileStorage.open(dir);
    await storage.commit(raw([{ op: 'put', table: 'meta', key: 'secret', value: new Uint8Array(32) }]));
    await storage.compactNow();
    await storage.commit([{ op: 'put', table: 'meta', key: 'more', value: 1 }]);
    await storage.close();
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of await fs.readdir(dir)) expect((await fs.stat(path.join(dir, file))).mode & 0o777).toBe(0o600);
  });
});
