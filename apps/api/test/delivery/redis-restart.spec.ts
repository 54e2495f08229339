/**
 * Redis restarted while push jobs are pending (a private redis-server with an append-only file, on its own port,
 * so other suites' Redis is untouched): jobs backing off before the restart and an envelope accepted while Redis is
 * down all end in exactly one delivered push per device — none lost, none duplicated.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';

import { Cluster, PrivateRedis, type Instance } from '../support/cluster.js';
import { messagesFor, register, type TestDevice } from '../support/harness.js';
import { PushReceiver, type TestSubscription } from '../support/push-receiver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('push jobs across a Redis restart', () => {
  let redis: PrivateRedis;
  let receiver: PushReceiver;
  let cluster: Cluster;
  let server: Instance;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    receiver = await PushReceiver.start();
    cluster = await Cluster.create({
      redisUrl: redis.url,
      pushAgent: receiver.agent,
      env: { PUSH_ALLOWED_HOSTS: receiver.allowListEntry, PUSH_RETRY_DELAY: '3s', LOG_LEVEL: 'warn' },
    });
    server = await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster.close();
    await receiver.close();
    await redis.close();
  });

  it('should deliver every pending push exactly once after Redis comes back', async () => {
    const sender = await register(server);
    const phones: Array<{ device: TestDevice; sub: TestSubscription }> = [];
    for (let i = 0; i < 6; i++) {
      const device = await register(server);
      /** The first five fail once (500), so their jobs sit in Redis backing off when it goes down. */
      const sub = receiver.subscribe(i < 5 ? [500] : []);
      const res = await device.request('PUT', '/v1/push/subscription', { endpoint: sub.endpoint, keys: sub.keys });
      expect(res.status).toBe(204);
      phones.push({ device, sub });
    }
    const send = async (to: TestDevice) => {
      const res = await sender.request('PUT', `/v1/messages/${to.accountId}`, messagesFor([to]));
      expect(res.status).toBe(200);
    };
    for (const { device } of phones.slice(0, 5)) {
      await send(device);
      await send(device);
    }
    await receiver.waitFor(() => phones.slice(0, 5).every(({ sub }) => receiver.for(sub).length === 1));

    /** All five retries are waiting in Redis (BullMQ's delayed set) when it stops. */
    const probe = new Redis(redis.url);
    expect(await probe.zcard(`${cluster.prefix}:push:delayed`)).toBe(5);
    probe.disconnect();
    await redis.down();
    /** Accepted while Redis is away: stored and answered at once; its wake-up is queued once Redis is back. */
    await send(phones[5]!.device);
    await sleep(2_000);
    await redis.up();

    await receiver.waitFor(() => phones.every(({ sub }) => receiver.delivered(sub).length >= 1), 30_000);
    await sleep(2_000);
    expect(receiver.rejected).toEqual([]);
    for (const [i, { sub }] of phones.entries()) {
      expect({ phone: i, statuses: receiver.for(sub).map((r) => r.status) }).toEqual({
        phone: i,
        statuses: i < 5 ? [500, 201] : [201],
      });
    }
  }, 90_000);
});
