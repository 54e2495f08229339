/**
 * PostgreSQL restarted in the middle of a send stream (issue 9, fault tests): a sender keeps sending over HTTP and
 * WebSocket while a private cluster is restarted with `pg_ctl restart -m fast` (every session terminated). Every
 * send answered `200` / `result 200` must reach the recipient exactly once (one guid per message), sends during the
 * outage are answered `503 unavailable` (never `500`, never lost silently: such a send may or may not be stored, the
 * client retries), and the server keeps serving afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { messagesFor, register, request, startServer, type TestServer, type TestSocket } from '../support/harness.js';
import { PrivatePostgres } from '../support/private-postgres.js';

const content = (i: number): string => Buffer.from(`restart-${String(i).padStart(5, '0')}`).toString('base64');
const seqOf = (text: string): number => Number(Buffer.from(text, 'base64').toString().slice('restart-'.length));

describe('PostgreSQL restarted mid-stream', () => {
  let database: PrivatePostgres;
  let server: TestServer;

  beforeAll(async () => {
    database = await PrivatePostgres.start();
    server = await startServer('postgres', { DATABASE_URL: database.url, DATABASE_POOL_SIZE: '4' });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await database?.close();
  }, 60_000);

  it('should deliver every acknowledged send exactly once and answer the others 503 unavailable', async () => {
    const alice = await register(server);
    const bob = await register(server);
    let socket: TestSocket | undefined = await alice.connect();
    await socket.drain();
    const [before] = await server.query<{ started: string }>('SELECT pg_postmaster_start_time()::text AS started');

    const statuses = new Map<number, number>();
    let restarted: Promise<void> | undefined;
    let restartDone = false;
    let i = 0;
    /** Keep sending until the restart is over and a tail of sends went through after it. */
    let tail = 40;
    while (tail > 0) {
      if (i === 60) {
        restarted = database.restart().then(() => {
          restartDone = true;
        });
      }
      const message = {
        timestamp: Date.now(),
        messages: messagesFor([bob]).messages.map((m) => ({ ...m, content: content(i) })),
      };
      if (i % 2 === 0 || !socket || socket.closed) {
        const res = await alice.request('PUT', `/v1/messages/${bob.accountId}`, message);
        statuses.set(i, res.status);
      } else {
        socket.sendJson({ type: 'send', id: i, destination: bob.accountId, message });
        const frame = await socket.next(20_000).catch(() => undefined);
        if (frame?.type === 'result') statuses.set(i, frame.status as number);
        else socket = undefined;
      }
      if ((!socket || socket.closed) && restartDone) socket = await alice.connect().catch(() => undefined);
      if (restartDone) tail--;
      i++;
      if (i > 5_000) throw new Error('the restart never finished');
    }
    await restarted;
    const [after] = await server.query<{ started: string }>('SELECT pg_postmaster_start_time()::text AS started');
    expect(after?.started).not.toBe(before?.started);
    socket?.close();

    const codes = new Set(statuses.values());
    expect([...codes].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    const acknowledged = [...statuses].filter(([, s]) => s === 200).map(([seq]) => seq);
    expect(acknowledged.length).toBeGreaterThan(60);

    // The recipient drains everything (acking as it goes) and counts each message by its guid.
    const guidsBySeq = new Map<number, Set<string>>();
    for (;;) {
      const inbox = await bob.connect();
      const envelopes = await inbox.drain();
      for (const e of envelopes) {
        const seq = seqOf(e.content as string);
        guidsBySeq.set(seq, (guidsBySeq.get(seq) ?? new Set()).add(e.guid as string));
      }
      for (let k = 0; k < envelopes.length; k += 100) {
        inbox.sendJson({ type: 'ack', guids: envelopes.slice(k, k + 100).map((e) => e.guid) });
      }
      inbox.sendJson({ type: 'ping', id: 'done' });
      await inbox.next();
      inbox.close();
      await inbox.waitClosed();
      if (!envelopes.length) break;
      const [left] = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM envelopes');
      if (!left?.n) break;
    }
    for (const seq of acknowledged) expect({ seq, copies: guidsBySeq.get(seq)?.size ?? 0 }).toEqual({ seq, copies: 1 });
    // A send answered 503 may have been stored (its commit raced the restart): then it too arrives once.
    for (const [seq, guids] of guidsBySeq) expect({ seq, copies: guids.size }).toEqual({ seq, copies: 1 });
    expect((await request(server, 'GET', '/readyz')).status).toBe(200);
    expect(server.logs.filter((line) => line.includes('unhandled error'))).toEqual([]);
  }, 120_000);
});
