import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { IdentityKeyPair, ready } from '@cove/crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { OUTBOX_GIVE_UP_MS, OUTBOX_RETRY_BASE_MS } from '../src/constants.js';
import { Messenger } from '../src/messenger.js';
import type { Clock, HttpTransport, TimerHandle } from '../src/platform.js';
import type { AccountRecord, OutboxEntry } from '../src/tables.js';
import { createNodePlatform, createStderrLogger } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';

const BOB = '22222222-2222-4222-8222-222222222222';
const CAROL = '33333333-3333-4333-8333-333333333333';

/** A clock the test moves by hand; timers never fire on their own (the test drives the outbox). */
const manualClock = (start: number): Clock & { advance(ms: number): void } => {
  let now = start;
  return {
    now: () => now,
    setTimeout: (): TimerHandle => ({ id: null }),
    clearTimeout: () => undefined,
    advance: (ms) => (now += ms),
  };
};

describe('Outbox without a network', () => {
  let dir: string;
  let platform: NodePlatform;
  let requests: string[];
  const clock = manualClock(1_800_000_000_000);

  beforeAll(async () => {
    await ready();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-outbox-'));
    requests = [];
    const down: HttpTransport = {
      request: (request) => {
        requests.push(`${request.method} ${new URL(request.url).pathname}`);
        return Promise.reject(new Error('connect ECONNREFUSED'));
      },
    };
    platform = await createNodePlatform({ dataDir: dir, http: down, clock, logger: createStderrLogger('silent') });
    const account: AccountRecord = {
      serverUrl: 'http://127.0.0.1:9',
      accountId: '11111111-1111-4111-8111-111111111111',
      deviceId: 1,
      registrationId: 42,
      secret: new Uint8Array(32),
      identityKeyPair: IdentityKeyPair.generate().serialize(),
      createdAt: clock.now(),
    };
    await platform.storage.commit([{ op: 'put', table: 'meta', key: 'account', value: account }]);
  });

  afterEach(async () => {
    await platform.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const entries = async (): Promise<OutboxEntry[]> =>
    (await platform.storage.list<OutboxEntry>('outbox')).map((e) => e.value);

  it('should persist before sending, back off exponentially, keep per-recipient order and give up after a day', async () => {
    const messenger = await Messenger.open(platform);
    const first = await messenger.sendText(BOB, 'one');
    const second = await messenger.sendText(BOB, 'two');
    const other = await messenger.sendText(CAROL, 'three');
    await messenger.flushOutbox();
    // One attempt for Bob (his second message waits behind the first), one for Carol; none got through.
    expect(requests.filter((r) => r.includes(BOB))).toHaveLength(1);
    expect(requests.filter((r) => r.includes(CAROL))).toHaveLength(1);
    let queued = await entries();
    expect(queued.map((e) => e.messageKey)).toEqual([first.id, second.id, other.id]);
    expect(queued.map((e) => e.attempts)).toEqual([1, 0, 1]);
    expect(queued[0]!.nextAttemptAt).toBe(clock.now() + OUTBOX_RETRY_BASE_MS);
    expect((await messenger.message(first.id))?.status).toBe('sending');

    // Not yet due: nothing is tried.
    requests.length = 0;
    await messenger.flushOutbox();
    expect(requests).toEqual([]);
    clock.advance(OUTBOX_RETRY_BASE_MS);
    await messenger.flushOutbox();
    queued = await entries();
    // After an unreachable server the pass stops: Carol's entry waits for the next one.
    expect(queued.map((e) => e.attempts)).toEqual([2, 0, 1]);
    expect(queued[0]!.nextAttemptAt).toBe(clock.now() + 2 * OUTBOX_RETRY_BASE_MS);

    // A restart retries at once, backoff or not.
    await messenger.close();
    requests.length = 0;
    const restarted = await Messenger.open(platform);
    await restarted.flushOutbox();
    // A fresh process looks for the server's sealed-sender trust root (a first message to someone whose access key
    // it lacks is tried sealed as to an "anyone" account) while it fetches the bundle for the session, then falls
    // back to the identified send: the two requests at once, in either order.
    expect([...requests].sort()).toEqual(['GET /v1/info', `GET /v1/keys/${BOB}/*`]);

    clock.advance(OUTBOX_GIVE_UP_MS);
    await restarted.flushOutbox();
    expect((await restarted.message(first.id))?.status).toBe('failed');
    expect((await restarted.message(first.id))?.error).toBe('server_unreachable');
    expect((await restarted.message(second.id))?.status).toBe('failed');
    expect((await restarted.message(other.id))?.status).toBe('failed');
    expect(await entries()).toEqual([]);

    // The user retries a failed message: it goes back to sending, with a fresh outbox entry and, since it is older
    // than a day (receivers refuse such send times), a new timestamp that its history entry follows.
    const again = await restarted.retrySend(first.id);
    expect(again.status).toBe('sending');
    expect(again.timestamp).toBeGreaterThanOrEqual(clock.now());
    expect((await entries()).map((e) => [e.messageKey, e.timestamp])).toEqual([[first.id, again.timestamp]]);
    expect(
      await platform.storage.get(
        'messageIndex',
        `direct:${BOB}/${first.authorAccountId}/${String(again.timestamp).padStart(16, '0')}`,
      ),
    ).toBe(first.id);
    expect(
      await platform.storage.get(
        'messageIndex',
        `direct:${BOB}/${first.authorAccountId}/${String(first.timestamp).padStart(16, '0')}`,
      ),
    ).toBeUndefined();
    await restarted.close();
  });

  it('should retry a send that failed with an error of no known kind and say so at warn, with its name only', async () => {
    // A server that answers every request with 200 and a body no schema accepts: the client's parse fails with an
    // error that is neither a network failure nor a server refusal.
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    const collect = (message: string, fields: Record<string, string | number | boolean> = {}): void => {
      warnings.push({ message, fields });
    };
    const odd = await createNodePlatform({
      dataDir: path.join(dir, 'odd'),
      http: { request: () => Promise.resolve({ status: 200, headers: {}, body: '{"unexpected":true}' }) },
      clock,
      logger: { debug: () => undefined, info: () => undefined, warn: collect, error: collect },
    });
    try {
      const account = await platform.storage.get('meta', 'account');
      if (!account) throw new Error('the account record is missing');
      await odd.storage.commit([{ op: 'put', table: 'meta', key: 'account', value: account }]);
      const messenger = await Messenger.open(odd);
      const sent = await messenger.sendText(BOB, 'secret words');
      await messenger.flushOutbox();
      expect((await messenger.message(sent.id))?.status).toBe('sending');
      const queued = (await odd.storage.list<OutboxEntry>('outbox')).map((e) => e.value);
      expect(queued.map((e) => [e.attempts, e.lastError])).toEqual([[1, 'error']]);
      const deferred = warnings.filter((w) => w.message === 'send deferred');
      expect(deferred).toHaveLength(1);
      expect(deferred[0]!.fields).toEqual({ kind: 'data', error: 'error', name: expect.any(String), attempts: 1 });
      expect(JSON.stringify(warnings)).not.toContain('secret words');
      await messenger.close();
    } finally {
      await odd.close();
    }
  });

  it('should refuse empty, oversized and self-addressed messages without queueing them', async () => {
    const messenger = await Messenger.open(platform);
    await expect(messenger.sendText(BOB, '')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(messenger.sendText(BOB, 'x'.repeat(64 * 1024 + 1))).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(messenger.sendText('11111111-1111-4111-8111-111111111111', 'me')).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await entries()).toEqual([]);
    await messenger.close();
  });
});
