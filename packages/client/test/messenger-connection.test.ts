import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { IdentityKeyPair, ready } from '@cove/crypto';
import { CloseCode } from '@cove/protocol';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { EXPIRY_SWEEP_INTERVAL_MS } from '../src/constants.js';
import { ClientError, ClientErrorCode } from '../src/errors.js';
import type { MessengerEvent } from '../src/events.js';
import { Messenger } from '../src/messenger.js';
import type { Clock, HttpTransport, TimerHandle } from '../src/platform.js';
import type { AccountRecord } from '../src/tables.js';
import { createNodePlatform, createStderrLogger } from '../src/node/node-platform.js';
import { scriptedSockets, type ScriptedSocket } from './support/scripted-sockets.js';
import type { NodePlatform } from '../src/node/node-platform.js';

const ACCOUNT_ID = '11111111-1111-4111-8111-111111111111';

/** A clock the test moves by hand: timers are recorded with their delay and never fire on their own. */
const manualClock = (start: number): Clock & { pending(ms: number): number } => {
  const timers = new Map<TimerHandle, number>();
  return {
    now: () => start,
    setTimeout: (_callback, ms): TimerHandle => {
      const handle = { id: Symbol('timer') };
      timers.set(handle, ms);
      return handle;
    },
    clearTimeout: (handle) => {
      timers.delete(handle);
    },
    pending: (ms) => [...timers.values()].filter((delay) => delay === ms).length,
  };
};

const serverSays = (socket: ScriptedSocket, frame: object): void => socket.onMessage(JSON.stringify(frame));

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Messenger connection without a server', () => {
  let dir: string;
  let platform: NodePlatform;
  let sockets: ReturnType<typeof scriptedSockets>;
  let clock: ReturnType<typeof manualClock>;
  let events: MessengerEvent[];
  let messenger: Messenger;

  beforeAll(async () => {
    await ready();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-connection-'));
    sockets = scriptedSockets();
    clock = manualClock(1_800_000_000_000);
    // HTTP is down: prekey upkeep on `ready` fails and is only logged.
    const down: HttpTransport = { request: () => Promise.reject(new Error('connect ECONNREFUSED')) };
    platform = await createNodePlatform({
      dataDir: dir,
      http: down,
      sockets,
      clock,
      logger: createStderrLogger('silent'),
    });
    const account: AccountRecord = {
      serverUrl: 'http://127.0.0.1:9',
      accountId: ACCOUNT_ID,
      deviceId: 1,
      registrationId: 42,
      secret: new Uint8Array(32),
      identityKeyPair: IdentityKeyPair.generate().serialize(),
      createdAt: clock.now(),
    };
    await platform.storage.commit([{ op: 'put', table: 'meta', key: 'account', value: account }]);
    events = [];
    messenger = await Messenger.open(platform, { events: { emit: (event) => events.push(event) } });
  });

  afterEach(async () => {
    await messenger.close();
    await platform.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const states = (): string[] =>
    events.flatMap((event) => (event.type === 'connection' ? [event.state] : ([] as string[])));

  it('should authenticate, resolve on ready, report queue-empty and keep the expiry sweep only while connected', async () => {
    const connected = messenger.connect();
    const socket = sockets.opened[0]!;
    socket.onOpen();
    expect(JSON.parse(socket.sent[0]!)).toMatchObject({ type: 'auth', accountId: ACCOUNT_ID, deviceId: 1 });
    serverSays(socket, { type: 'ready', accountId: ACCOUNT_ID, deviceId: 1 });
    await connected;
    expect(messenger.connectionState).toBe('online');
    expect(states()).toEqual(['connecting', 'online']);

    const emptied = messenger.waitForQueueEmpty();
    serverSays(socket, { type: 'queue-empty' });
    await emptied;
    expect(events.filter((event) => event.type === 'queue-empty')).toHaveLength(1);

    // The sweep on ready schedules the next one a minute later; disconnecting cancels it and closes the socket.
    await settle();
    expect(clock.pending(EXPIRY_SWEEP_INTERVAL_MS)).toBe(1);
    await messenger.disconnect();
    expect(clock.pending(EXPIRY_SWEEP_INTERVAL_MS)).toBe(0);
    expect(socket.closed).toBe(true);
    expect(messenger.connectionState).toBe('stopped');
  });

  it('should reject a fail-fast connect with server_unreachable when the first attempt fails, and stop', async () => {
    const connected = messenger.connect({ failFast: true });
    sockets.opened[0]!.onClose(1006, 'connection refused');
    const error = await connected.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe(ClientErrorCode.ServerUnreachable);
    expect(messenger.connectionState).toBe('stopped');
    expect(states()).toEqual(['connecting', 'offline', 'stopped']);
  });

  it('should keep waiting through a failed attempt without failFast, and reject when stopped or refused', async () => {
    const first = messenger.connect().catch((caught: unknown) => caught);
    const second = messenger.connect().catch((caught: unknown) => caught);
    sockets.opened[0]!.onClose(1006, 'connection refused');
    // Offline: the reconnect waits for its backoff timer, both callers still wait for `ready`.
    expect(messenger.connectionState).toBe('offline');
    expect(sockets.opened).toHaveLength(1);
    await messenger.disconnect();
    expect(await first).toMatchObject({ code: ClientErrorCode.ServerError });
    expect(await second).toMatchObject({ code: ClientErrorCode.ServerError });

    const again = messenger.connect().catch((caught: unknown) => caught);
    const socket = sockets.opened[1]!;
    socket.onOpen();
    socket.onClose(CloseCode.Unauthorized, 'bad credentials');
    expect(await again).toMatchObject({ code: ClientErrorCode.Unauthorized });
    expect(messenger.connectionState).toBe('unauthorized');
    expect(states()).toEqual(['connecting', 'offline', 'stopped', 'connecting', 'unauthorized']);
  });

  it('should refuse to connect or fetch before an account exists', async () => {
    await messenger.close();
    await platform.storage.commit([{ op: 'delete', table: 'meta', key: 'account' }]);
    messenger = await Messenger.open(platform);
    expect(messenger.connectionState).toBe('stopped');
    await expect(messenger.connect()).rejects.toMatchObject({ code: ClientErrorCode.NotRegistered });
    await expect(messenger.fetchPending()).rejects.toMatchObject({ code: ClientErrorCode.NotRegistered });
    await messenger.disconnect();
  });
});
