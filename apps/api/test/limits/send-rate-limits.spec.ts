/**
 * Send rate limits: one limiter for `PUT /v1/messages` and the WebSocket `send` frame alike, per sender device and
 * per (sender device, recipient account), keyed on canonical ids, answering `429 rate_limited` with `Retry-After`
 * (HTTP) or `retryAfter` in the `result` frame's body; refused sends store nothing; `RATE_LIMITS=off` disables them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  link,
  messagesFor,
  register,
  startServer,
  TestDevice,
  type TestServer,
  type TestSocket,
} from '../support/harness.js';

/** Small limits so a test reaches them quickly (refused attempts count too: the first test makes 9 sends in all). */
const PER_SENDER = 10;
const PER_RECIPIENT = 5;

/** The same device, presenting its account id in upper case (another spelling of the same id). */
const shouting = (device: TestDevice): TestDevice =>
  new TestDevice(
    device.server,
    device.accountId.toUpperCase(),
    device.deviceId,
    device.secret,
    device.registrationId,
    device.identity,
  );

describe('send rate limits', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('postgres', {
      RATE_LIMITS: 'on',
      RATE_LIMIT_SENDS: `${PER_SENDER}/1h`,
      RATE_LIMIT_SENDS_PER_RECIPIENT: `${PER_RECIPIENT}/1h`,
    });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  const envelopes = async (): Promise<string> =>
    JSON.stringify(await server.query(`SELECT id::text, guid, encode(content, 'hex') AS c FROM envelopes ORDER BY id`));
  const httpSend = (from: TestDevice, to: TestDevice) =>
    from.request('PUT', `/v1/messages/${to.accountId}`, messagesFor([to]));
  let frameId = 0;
  const socketSend = async (socket: TestSocket, to: TestDevice): Promise<Record<string, any>> => {
    const id = ++frameId;
    socket.sendJson({ type: 'send', id, destination: to.accountId, message: messagesFor([to]) });
    const result = await socket.next();
    expect(result).toMatchObject({ type: 'result', id });
    return result;
  };

  it('should limit sends to one recipient across HTTP and WebSocket, whatever the spelling of its id', async () => {
    const alice = await register(server);
    const bob = await register(server);
    const carol = await register(server);
    const socket = await alice.connect();
    expect(await socket.drain()).toEqual([]);
    // The budget is shared: some sends over HTTP, the rest over the socket.
    for (let i = 0; i < 3; i++) expect((await httpSend(alice, bob)).status).toBe(200);
    for (let i = 3; i < PER_RECIPIENT; i++) expect((await socketSend(socket, bob)).status).toBe(200);

    const before = await envelopes();
    const overSocket = await socketSend(socket, bob);
    expect(overSocket).toMatchObject({
      status: 429,
      body: { error: 'rate_limited', retryAfter: expect.any(Number) },
    });
    expect(overSocket.body.retryAfter).toBeGreaterThan(0);
    const overHttp = await httpSend(alice, bob);
    expect(overHttp.status).toBe(429);
    expect(overHttp.body.error).toBe('rate_limited');
    expect(Number(overHttp.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another spelling of the recipient's id is the same recipient.
    const upper = await alice.request('PUT', `/v1/messages/${bob.accountId.toUpperCase()}`, messagesFor([bob]));
    expect(upper.status).toBe(429);
    expect(await envelopes()).toBe(before);

    // Another recipient is not affected.
    expect((await socketSend(socket, carol)).status).toBe(200);
    socket.close();
  });

  it('should limit all sends of one device, whatever the spelling of its own id, and not its other devices', async () => {
    const dave = await register(server);
    const daveLaptop = await link(dave);
    const recipients = await Promise.all(Array.from({ length: PER_SENDER + 2 }, () => register(server)));
    const socket = await shouting(dave).connect();
    expect(await socket.drain()).toEqual([]);
    for (let i = 0; i < PER_SENDER; i++) {
      const status =
        i % 2 ? (await socketSend(socket, recipients[i]!)).status : (await httpSend(dave, recipients[i]!)).status;
      expect(status).toBe(200);
    }
    const before = await envelopes();
    const next = recipients[PER_SENDER]!;
    expect(await socketSend(socket, next)).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    expect((await httpSend(dave, next)).status).toBe(429);
    expect((await httpSend(shouting(dave), next)).status).toBe(429);
    expect(await envelopes()).toBe(before);
    // The limit is per device: the account's other device still sends.
    expect((await httpSend(daveLaptop, next)).status).toBe(200);
    socket.close();
  });

  it('should be off with RATE_LIMITS=off', async () => {
    const unlimited = await startServer('postgres', {
      RATE_LIMITS: 'off',
      RATE_LIMIT_SENDS: '1/1h',
      RATE_LIMIT_SENDS_PER_RECIPIENT: '1/1h',
    });
    try {
      const alice = await register(unlimited);
      const bob = await register(unlimited);
      for (let i = 0; i < 3; i++) expect((await httpSend(alice, bob)).status).toBe(200);
    } finally {
      await unlimited.close();
    }
  }, 120_000);
});
