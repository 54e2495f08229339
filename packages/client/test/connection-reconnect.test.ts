/**
 * The socket layer's reconnect policy with a hand-driven clock: jittered, capped backoff; `reconnectNow` opening at
 * once while waiting (and restarting the backoff), pinging a live connection so a dead one is noticed within the pong
 * timeout, and doing nothing when stopped or mid-attempt.
 */
import { describe, expect, it } from '@jest/globals';

import { ServerConnection } from '../src/connection.js';
import {
  PING_INTERVAL_MS,
  PONG_TIMEOUT_MS,
  RECONNECT_BASE_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_MS,
} from '../src/constants.js';
import type { ConnectionState } from '../src/events.js';
import type { Clock, Random, TimerHandle } from '../src/platform.js';
import { scriptedSockets, type ScriptedSocket } from './support/scripted-sockets.js';

type Timer = { handle: TimerHandle; ms: number; callback: () => void };

/** A clock whose timers fire only when the test says so. */
const handClock = () => {
  const timers: Timer[] = [];
  const clock: Clock = {
    now: () => 0,
    setTimeout: (callback, ms) => {
      const handle = { id: Symbol('timer') };
      timers.push({ handle, ms, callback });
      return handle;
    },
    clearTimeout: (handle) => {
      const index = timers.findIndex((t) => t.handle === handle);
      if (index >= 0) timers.splice(index, 1);
    },
  };
  const fire = (predicate: (ms: number) => boolean): number => {
    const timer = timers.find((t) => predicate(t.ms));
    if (!timer) throw new Error('no such timer');
    timers.splice(timers.indexOf(timer), 1);
    timer.callback();
    return timer.ms;
  };
  return { clock, timers, fire };
};

/** Random bytes from a fixed list, so the jitter of each delay is known. */
const scriptedRandom = (values: number[]): Random => {
  let i = 0;
  return { bytes: (length) => Uint8Array.from({ length }, () => values[i++ % values.length] ?? 0) };
};

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const setup = (random: Random = scriptedRandom([0])) => {
  const { clock, timers, fire } = handClock();
  const factory = scriptedSockets();
  const states: ConnectionState[] = [];
  const connection = new ServerConnection(
    'ws://cove.test/v1/websocket',
    { accountId: '11111111-1111-4111-8111-111111111111', deviceId: 1, secret: new Uint8Array(32) },
    factory,
    clock,
    silent,
    {
      onEnvelope: () => undefined,
      onQueueEmpty: () => undefined,
      onReady: () => undefined,
      onState: (state) => states.push(state),
    },
    random,
  );
  const ready = (socket: ScriptedSocket): void => {
    socket.onOpen();
    socket.onMessage(JSON.stringify({ type: 'ready', accountId: '11111111-1111-4111-8111-111111111111', deviceId: 1 }));
  };
  const reconnectDelays = (): number[] => timers.filter((t) => t.ms <= RECONNECT_MAX_MS).map((t) => t.ms);
  return { connection, factory, states, timers, fire, ready, reconnectDelays };
};

describe('Server connection reconnects', () => {
  it('should back off exponentially, jittered down by at most the jitter share, up to the cap', () => {
    const { connection, factory, fire, reconnectDelays } = setup(scriptedRandom([255, 0, 128]));
    connection.start();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      factory.opened.at(-1)?.onClose(1006, 'refused');
      const [delay] = reconnectDelays();
      if (delay === undefined) throw new Error('no reconnect scheduled');
      delays.push(delay);
      fire((ms) => ms === delay);
    }
    delays.forEach((delay, attempt) => {
      const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
      expect(delay).toBeLessThanOrEqual(ceiling);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling * (1 - RECONNECT_JITTER)));
    });
    // The scripted bytes 255, 0, 128: the most jitter, none, about half.
    expect(delays[0]).toBe(RECONNECT_BASE_MS * (1 - RECONNECT_JITTER));
    expect(delays[1]).toBe(RECONNECT_BASE_MS * 2);
    expect(Math.max(...delays)).toBeLessThanOrEqual(RECONNECT_MAX_MS);
    expect(factory.opened).toHaveLength(9);
  });

  it('should open at once when asked while waiting, and start the backoff over', () => {
    const { connection, factory, states, ready, reconnectDelays } = setup();
    connection.start();
    for (let i = 0; i < 5; i++) {
      factory.opened.at(-1)?.onClose(1006, 'refused');
      connection.reconnectNow();
    }
    // Every close was followed by an immediate attempt, never by a wait.
    expect(factory.opened).toHaveLength(6);
    expect(states.at(-1)).toBe('connecting');
    factory.opened.at(-1)?.onClose(1006, 'refused');
    expect(reconnectDelays()).toEqual([RECONNECT_BASE_MS]);
    connection.reconnectNow();
    const last = factory.opened.at(-1);
    if (!last) throw new Error('no socket');
    ready(last);
    expect(states.at(-1)).toBe('online');
    expect(reconnectDelays()).toEqual([]);
  });

  it('should ping a live connection when asked, and drop it when no pong comes back', () => {
    const { connection, factory, states, timers, fire, ready } = setup();
    connection.start();
    const socket = factory.opened[0];
    if (!socket) throw new Error('no socket');
    ready(socket);
    expect(timers.map((t) => t.ms)).toContain(PING_INTERVAL_MS);
    connection.reconnectNow();
    expect(socket.sent.filter((f) => f.includes('"ping"'))).toHaveLength(1);
    // The regular heartbeat is replaced, not doubled; a second request while a ping is out sends nothing more.
    expect(timers.filter((t) => t.ms === PING_INTERVAL_MS)).toHaveLength(0);
    connection.reconnectNow();
    expect(socket.sent.filter((f) => f.includes('"ping"'))).toHaveLength(1);
    fire((ms) => ms === PONG_TIMEOUT_MS);
    expect(socket.closed).toBe(true);
    expect(states.at(-1)).toBe('offline');
    connection.reconnectNow();
    expect(factory.opened).toHaveLength(2);
  });

  it('should keep one heartbeat when the answer to a ping is a pong, even a repeated one', () => {
    const { connection, factory, timers, ready } = setup();
    connection.start();
    const socket = factory.opened[0];
    if (!socket) throw new Error('no socket');
    ready(socket);
    connection.reconnectNow();
    socket.onMessage(JSON.stringify({ type: 'pong' }));
    socket.onMessage(JSON.stringify({ type: 'pong' }));
    expect(timers.filter((t) => t.ms === PING_INTERVAL_MS)).toHaveLength(1);
    expect(timers.filter((t) => t.ms === PONG_TIMEOUT_MS)).toHaveLength(0);
  });

  it('should do nothing when stopped, halted, or while an attempt is under way', () => {
    const { connection, factory, states } = setup();
    connection.reconnectNow();
    expect(factory.opened).toHaveLength(0);
    connection.start();
    connection.reconnectNow();
    expect(factory.opened).toHaveLength(1);
    factory.opened[0]?.onClose(4001, 'unauthorized');
    expect(states.at(-1)).toBe('unauthorized');
    connection.reconnectNow();
    expect(factory.opened).toHaveLength(1);
    connection.stop();
    connection.reconnectNow();
    expect(factory.opened).toHaveLength(1);
  });
});
