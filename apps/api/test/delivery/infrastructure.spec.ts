/**
 * The delivery infrastructure repositories against the real Redis of this machine (a unique key prefix per run) and
 * their in-process twins: the same job, bus and presence semantics must hold for both. Also the Web Push repository
 * against a local HTTPS push service that verifies VAPID and decrypts the payload.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { JobName, QueueName } from '../../src/enum.js';
import { PermanentJobError, RetryableJobError } from '../../src/jobs.js';
import {
  InProcessBusRepository,
  RedisBusRepository,
  type BusRepository,
} from '../../src/repositories/bus.repository.js';
import { BullJobRepository } from '../../src/repositories/bullmq-job.repository.js';
import { InProcessJobRepository } from '../../src/repositories/in-process-job.repository.js';
import type { JobRepository } from '../../src/repositories/job.repository.js';
import {
  InProcessPresenceRepository,
  RedisPresenceRepository,
  type PresenceRepository,
} from '../../src/repositories/presence.repository.js';
import { RedisRepository } from '../../src/repositories/redis.repository.js';
import { WebPushRepository } from '../../src/repositories/web-push.repository.js';
import { PushReceiver } from '../support/push-receiver.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

type Backend = {
  name: string;
  make(): {
    jobs: JobRepository;
    bus: (id: string) => BusRepository;
    presence: (id: string) => PresenceRepository;
    close(): Promise<void>;
  };
};

const backends: Backend[] = [
  {
    name: 'redis',
    make() {
      const redis = new RedisRepository({ url: REDIS_URL, prefix: `cove-test-${randomUUID()}` });
      const jobs = new BullJobRepository(redis, { retryBaseMs: 20 });
      return {
        jobs,
        bus: (id) => new RedisBusRepository(id, redis),
        presence: (id) => new RedisPresenceRepository(id, redis, { instanceTtlMs: 600, deviceTtlMs: 60_000 }),
        async close() {
          await jobs.obliterate();
          await jobs.close();
          await redis.close();
        },
      };
    },
  },
  {
    name: 'in-process',
    make() {
      const jobs = new InProcessJobRepository({ retryBaseMs: 20 });
      return {
        jobs,
        bus: (id) => new InProcessBusRepository(id),
        presence: (id) => new InProcessPresenceRepository(id),
        close: () => jobs.close(),
      };
    },
  },
];

describe.each(backends)('delivery infrastructure ($name)', (backend) => {
  it('should coalesce jobs per device while one waits, and keep one follow-up while one runs', async () => {
    const env = backend.make();
    try {
      const runs: string[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      env.jobs.setDispatcher(async (name, data) => {
        const { accountId, deviceId } = data as { accountId: string; deviceId: number };
        runs.push(`${name}:${accountId}.${deviceId}`);
        if (runs.length === 1) await gate;
      });
      const a = { accountId: randomUUID(), deviceId: 1 };
      const b = { accountId: randomUUID(), deviceId: 2 };
      for (let i = 0; i < 100; i++) await env.jobs.queue({ name: JobName.PushDevice, data: a });
      await env.jobs.queue({ name: JobName.PushDevice, data: b });
      await env.jobs.startWorkers();
      await until(() => runs.length === 2);
      /** `a` is running (held by the gate): arrivals now collapse into exactly one follow-up. */
      for (let i = 0; i < 50; i++) await env.jobs.queue({ name: JobName.PushDevice, data: a });
      release();
      await until(() => runs.length >= 3);
      await sleep(200);
      expect(runs.filter((r) => r.endsWith(`${a.accountId}.1`))).toHaveLength(2);
      expect(runs.filter((r) => r.endsWith(`${b.accountId}.2`))).toHaveLength(1);
    } finally {
      await env.close();
    }
  });

  it('should retry transient failures with backoff and stop at permanent ones', async () => {
    const env = backend.make();
    try {
      const attempts = new Map<number, number[]>();
      env.jobs.setDispatcher((_name, data) => {
        const { deviceId } = data as { deviceId: number };
        const list = attempts.get(deviceId) ?? [];
        list.push(Date.now());
        attempts.set(deviceId, list);
        if (deviceId === 1 && list.length < 3) return Promise.reject(new RetryableJobError('busy'));
        if (deviceId === 2) return Promise.reject(new PermanentJobError('bad request'));
        return Promise.resolve();
      });
      await env.jobs.startWorkers();
      await env.jobs.queue({ name: JobName.PushDevice, data: { accountId: randomUUID(), deviceId: 1 } });
      await env.jobs.queue({ name: JobName.PushDevice, data: { accountId: randomUUID(), deviceId: 2 } });
      await until(() => (attempts.get(1)?.length ?? 0) === 3 && (attempts.get(2)?.length ?? 0) === 1);
      await sleep(300);
      expect(attempts.get(1)).toHaveLength(3);
      expect(attempts.get(2)).toHaveLength(1);
      const [t0 = 0, t1 = 0, t2 = 0] = attempts.get(1) ?? [];
      /**
       * Exponential from a 20 ms base with ±20% jitter: the first wait is at least 16 ms and the second at least 32 ms.
       * Only lower bounds are checked (a loaded machine makes waits longer, never shorter), with a few ms of slack for
       * timer granularity; the second bound exceeds the largest possible first wait without doubling (24 ms).
       */
      expect(t1 - t0).toBeGreaterThanOrEqual(14);
      expect(t2 - t1).toBeGreaterThanOrEqual(29);
      const counts = await env.jobs.counts(QueueName.Push);
      expect(counts.waiting + counts.active + counts.delayed).toBe(0);
    } finally {
      await env.close();
    }
  });

  it('should run scheduled jobs repeatedly', async () => {
    const env = backend.make();
    try {
      let purges = 0;
      env.jobs.setDispatcher((name) => {
        if (name === JobName.PurgeExpiredEnvelopes) purges += 1;
        return Promise.resolve();
      });
      await env.jobs.startWorkers();
      await env.jobs.schedule(JobName.PurgeExpiredEnvelopes, 100);
      await until(() => purges >= 3);
    } finally {
      await env.close();
    }
  });

  it('should deliver bus messages to the addressed instance, in order', async () => {
    const env = backend.make();
    const a = env.bus('instance-a');
    const b = env.bus('instance-b');
    try {
      const gotA: unknown[] = [];
      const gotB: unknown[] = [];
      await a.start((m) => gotA.push(m));
      await b.start((m) => gotB.push(m));
      /** In-process there is a single instance, which addresses itself. */
      const sender = backend.name === 'redis' ? b : a;
      for (let i = 0; i < 500; i++) sender.publish('instance-a', { seq: i });
      await until(() => gotA.length === 500);
      expect(gotA).toEqual(Array.from({ length: 500 }, (_, i) => ({ seq: i })));
      if (backend.name === 'redis') {
        expect(gotB).toEqual([]);
        a.broadcast({ all: true });
        await until(() => gotA.length === 501 && gotB.length === 1);
      }
    } finally {
      await a.close();
      await b.close();
      await env.close();
    }
  });

  it('should say which live instance holds a device', async () => {
    const env = backend.make();
    const a = env.presence('instance-a');
    try {
      await a.start();
      const device = `${randomUUID()}.1`;
      const other = `${randomUUID()}.1`;
      await a.add(device);
      expect(await a.lookup([device, other])).toEqual(
        new Map([
          [device, 'instance-a'],
          [other, null],
        ]),
      );
      await a.remove(device);
      expect((await a.lookup([device])).get(device)).toBeNull();
      if (backend.name === 'redis') {
        /** B connects the device, then dies without cleaning up: A stops seeing it once B's heartbeat expires. */
        const b = env.presence('instance-b');
        await b.start();
        await b.add(device);
        expect((await a.lookup([device])).get(device)).toBe('instance-b');
        /** A late disconnect on A must not erase B's entry. */
        await a.remove(device);
        expect((await a.lookup([device])).get(device)).toBe('instance-b');
        /** Simulated death: the heartbeat stops and nothing is cleaned up. */
        for (const timer of (b as unknown as { timers: NodeJS.Timeout[] }).timers) clearInterval(timer);
        await sleep(900);
        expect((await a.lookup([device])).get(device)).toBeNull();
      }
    } finally {
      await a.close();
      await env.close();
    }
  });
});

describe(WebPushRepository.name, () => {
  let receiver: PushReceiver;
  let dataDir: string;

  beforeAll(async () => {
    receiver = await PushReceiver.start();
    dataDir = mkdtempSync(join(tmpdir(), 'cove-vapid-'));
  });

  afterAll(async () => {
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const make = () =>
    new WebPushRepository({ dataDir, subject: 'mailto:ops@example.com', timeoutMs: 2_000, agent: receiver.agent });

  it('should generate VAPID keys once, keep them private on disk, and reuse them', async () => {
    const first = make();
    await first.init();
    const file = join(dataDir, 'vapid.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = make();
    await second.init();
    expect(second.publicKey).toBe(first.publicKey);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ publicKey: first.publicKey });
  });

  it('should refuse a subject that is not mailto: or https:', async () => {
    const bad = new WebPushRepository({ dataDir, subject: 'http://example.com', timeoutMs: 1_000 });
    await expect(bad.init()).rejects.toThrow();
  });

  it('should send a VAPID-signed, encrypted push and classify the answers', async () => {
    const push = make();
    await push.init();
    const sub = receiver.subscribe([{ status: 429, headers: { 'Retry-After': '3' } }, 500, 410]);
    const target = { endpoint: sub.endpoint, ...sub.keys };
    const payload = new Uint8Array(3072).fill(7);
    const options = { ttlSeconds: 60, urgency: 'high' as const, topic: 'wake' };
    expect(await push.send(target, payload, options)).toEqual({ kind: 'retry', status: 429, retryAfterMs: 3000 });
    expect(await push.send(target, payload, options)).toEqual({ kind: 'retry', status: 500 });
    expect(await push.send(target, payload, options)).toEqual({ kind: 'gone', status: 410 });
    expect(await push.send(target, payload, options)).toEqual({ kind: 'sent', status: 201 });
    expect(receiver.rejected).toEqual([]);
    const [ok] = receiver.delivered(sub);
    expect(ok?.payload).toEqual(Buffer.from(payload));
    expect(ok?.headers).toEqual({ ttl: '60', urgency: 'high', topic: 'wake', encoding: 'aes128gcm' });
    expect(ok?.vapidKey).toBe(push.publicKey);
    expect(ok?.claims.aud).toBe(receiver.origin);
    /** The token is cached per origin: every request carried the same one. */
    const tokens = new Set(receiver.for(sub).map((r) => r.claims.exp));
    expect(tokens.size).toBe(1);
  });

  it('should treat an unreachable push service as transient', async () => {
    const push = make();
    await push.init();
    const sub = receiver.subscribe();
    const outcome = await push.send({ endpoint: 'https://127.0.0.1:1/push/x', ...sub.keys }, new Uint8Array(10), {
      ttlSeconds: 60,
      urgency: 'normal',
    });
    expect(outcome).toEqual({ kind: 'retry', status: null });
  });
});
