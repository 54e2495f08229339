/**
 * WebSocket fuzzing through the running server (real Nest app on PostgreSQL): arbitrary text and bytes, malformed
 * JSON, frames of every known type with wrong field types, ids in any case, unknown frame kinds, and frames over the
 * size limit, both as the first (auth) frame and on an authenticated socket. Each frame must be answered with an
 * `error` or `result` frame, or close the socket with a close code and reason; the server keeps serving another
 * connection meanwhile, and refused frames change no table.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_WEBSOCKET_FRAME_BYTES } from '@cove/protocol';
import fc from 'fast-check';

import {
  messagesFor,
  register,
  startServer,
  TestSocket,
  type TestDevice,
  type TestServer,
} from '../support/harness.js';
import { anyCaseUuid, hostileJson, hostileString, mutated, snapshot } from './support.js';

/** Bounded so the suite stays well under a minute on a quiet machine. */
const RUNS = 150;

/** Close codes the server (or `ws` for it) uses for refused input, each of which must carry a reason. */
const REFUSAL_CLOSES = new Set([1002, 1003, 1007, 1008, 1009, 4001]);

type Fuzzed = { text?: string; bytes?: Uint8Array; huge?: boolean };

describe('WebSocket fuzzing', () => {
  let server: TestServer;
  let alice: TestDevice;
  let bob: TestDevice;
  let watcher: TestSocket;

  beforeAll(async () => {
    server = await startServer('postgres');
    alice = await register(server);
    bob = await register(server);
    watcher = await bob.connect();
    await watcher.drain();
  }, 180_000);

  afterAll(async () => {
    watcher?.close();
    await server?.close();
  }, 60_000);

  const frames = (): fc.Arbitrary<Fuzzed> => {
    const send = { type: 'send', id: 1, destination: bob.accountId, message: messagesFor([bob]) };
    const sendMulti = {
      type: 'send-multi',
      id: 2,
      message: {
        type: 'senderkey',
        content: 'AAAA',
        timestamp: 1,
        recipients: [{ accountId: bob.accountId, devices: [{ deviceId: 1, registrationId: bob.registrationId }] }],
      },
    };
    const typed = fc.oneof(
      mutated(send),
      mutated(sendMulti),
      fc.record({ type: fc.constant('send-multi'), id: hostileJson(), message: hostileJson() }),
      mutated({ type: 'ack', guids: ['00000000-0000-4000-8000-000000000000'] }),
      mutated({ type: 'ping', id: 'p' }),
      mutated({ type: 'auth', accountId: alice.accountId, deviceId: 1, secret: 'AAAA' }),
      fc.record({ type: fc.constant('ack'), guids: fc.array(anyCaseUuid(), { maxLength: 120 }) }),
      fc.record({ type: fc.constant('send'), id: hostileJson(), destination: anyCaseUuid(), message: hostileJson() }),
      fc.record({ type: hostileString(), id: fc.oneof(fc.integer(), hostileString()) }),
      hostileJson(),
    );
    return fc.oneof(
      typed.map((value) => ({ text: JSON.stringify(value) })),
      hostileString().map((text) => ({ text })),
      fc.constantFrom('{', '{"type":', '[]', 'null', '"send"', '{"type":"send"}', '\u0000').map((text) => ({ text })),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })),
      fc.constant({ huge: true }),
    );
  };

  const transmit = (socket: TestSocket, frame: Fuzzed): void => {
    if (frame.huge) socket.ws.send('x'.repeat(MAX_WEBSOCKET_FRAME_BYTES + 1));
    else if (frame.bytes) socket.ws.send(frame.bytes, { binary: true });
    else socket.ws.send(frame.text ?? '');
  };

  /** After a fuzzed frame: every answer before the probe's pong is `error`/`result`, or the socket closed with a reason. */
  const answeredOrClosed = async (socket: TestSocket): Promise<'answered' | 'closed' | 'ok'> => {
    if (!socket.closed) socket.sendJson({ type: 'ping', id: 'probe' });
    let outcome: 'answered' | 'ok' = 'ok';
    for (;;) {
      let frame;
      try {
        frame = await socket.next(10_000);
      } catch {
        const closed = await socket.waitClosed();
        expect(REFUSAL_CLOSES.has(closed.code)).toBe(true);
        expect(closed.reason.length).toBeGreaterThan(0);
        return 'closed';
      }
      if (frame.type === 'pong' && frame.id === 'probe') return outcome;
      expect(['error', 'result', 'pong']).toContain(frame.type);
      if (frame.type === 'error' || (frame.type === 'result' && frame.status !== 200)) outcome = 'answered';
      if (frame.type === 'result' && frame.status === 200) return 'ok';
    }
  };

  const serving = async (): Promise<void> => {
    watcher.sendJson({ type: 'ping', id: 'alive' });
    for (;;) {
      const frame = await watcher.next();
      if (frame.type === 'pong' && frame.id === 'alive') return;
    }
  };

  it('should answer or close on any frame on an authenticated socket, keep serving others and change nothing it refused', async () => {
    let socket = await alice.connect();
    await socket.drain();
    await fc.assert(
      fc.asyncProperty(frames(), async (frame) => {
        if (socket.closed) {
          socket = await alice.connect();
          await socket.drain();
        }
        const before = await snapshot(server);
        transmit(socket, frame);
        const outcome = await answeredOrClosed(socket);
        if (outcome !== 'ok') expect(await snapshot(server)).toBe(before);
        await serving();
      }),
      { numRuns: RUNS },
    );
    socket.close();
    expect(server.logs.filter((line) => line.includes('unhandled error') || line.includes('"level":50'))).toEqual([]);
  }, 120_000);

  it('should close an unauthenticated socket with a code and reason on any first frame but a good auth', async () => {
    await fc.assert(
      fc.asyncProperty(frames(), async (frame) => {
        const before = await snapshot(server);
        const socket = await TestSocket.open(server.wsUrl);
        transmit(socket, frame);
        let first;
        try {
          first = await socket.next(15_000);
        } catch {
          first = undefined;
        }
        if (first?.type !== 'ready') {
          const closed = await socket.waitClosed(15_000);
          expect(REFUSAL_CLOSES.has(closed.code)).toBe(true);
          expect(closed.reason.length).toBeGreaterThan(0);
          expect(await snapshot(server)).toBe(before);
        }
        socket.close();
        await serving();
      }),
      { numRuns: Math.round(RUNS / 3) },
    );
  }, 120_000);
});
