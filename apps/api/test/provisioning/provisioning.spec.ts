/**
 * The provisioning channel `/v1/provisioning`: it gives the waiting device an address, relays exactly one body put by
 * an authenticated device (a second put, a put to an unknown address and an unauthenticated put are refused), closes
 * after relaying, expires, refuses oversized bodies and frames from the waiting device, works across two instances
 * sharing Redis, rate-limits channels per address, and logs no body.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_PROVISIONING_MESSAGE_BYTES } from '@cove/protocol';

import { Cluster, REDIS_URL } from '../support/cluster.js';
import { register, request, startServer, TestSocket, type TestServer } from '../support/harness.js';

const provisioningUrl = (server: { url: string }): string => `${server.url.replace('http', 'ws')}/v1/provisioning`;

async function openChannel(server: { url: string }): Promise<{ socket: TestSocket; address: string }> {
  const socket = await TestSocket.open(provisioningUrl(server));
  const frame = await socket.next();
  expect(frame.type).toBe('provisioning-address');
  expect(frame.address).toMatch(/^[A-Za-z0-9_-]{22}$/);
  return { socket, address: frame.address as string };
}

describe('provisioning channel', () => {
  let server: TestServer;

  beforeAll(async () => {
    /** Short enough for the expiry test, long enough for the others' few requests on a loaded machine. */
    server = await startServer('pglite', { PROVISIONING_TTL: '8s' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should relay exactly one body, then close; a second put and an unauthenticated put are refused', async () => {
    const sender = await register(server);
    const { socket, address } = await openChannel(server);
    const secret = Buffer.from('secret provisioning ciphertext').toString('base64');

    const anonymous = await request(server, 'PUT', `/v1/provisioning/${address}`, { body: secret });
    expect(anonymous.status).toBe(401);

    const first = await sender.request('PUT', `/v1/provisioning/${address}`, { body: secret });
    expect(first.status).toBe(204);
    const frame = await socket.next();
    expect(frame).toEqual({ type: 'provisioning-message', body: secret });
    expect((await socket.waitClosed()).code).toBe(1000);

    const second = await sender.request('PUT', `/v1/provisioning/${address}`, { body: secret });
    expect(second.status).toBe(404);
    expect(second.body.error).toBe('not_found');
    expect(server.logs.some((line) => line.includes(secret))).toBe(false);
  });

  it('should let only one of concurrent puts through', async () => {
    const sender = await register(server);
    const { socket, address } = await openChannel(server);
    const bodies = Array.from({ length: 5 }, (_, i) => Buffer.from(`body ${i}`).toString('base64'));
    const results = await Promise.all(
      bodies.map((body) => sender.request('PUT', `/v1/provisioning/${address}`, { body })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([204, 404, 404, 404, 404]);
    const frame = await socket.next();
    expect(bodies[results.findIndex((r) => r.status === 204)]).toBe(frame.body);
    await socket.waitClosed();
  });

  it('should refuse unknown addresses, malformed addresses and oversized bodies', async () => {
    const sender = await register(server);
    const { socket, address } = await openChannel(server);
    const unknown = await sender.request('PUT', `/v1/provisioning/${'A'.repeat(22)}`, { body: 'AAAA' });
    expect(unknown.status).toBe(404);
    const malformed = await sender.request('PUT', '/v1/provisioning/not-an-address', { body: 'AAAA' });
    expect(malformed.status).toBe(400);
    const big = Buffer.alloc(MAX_PROVISIONING_MESSAGE_BYTES + 3).toString('base64');
    const tooBig = await sender.request('PUT', `/v1/provisioning/${address}`, { body: big });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error).toBe('payload_too_large');
    const notBase64 = await sender.request('PUT', `/v1/provisioning/${address}`, { body: '%%%%' });
    expect(notBase64.status).toBe(400);
    // The refused puts did not use the channel up.
    const ok = await sender.request('PUT', `/v1/provisioning/${address}`, {
      body: Buffer.alloc(MAX_PROVISIONING_MESSAGE_BYTES).toString('base64'),
    });
    expect(ok.status).toBe(204);
    expect((await socket.next()).type).toBe('provisioning-message');
  });

  it('should expire a channel nobody sends to, and then refuse a put to it', async () => {
    const sender = await register(server);
    const { socket, address } = await openChannel(server);
    const closed = await socket.waitClosed(20_000);
    expect(closed.code).toBe(4008);
    const late = await sender.request('PUT', `/v1/provisioning/${address}`, { body: 'AAAA' });
    expect(late.status).toBe(404);
  });

  it('should close a channel whose device sends a frame, and free its address', async () => {
    const sender = await register(server);
    const { socket, address } = await openChannel(server);
    socket.sendJson({ type: 'hello' });
    expect((await socket.waitClosed()).code).toBe(1008);
    const put = await sender.request('PUT', `/v1/provisioning/${address}`, { body: 'AAAA' });
    expect(put.status).toBe(404);
  });
});

describe('provisioning channel rate limit', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('pglite', { RATE_LIMITS: 'on' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should refuse channels beyond the hourly limit per address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 61; i++) {
      const socket = await TestSocket.open(provisioningUrl(server));
      try {
        const frame = await socket.next();
        expect(frame.type).toBe('provisioning-address');
        socket.close();
        codes.push(0);
      } catch {
        codes.push((await socket.waitClosed()).code);
      }
    }
    expect(codes.slice(0, 60).every((c) => c === 0)).toBe(true);
    expect(codes[60]).toBe(4029);
  });
});

describe('provisioning channel across instances', () => {
  let cluster: Cluster | undefined;

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it('should relay a body put on instance B to a channel held by instance A, once', async () => {
    cluster = await Cluster.create({ redisUrl: REDIS_URL });
    const a = await cluster.start();
    const b = await cluster.start();
    const sender = await register(b);
    const { socket, address } = await openChannel(a);
    const body = Buffer.from('across instances').toString('base64');
    const put = await sender.request('PUT', `/v1/provisioning/${address}`, { body });
    expect(put.status).toBe(204);
    expect(await socket.next()).toEqual({ type: 'provisioning-message', body });
    expect((await socket.waitClosed()).code).toBe(1000);
    const again = await sender.request('PUT', `/v1/provisioning/${address}`, { body });
    expect(again.status).toBe(404);
  }, 90_000);
});
