/**
 * Offline delivery by Web Push, end to end through the HTTP API, on BullMQ + Redis and on the in-process queue:
 * subscriptions are checked against the allow-list; envelopes for a device with no live connection produce one
 * coalesced wake-up at a local HTTPS push service that verifies the VAPID JWT and decrypts the payload (fixed size,
 * nothing readable to the push service); transient answers are retried, 410 drops the subscription.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodePushPayload, PUSH_PAYLOAD_BYTES } from '@cove/protocol';

import { Cluster, REDIS_URL, type Instance } from '../support/cluster.js';
import { messagesFor, register, scrapeMetrics, type TestDevice } from '../support/harness.js';
import { PushReceiver, type TestSubscription } from '../support/push-receiver.js';

/** RFC 8291 body: 86-byte header, the payload, its padding delimiter and the 16-byte tag. */
const PUSH_BODY_BYTES = 86 + PUSH_PAYLOAD_BYTES + 1 + 16;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  { mode: 'redis', redisUrl: REDIS_URL },
  { mode: 'in-process', redisUrl: null },
])('Web Push delivery ($mode)', ({ redisUrl }) => {
  let receiver: PushReceiver;
  let cluster: Cluster;
  let server: Instance;
  let sender: TestDevice;

  beforeAll(async () => {
    receiver = await PushReceiver.start();
    cluster = await Cluster.create({
      redisUrl,
      pushAgent: receiver.agent,
      env: {
        PUSH_ALLOWED_HOSTS: `${receiver.allowListEntry},push.example`,
        PUSH_RETRY_DELAY: '100ms',
        PUSH_SWEEP_INTERVAL: '300ms',
        VAPID_SUBJECT: 'mailto:ops@cove.example',
      },
    });
    server = await cluster.start();
    sender = await register(server);
  });

  afterAll(async () => {
    await cluster.close();
    await receiver.close();
  });

  const subscribe = async (device: TestDevice, sub: TestSubscription) => {
    const res = await device.request('PUT', '/v1/push/subscription', {
      endpoint: sub.endpoint,
      expirationTime: null,
      keys: sub.keys,
    });
    expect(res.status).toBe(204);
  };

  const send = async (to: TestDevice, content = randomBytes(64).toString('base64'), urgent = true) => {
    const res = await sender.request('PUT', `/v1/messages/${to.accountId}`, { ...messagesFor([to], content), urgent });
    expect(res.status).toBe(200);
    return content;
  };

  it('should publish the VAPID key the pushes are signed with', async () => {
    const info = await sender.request('GET', '/v1/info');
    expect(info.body.vapidPublicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    const phone = await register(server);
    const sub = receiver.subscribe();
    await subscribe(phone, sub);
    await send(phone);
    await receiver.waitFor(() => receiver.delivered(sub).length === 1);
    expect(receiver.delivered(sub)[0]?.vapidKey).toBe(info.body.vapidPublicKey);
  });

  it('should refuse endpoints off the allow-list, non-https endpoints, other ports and malformed bodies', async () => {
    const phone = await register(server);
    const keys = receiver.subscribe().keys;
    const receiverPort = Number(new URL(receiver.origin).port);
    for (const endpoint of [
      'https://evil.example/push/1',
      'https://127.0.0.1.evil.example/push',
      'http://127.0.0.1/push/1',
      'https://user:pw@push.example/x',
      'https://notpush.example/x',
      // An allowed host on another port than 443 (Redis, SSH, an admin port…), or the receiver's host on 443.
      'https://push.example:6379/x',
      'https://a.push.example:8443/x',
      'https://push.example:80/x',
      `https://push.example:${receiverPort}/x`,
      'https://127.0.0.1/x',
      `https://127.0.0.1:${receiverPort + 1}/x`,
    ]) {
      const res = await phone.request('PUT', '/v1/push/subscription', { endpoint, keys });
      expect({ endpoint, status: res.status, error: res.body.error }).toEqual({
        endpoint,
        status: 400,
        error: 'invalid_request',
      });
    }
    for (const endpoint of ['https://a.push.example/x', 'https://push.example:443/x', `${receiver.origin}/push/x`]) {
      const res = await phone.request('PUT', '/v1/push/subscription', { endpoint, keys });
      expect({ endpoint, status: res.status }).toEqual({ endpoint, status: 204 });
    }
    expect((await phone.request('PUT', '/v1/push/subscription', { endpoint: 'https://push.example/x' })).status).toBe(
      400,
    );
    expect(
      (
        await phone.request('PUT', '/v1/push/subscription', {
          endpoint: 'https://push.example/x',
          keys: { ...keys, auth: 'x' },
        })
      ).status,
    ).toBe(400);
    expect((await phone.request('DELETE', '/v1/push/subscription')).status).toBe(204);
    expect((await phone.request('DELETE', '/v1/push/subscription')).status).toBe(204);
    const anonymous = await fetch(`${server.url}/v1/push/subscription`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
  });

  it('should wake a sleeping device with one coalesced, fixed-size, opaque push', async () => {
    const phone = await register(server);
    const sub = receiver.subscribe();
    await subscribe(phone, sub);
    const contents: string[] = [];
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        await sleep(i * 2);
        contents.push(await send(phone, randomBytes(120).toString('base64'), true));
      }),
    );
    await receiver.waitFor(() => receiver.delivered(sub).length >= 1);
    await sleep(1_000);
    expect(receiver.rejected).toEqual([]);
    const pushes = receiver.delivered(sub);
    expect(pushes).toHaveLength(1);
    const [push] = pushes;
    expect(push?.body.length).toBe(PUSH_BODY_BYTES);
    expect(push?.payload?.length).toBe(PUSH_PAYLOAD_BYTES);
    expect(push?.headers).toEqual({
      ttl: String(7 * 24 * 3600),
      urgency: 'high',
      topic: 'cove-wake',
      encoding: 'aes128gcm',
    });
    const decoded = decodePushPayload(new Uint8Array(push!.payload!));
    if (decoded.kind !== 'envelope') throw new Error('expected the envelope in the push');
    expect(contents).toContain(decoded.envelope.content);
    expect(decoded.envelope.sourceAccountId).toBe(sender.accountId);
    expect(decoded.pending).toBeGreaterThanOrEqual(1);
    /** The push service sees nothing of the envelope: neither its bytes, nor their base64, nor its ids. */
    for (const needle of [
      Buffer.from(decoded.envelope.content, 'base64'),
      Buffer.from(decoded.envelope.content),
      Buffer.from(decoded.envelope.guid),
      Buffer.from(sender.accountId),
    ]) {
      expect(push!.body.includes(needle)).toBe(false);
    }

    /** Once the device has fetched its queue, the next envelope wakes it again. */
    const fetched = await phone.request('GET', '/v1/messages?limit=100');
    expect(fetched.body.envelopes).toHaveLength(100);
    await sleep(200);
    await send(phone);
    await receiver.waitFor(() => receiver.delivered(sub).length === 2);
  });

  it('should send a bare wake-up of the same size when the envelope does not fit', async () => {
    const phone = await register(server);
    const sub = receiver.subscribe();
    await subscribe(phone, sub);
    await send(phone, randomBytes(8_000).toString('base64'), false);
    await receiver.waitFor(() => receiver.delivered(sub).length === 1);
    const [push] = receiver.delivered(sub);
    expect(push?.body.length).toBe(PUSH_BODY_BYTES);
    expect(push?.headers.urgency).toBe('low');
    expect(push?.headers.ttl).toBe('3600');
    expect(decodePushPayload(new Uint8Array(push!.payload!))).toEqual({ kind: 'wake', pending: 1 });
  });

  it('should retry 429 and 500 with backoff and deliver exactly once', async () => {
    const phone = await register(server);
    const sub = receiver.subscribe([{ status: 429, headers: { 'Retry-After': '1' } }, 500, 503]);
    await subscribe(phone, sub);
    await send(phone);
    await receiver.waitFor(() => receiver.delivered(sub).length === 1);
    await sleep(500);
    expect(receiver.for(sub).map((r) => r.status)).toEqual([429, 500, 503, 201]);
    const [first, , , last] = receiver.for(sub);
    /** Retry-After: 1 was honoured before the first retry. */
    expect(receiver.for(sub)[1]!.at - first!.at).toBeGreaterThanOrEqual(900);
    expect(last!.status).toBe(201);
  });

  it('should drop the subscription when the push service says it is gone', async () => {
    const phone = await register(server);
    const sub = receiver.subscribe([410]);
    await subscribe(phone, sub);
    await send(phone);
    await receiver.waitFor(() => receiver.for(sub).length === 1);
    const deadline = Date.now() + 5_000;
    let rows: unknown[] = [1];
    while (rows.length && Date.now() < deadline) {
      rows = await server.query('SELECT 1 FROM push_subscriptions WHERE account_id = $1::uuid', [phone.accountId]);
      await sleep(50);
    }
    expect(rows).toEqual([]);
    await send(phone);
    await sleep(700);
    expect(receiver.for(sub)).toHaveLength(1);
  });

  it('should wake a device whose wake-up was never queued, through the periodic sweep', async () => {
    const phone = await register(server);
    const sub = receiver.subscribe();
    await subscribe(phone, sub);
    /** An envelope stored a minute ago whose wake-up was lost (as if the queue had been unreachable). */
    const acceptedAt = Date.now() - 60_000;
    await server.query(
      `INSERT INTO envelopes (guid, account_id, device_id, type, source_account_id, source_device_id, timestamp,
                              server_timestamp, urgent, content)
       VALUES (gen_random_uuid(), $1::uuid, 1, 'whisper', $2::uuid, 1, $3::bigint, $3::bigint, true, '\\x0102')`,
      [phone.accountId, sender.accountId, acceptedAt],
    );
    await receiver.waitFor(() => receiver.delivered(sub).length === 1);
    await sleep(1_000);
    expect(receiver.delivered(sub)).toHaveLength(1);
  });

  it('should never connect to a stored endpoint whose port the allow-list does not name, and drop it', async () => {
    /** A plain TCP listener on the receiver's host: any connection to it is the server reaching a port it must not. */
    const connections: number[] = [];
    const trap = createServer((socket) => {
      connections.push(Date.now());
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    try {
      const phone = await register(server);
      const sub = receiver.subscribe();
      await subscribe(phone, sub);
      /** As if stored before the port rule, or by a database writer that skipped the service's check. */
      const stored = `https://127.0.0.1:${(trap.address() as AddressInfo).port}/push/${sub.id}`;
      await server.query('UPDATE push_subscriptions SET endpoint = $2 WHERE account_id = $1::uuid', [
        phone.accountId,
        stored,
      ]);
      await send(phone);
      const deadline = Date.now() + 10_000;
      let rows: unknown[] = [1];
      while (rows.length && Date.now() < deadline) {
        await sleep(50);
        rows = await server.query('SELECT 1 FROM push_subscriptions WHERE account_id = $1::uuid', [phone.accountId]);
      }
      expect(rows).toEqual([]);
      expect(await scrapeMetrics(server)).toMatch(/^cove_push_total\{outcome="disallowed"\} [1-9]/m);
      expect(connections).toEqual([]);
      expect(receiver.for(sub)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    }
  });

  it('should not push to a device that is connected', async () => {
    const phone = await register(server);
    const sub = receiver.subscribe();
    await subscribe(phone, sub);
    const socket = await phone.connect();
    expect(await socket.drain()).toEqual([]);
    const content = await send(phone);
    const frame = await socket.next();
    expect(frame.envelope.content).toBe(content);
    await sleep(700);
    expect(receiver.for(sub)).toEqual([]);
    socket.close();
  });
});
