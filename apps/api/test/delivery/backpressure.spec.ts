/**
 * Draining a backlog larger than any socket buffer over ONE connection: the server writes envelopes only as fast as
 * the reader takes them (flow control on the socket's buffered amount), reads its queue in pages bounded by count
 * and bytes, keeps live envelopes that arrive meanwhile in order behind the stored ones, lets a live connection that
 * fell behind catch up from the database instead of closing it, and still drops a peer that stops reading for a whole
 * heartbeat round. Memory is checked on the server's own objects: the bytes waiting in each socket's buffer and the
 * bytes of each page read from the database.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { MAX_ENVELOPE_CONTENT_BYTES } from '@cove/protocol';

import {
  EnvelopeRepository,
  type EnvelopeRow,
  type StoredEnvelope,
} from '../../src/repositories/envelope.repository.js';
import { MetricsRepository } from '../../src/repositories/metrics.repository.js';
import {
  WEBSOCKET_HIGH_WATER_BYTES,
  WebSocketRepository,
  type WebSocketConnection,
} from '../../src/repositories/websocket.repository.js';
import { DRAIN_PAGE_BYTES } from '../../src/services/websocket.service.js';
import {
  messagesFor,
  register,
  startServer,
  type Backend,
  type Frame,
  type TestDevice,
  type TestServer,
  type TestSocket,
} from '../support/harness.js';

/** A maximum-size envelope whose first 4 bytes are its sequence number. */
const bigContent = (seq: number): string => {
  const bytes = randomBytes(MAX_ENVELOPE_CONTENT_BYTES);
  bytes.writeUInt32BE(seq, 0);
  return bytes.toString('base64');
};
const seqOf = (envelope: Frame): number => Buffer.from(String(envelope.content), 'base64').readUInt32BE(0);
/** The largest envelope frame on the wire: base64 content plus the JSON around it. */
const MAX_FRAME_BYTES = Math.ceil(MAX_ENVELOPE_CONTENT_BYTES / 3) * 4 + 1024;

/** Sends envelopes one by one through `PUT /v1/messages` (acceptance order = sequence order). */
async function sendLive(sender: TestDevice, recipient: TestDevice, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const res = await sender.request(
      'PUT',
      `/v1/messages/${recipient.accountId}`,
      messagesFor([recipient], bigContent(i)),
    );
    expect(res.status).toBe(200);
  }
}

/** Stores a backlog directly through the server's envelope repository (much faster than one HTTP send each). */
async function storeBacklog(
  server: TestServer,
  sender: TestDevice,
  recipient: TestDevice,
  count: number,
): Promise<void> {
  const envelopes = server.running.app.get(EnvelopeRepository);
  for (let from = 0; from < count; from += 25) {
    const rows: EnvelopeRow[] = [];
    for (let i = from; i < Math.min(count, from + 25); i++) {
      rows.push({
        guid: randomUUID(),
        accountId: recipient.accountId,
        deviceId: recipient.deviceId,
        type: 'whisper',
        sourceAccountId: sender.accountId,
        sourceDeviceId: sender.deviceId,
        timestamp: Date.now(),
        serverTimestamp: Date.now(),
        urgent: true,
        content: new Uint8Array(Buffer.from(bigContent(i), 'base64')),
      });
    }
    await envelopes.insert(rows);
  }
}

const pauseReading = (socket: TestSocket): void =>
  (socket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
const resumeReading = (socket: TestSocket): void =>
  (socket.ws as unknown as { _socket: { resume(): void } })._socket.resume();

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Envelopes sent while the reader is paused: 9.6 MiB, more than the server's high-water mark and the kernel's send and
 * receive buffers together (4 MiB + 1 MiB + the receive window of a socket that has not read yet).
 */
const LIVE_WHILE_PAUSED = 150;

/**
 * The whole suite on PostgreSQL with a 300-envelope (19 MiB) backlog; on PGlite, whose transfer of large rows from
 * WebAssembly is slow, the storage-dependent part (the byte-bounded pages) with 150 (9.6 MiB).
 */
function defineBackpressure(backend: Backend, backlog: number, full: boolean): void {
  describe(`draining on ${backend}`, () => {
    let server: TestServer;
    let connections: WebSocketRepository;
    /** Bytes of envelope content in each page the drain read from the database. */
    let pageBytes: number[];

    beforeAll(async () => {
      // A long heartbeat: these readers pause on purpose and must not be dropped for it.
      server = await startServer(backend, { WS_HEARTBEAT_INTERVAL: '60s' });
      connections = server.running.app.get(WebSocketRepository);
      const envelopes = server.running.app.get(EnvelopeRepository);
      const page = envelopes.page.bind(envelopes);
      jest.spyOn(envelopes, 'page').mockImplementation(async (...args: Parameters<EnvelopeRepository['page']>) => {
        const rows: StoredEnvelope[] = await page(...args);
        pageBytes.push(rows.reduce((sum, row) => sum + row.content.byteLength, 0));
        return rows;
      });
    }, 180_000);

    beforeEach(() => {
      pageBytes = [];
    });

    afterAll(async () => {
      await server?.close();
    }, 60_000);

    /** Reads envelopes until queue-empty, sampling the server's buffered bytes for this device at every frame. */
    async function drainSampling(
      device: TestDevice,
      socket: TestSocket,
    ): Promise<{ seqs: number[]; maxBuffered: number }> {
      const seqs: number[] = [];
      let maxBuffered = 0;
      for (;;) {
        const connection = connections.get(device.accountId, device.deviceId);
        maxBuffered = Math.max(maxBuffered, connection?.bufferedAmount ?? 0);
        const frame = await socket.next(30_000);
        if (frame.type === 'queue-empty') return { seqs, maxBuffered };
        expect(frame.type).toBe('envelope');
        seqs.push(seqOf(frame.envelope as Frame));
      }
    }

    it('should drain 60 envelopes of 64 KiB over one connection, in order, then queue-empty', async () => {
      const alice = await register(server);
      const bob = await register(server);
      await sendLive(alice, bob, 0, 60);
      const socket = await bob.connect();
      const { seqs } = await drainSampling(bob, socket);
      expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i));
      expect(socket.closed).toBeUndefined();
      socket.close();
    }, 120_000);

    it(`should drain ${backlog} envelopes of 64 KiB without ever buffering the backlog`, async () => {
      const alice = await register(server);
      const bob = await register(server);
      await storeBacklog(server, alice, bob, backlog);
      const socket = await bob.connect();
      const { seqs, maxBuffered } = await drainSampling(bob, socket);
      expect(seqs).toEqual(Array.from({ length: backlog }, (_, i) => i));
      expect(socket.closed).toBeUndefined();
      // The socket never held more than the high-water mark plus the frame that crossed it...
      expect(maxBuffered).toBeLessThanOrEqual(WEBSOCKET_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
      // ...and no page read from the database held more than its byte budget plus one envelope.
      expect(pageBytes.length).toBeGreaterThan(1);
      expect(Math.max(...pageBytes)).toBeLessThanOrEqual(DRAIN_PAGE_BYTES + MAX_ENVELOPE_CONTENT_BYTES);
      expect(pageBytes.reduce((a, b) => a + b, 0)).toBe(backlog * MAX_ENVELOPE_CONTENT_BYTES);
      socket.close();
    }, 180_000);

    if (!full) return;

    it('should keep live envelopes accepted during the drain in order behind the stored ones', async () => {
      const alice = await register(server);
      const bob = await register(server);
      await storeBacklog(server, alice, bob, backlog);
      const socket = await bob.connect();
      pauseReading(socket);
      // The reader is paused, so the drain waits on a full socket: everything sent now arrives while it drains.
      await waitFor(() => (connections.get(bob.accountId, 1)?.bufferedAmount ?? 0) > WEBSOCKET_HIGH_WATER_BYTES);
      await sendLive(alice, bob, backlog, 20);
      const connection = connections.get(bob.accountId, 1) as WebSocketConnection;
      expect(connection.state).toBe('draining');
      expect(connection.bufferedAmount).toBeLessThanOrEqual(WEBSOCKET_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
      resumeReading(socket);
      const { seqs } = await drainSampling(bob, socket);
      expect(seqs).toEqual(Array.from({ length: backlog + 20 }, (_, i) => i));
      // Nothing more comes after queue-empty: every live envelope was delivered exactly once.
      socket.sendJson({ type: 'ping', id: 'end' });
      expect(await socket.next()).toEqual({ type: 'pong', id: 'end' });
      socket.close();
    }, 180_000);

    it('should let a live connection that fell behind catch up from the database instead of closing it', async () => {
      const alice = await register(server);
      const bob = await register(server);
      const socket = await bob.connect();
      expect(await socket.drain()).toEqual([]);
      pauseReading(socket);
      // More than the socket's buffer, the kernel's buffers and the high-water mark together can hold.
      await sendLive(alice, bob, 0, LIVE_WHILE_PAUSED);
      const connection = connections.get(bob.accountId, 1) as WebSocketConnection;
      expect(connection.state).toBe('catching-up');
      expect(connection.bufferedAmount).toBeLessThanOrEqual(WEBSOCKET_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
      resumeReading(socket);
      const seqs: number[] = [];
      while (seqs.length < LIVE_WHILE_PAUSED) {
        const frame = await socket.next(30_000);
        expect(frame.type).toBe('envelope');
        seqs.push(seqOf(frame.envelope as Frame));
        socket.sendJson({ type: 'ack', guids: [frame.envelope.guid] });
      }
      expect(seqs).toEqual(Array.from({ length: LIVE_WHILE_PAUSED }, (_, i) => i));
      expect(socket.closed).toBeUndefined();
      expect(connection.state).toBe('live');
      socket.close();
    }, 180_000);
  });
}

defineBackpressure('postgres', 300, true);
defineBackpressure('pglite', 150, false);

describe('a peer that stops reading', () => {
  let server: TestServer;

  beforeAll(async () => {
    // A round long enough that a reader draining 200 envelopes of 64 KiB on a loaded 2-core machine never looks stalled.
    server = await startServer('postgres', { WS_HEARTBEAT_INTERVAL: '1500ms' });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  const closedBy = async (reason: string): Promise<number> => {
    const metrics = await server.running.app.get(MetricsRepository).render();
    return Number(
      new RegExp(`cove_websocket_closed_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics.body)?.[1] ?? 0,
    );
  };

  it('should be dropped after a heartbeat round without progress even while it keeps sending', async () => {
    const alice = await register(server);
    const bob = await register(server);
    await storeBacklog(server, alice, bob, 200);
    const before = await closedBy('stalled');
    const socket = await bob.connect();
    pauseReading(socket);
    const connections = server.running.app.get(WebSocketRepository);
    let maxBuffered = 0;
    // The peer keeps talking (so it looks alive to the heartbeat) but never reads what it is sent.
    const chatter = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, connections.get(bob.accountId, 1)?.bufferedAmount ?? 0);
      if (socket.ws.readyState === socket.ws.OPEN) socket.sendJson({ type: 'ping' });
    }, 50);
    try {
      await waitFor(async () => (await closedBy('stalled')) > before);
    } finally {
      clearInterval(chatter);
    }
    expect(maxBuffered).toBeLessThanOrEqual(WEBSOCKET_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
    await waitFor(() => connections.get(bob.accountId, 1) === undefined);
    socket.ws.terminate();
    // Nothing was lost: a new connection drains all 200.
    const again = await bob.connect();
    expect((await again.drain()).map(seqOf)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    again.close();
  }, 120_000);
});
