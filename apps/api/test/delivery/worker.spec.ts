/**
 * Workers in their own process (`npm run worker`): the API runs with `WORKERS_IN_API=false` and only queues jobs;
 * a separate worker process on the same database and Redis sends the wake-up.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { Cluster, REDIS_URL, type Instance } from '../support/cluster.js';
import { messagesFor, register } from '../support/harness.js';
import { PushReceiver } from '../support/push-receiver.js';

describe('separate worker process', () => {
  let receiver: PushReceiver;
  let cluster: Cluster;
  let api: Instance;

  beforeAll(async () => {
    receiver = await PushReceiver.start();
    cluster = await Cluster.create({
      redisUrl: REDIS_URL,
      pushAgent: receiver.agent,
      env: { PUSH_ALLOWED_HOSTS: receiver.allowListEntry, LOG_LEVEL: 'warn' },
    });
    api = await cluster.start({ WORKERS_IN_API: 'false' });
  }, 60_000);

  afterAll(async () => {
    await cluster.close();
    await receiver.close();
  });

  it('should leave push jobs to the worker process', async () => {
    const sender = await register(api);
    const phone = await register(api);
    const sub = receiver.subscribe();
    expect(
      (await phone.request('PUT', '/v1/push/subscription', { endpoint: sub.endpoint, keys: sub.keys })).status,
    ).toBe(204);
    expect((await sender.request('PUT', `/v1/messages/${phone.accountId}`, messagesFor([phone]))).status).toBe(200);
    /** Nothing consumes the queue yet: the API does not run workers. */
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receiver.for(sub)).toEqual([]);
    const worker = await cluster.spawnWorker({ NODE_EXTRA_CA_CERTS: receiver.certPath });
    try {
      await receiver.waitFor(() => receiver.delivered(sub).length === 1, 30_000);
      expect(receiver.rejected).toEqual([]);
    } finally {
      await worker.stop();
    }
  }, 90_000);
});
