/**
 * Two API instances over one PostgreSQL database and one Redis: a device connected to instance A receives, live
 * and in order, envelopes accepted by instance B; killing A with SIGKILL mid-stream loses nothing (the device
 * reconnects to B and, after deduplication by GUID, receives every envelope exactly once); a device's newer
 * connection on one instance closes its older one on the other; removing a device disconnects it wherever it is.
 */
import { afterEach, describe, expect, it } from '@jest/globals';

import { Cluster, REDIS_URL, type Instance } from '../support/cluster.js';
import { link, messagesFor, register, TestDevice, type Frame, type TestSocket } from '../support/harness.js';

/** The same device, talking to another instance. */
const on = (device: TestDevice, server: Instance): TestDevice =>
  new TestDevice(server, device.accountId, device.deviceId, device.secret, device.registrationId, device.identity);

const seqContent = (i: number): string => Buffer.from(`envelope-${String(i).padStart(6, '0')}`).toString('base64');
const seqOf = (content: string): number => Number(Buffer.from(content, 'base64').toString().slice('envelope-'.length));

describe('delivery across instances', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('should deliver envelopes accepted by B live and in order to a device connected to A', async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL });
    const a = await cluster.start();
    const b = await cluster.start();
    const sender = await register(b);
    const recipient = await register(b);
    const socket = await on(recipient, a).connect();
    expect(await socket.drain()).toEqual([]);
    const count = 100;
    for (let i = 0; i < count; i++) {
      const res = await sender.request(
        'PUT',
        `/v1/messages/${recipient.accountId}`,
        messagesFor([recipient], seqContent(i)),
      );
      expect(res.status).toBe(200);
    }
    const received: number[] = [];
    while (received.length < count) {
      const frame = await socket.next();
      expect(frame.type).toBe('envelope');
      received.push(seqOf(frame.envelope.content as string));
      socket.sendJson({ type: 'ack', guids: [frame.envelope.guid] });
    }
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
    socket.close();
  }, 90_000);

  it('should lose nothing when the instance holding the device is killed mid-stream', async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL, env: { PRESENCE_TTL: '1s', LOG_LEVEL: 'warn' } });
    const a = await cluster.spawn();
    const b = await cluster.start();
    const sender = await register(b);
    const recipient = await register(b);
    let socket: TestSocket = await on(recipient, a).connect();
    expect(await socket.drain()).toEqual([]);

    const total = 200;
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        const res = await sender.request(
          'PUT',
          `/v1/messages/${recipient.accountId}`,
          messagesFor([recipient], seqContent(i)),
        );
        if (res.status !== 200) throw new Error(`send ${i}: ${res.status}`);
      }
    })();

    const firstSeen: number[] = [];
    const seen = new Set<string>();
    let deliveries = 0;
    const take = (frame: Frame): void => {
      if (frame.type !== 'envelope') return;
      deliveries++;
      const guid = frame.envelope.guid as string;
      if (!seen.has(guid)) {
        seen.add(guid);
        firstSeen.push(seqOf(frame.envelope.content as string));
      }
      socket.sendJson({ type: 'ack', guids: [guid] });
    };

    while (seen.size < 60) take(await socket.next(15_000));
    a.kill?.();
    await socket.waitClosed();
    /** Frames A wrote before dying may still be in the client's buffer. */
    for (;;) {
      let frame: Frame;
      try {
        frame = await socket.next(200);
      } catch {
        break;
      }
      take(frame);
    }

    socket = await on(recipient, b).connect();
    await sending;
    while (seen.size < total) take(await socket.next(15_000));

    expect(seen.size).toBe(total);
    expect([...firstSeen].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i));
    /** In order: stored envelopes drain by acceptance, and live ones follow. */
    expect(firstSeen).toEqual(Array.from({ length: total }, (_, i) => i));
    /** Redelivery is bounded by what was unacknowledged when A died. */
    expect(deliveries - total).toBeLessThan(60);
    await new Promise((r) => setTimeout(r, 300));
    const left = await b.query<{ n: number }>('SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1::uuid', [
      recipient.accountId,
    ]);
    expect(left[0]?.n).toBe(0);
    socket.close();
  }, 120_000);

  it('should close the older connection on the other instance when a device connects again', async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL });
    const a = await cluster.start();
    const b = await cluster.start();
    const phone = await register(a);
    const first = await on(phone, a).connect();
    await first.drain();
    const second = await on(phone, b).connect();
    await second.drain();
    expect((await first.waitClosed()).code).toBe(4003);
    const sender = await register(a);
    await sender.request('PUT', `/v1/messages/${phone.accountId}`, messagesFor([phone], seqContent(7)));
    expect(seqOf((await second.next()).envelope.content as string)).toBe(7);
    second.close();
  }, 60_000);

  it('should disconnect a removed device wherever it is connected', async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL });
    const a = await cluster.start();
    const b = await cluster.start();
    const primary = await register(b);
    const laptop = await link(primary);
    const socket = await on(laptop, a).connect();
    await socket.drain();
    expect((await primary.request('DELETE', `/v1/devices/${laptop.deviceId}`)).status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(4004);
  }, 60_000);
});
