import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { x25519Backend } from '@cove/crypto';

import { ClientErrorCode } from '../src/errors.js';
import { KeyedMutex } from '../src/keyed-mutex.js';
import { createNodePlatform } from '../src/node/node-platform.js';

describe('createNodePlatform', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-platform-'));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('should refuse a data directory held by a live process', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await fs.writeFile(path.join(dir, 'lock'), String(child.pid));
      await expect(createNodePlatform({ dataDir: dir })).rejects.toMatchObject({ code: ClientErrorCode.StorageLocked });
    } finally {
      child.kill();
    }
  });

  it("should choose Node's native X25519 for the process, once, at the first platform", async () => {
    const platform = await createNodePlatform({ dataDir: dir });
    try {
      expect(x25519Backend().name).toBe('node:crypto');
    } finally {
      await platform.close();
    }
  });

  it('should take over the lock of a dead process and release it on close', async () => {
    await fs.writeFile(path.join(dir, 'lock'), '999999999');
    const platform = await createNodePlatform({ dataDir: dir });
    expect(await fs.readFile(path.join(dir, 'lock'), 'utf8')).toBe(String(process.pid));
    await platform.close();
    await expect(fs.stat(path.join(dir, 'lock'))).rejects.toThrow();
  });

  it('should produce random bytes of the requested length', async () => {
    const platform = await createNodePlatform({ dataDir: dir });
    const a = platform.random.bytes(32);
    const b = platform.random.bytes(32);
    expect(a).toHaveLength(32);
    expect(a).not.toEqual(b);
    await platform.close();
  });
});

describe(KeyedMutex.name, () => {
  it('should run work for one name in order and different names concurrently', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let releaseA!: () => void;
    const gate = new Promise<void>((resolve) => (releaseA = resolve));
    const first = mutex.run('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
    });
    const second = mutex.run('a', () => {
      log.push('a2');
      return Promise.resolve();
    });
    await mutex.run('b', () => {
      log.push('b');
      return Promise.resolve();
    });
    releaseA();
    await Promise.all([first, second]);
    expect(log).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });

  it('should keep going after a failure', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('x', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('x', () => Promise.resolve(5))).resolves.toBe(5);
    expect(mutex.size).toBeLessThanOrEqual(1);
  });
});
