/**
 * The per-device queue counters the caps are checked against (migration `20261207210000_queue_counters`) stay equal
 * to the queues they count, whatever adds or removes envelopes at the same time: batches of one-to-one and
 * multi-recipient sends to overlapping sets of devices (in any order within a batch), batches of acknowledgements,
 * the retention sweep, a device's removal and an account's deletion. On PostgreSQL each of those runs on its own
 * connection, all at once, so their locks meet: none may end in a deadlock (or any error but the foreign-key
 * violation of a send racing its recipient's removal), and since a send now holds its recipients' counters until it
 * commits, no queue may end over its cap. On PGlite (one connection) the same work runs interleaved and the counters
 * must be exact too. The truth is counted from `envelopes` (`test/support/queue-counters.ts`).
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { AccountRepository } from '../../src/repositories/account.repository.js';
import {
  BINARY_ARRAYS,
  SqlState,
  sqlState,
  type DatabaseRepository,
} from '../../src/repositories/database.repository.js';
import { DeviceRepository } from '../../src/repositories/device.repository.js';
import {
  EnvelopeRepository,
  type CheckedEnvelopeRow,
  type MultiSendRow,
  type MultiTargetRow,
  type QueueCaps,
} from '../../src/repositories/envelope.repository.js';
import { MailboxRepository } from '../../src/repositories/mailbox.repository.js';
import { link, register, startServer, type Backend, type TestDevice, type TestServer } from '../support/harness.js';
import { queueCounterDrift } from '../support/queue-counters.js';

/** Small caps, so that the concurrent sends fill queues and the cap's refusals race with the acknowledgements. */
const CAPS: QueueCaps = { envelopes: 15, bytes: 2_500 };
/** Connections (PostgreSQL) each running one kind of work at once; on PGlite all share the app's one. */
const CONNECTIONS = 6;
const ROUNDS = 40;
/** Sends get a server timestamp below 100; the sweep deletes those below this. */
const SWEEP_BEFORE = 50;

type Repositories = { envelopes: EnvelopeRepository; mailbox: MailboxRepository; query: QueryFn };
type QueryFn = <T>(text: string, params?: unknown[]) => Promise<T[]>;

const shuffle = <T>(items: T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};
const pick = <T>(items: T[]): T => items[randomInt(items.length)]!;

function defineQueueCounters(backend: Backend): void {
  describe(`queue counters on ${backend}`, () => {
    let server: TestServer;
    let clients: pg.Client[] = [];
    /** One set of repositories per connection (on PGlite, the app's own, {@link CONNECTIONS} times). */
    let repos: Repositories[] = [];
    let senders: TestDevice[];
    /** Each recipient account's devices, all addressed by every send to it. */
    let accounts: TestDevice[][];
    /** An account whose second device is removed during the run, and one deleted during the run. */
    let leaving: TestDevice[];
    let deleted: TestDevice[];

    beforeAll(async () => {
      server = await startServer(backend);
      senders = [await register(server), await register(server), await register(server)];
      accounts = [];
      for (let i = 0; i < 5; i++) {
        const primary = await register(server);
        accounts.push(i % 2 === 0 ? [primary, await link(primary)] : [primary]);
      }
      const leavingPrimary = await register(server);
      leaving = [leavingPrimary, await link(leavingPrimary)];
      deleted = [await register(server)];
      accounts.push(leaving, deleted);
      if (backend === 'postgres') {
        const [row] = await server.query<{ database: string }>('SELECT current_database() AS database');
        for (let i = 0; i < CONNECTIONS; i++) {
          const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${row!.database}` });
          await client.connect();
          clients.push(client);
          const query: QueryFn = async <T>(text: string, params: unknown[] = [], name?: string) => {
            const result = await client.query(name ? { name, text, values: params } : { text, values: params });
            return result.rows as T[];
          };
          const db = { sql: { query, arrays: BINARY_ARRAYS } } as unknown as DatabaseRepository;
          repos.push({ envelopes: new EnvelopeRepository(db), mailbox: new MailboxRepository(db), query });
        }
      } else {
        const own = {
          envelopes: server.running.app.get(EnvelopeRepository),
          mailbox: server.running.app.get(MailboxRepository),
          query: server.query,
        };
        repos = Array.from({ length: CONNECTIONS }, () => own);
      }
    }, 180_000);

    afterAll(async () => {
      for (const client of clients) await client.end();
      clients = [];
      await server?.close();
    }, 60_000);

    /**
     * A server timestamp for a send: one the sweep deletes (below {@link SWEEP_BEFORE}) or not, at random. The sweep,
     * the acknowledgements and the removals take the same rows (every deletion of envelopes locks its rows in one
     * order, ascending guid: test/delivery/delete-order.spec.ts), so they meet on rows as well as on counters.
     */
    const sweptTimestamp = (): number => randomInt(100);

    /** A send's row for `to`, `request`-th of its batch, from `from`. */
    const row = (request: number, from: TestDevice, to: TestDevice): CheckedEnvelopeRow => ({
      request,
      registrationId: to.registrationId,
      guid: randomUUID(),
      accountId: to.accountId,
      deviceId: to.deviceId,
      type: 'whisper',
      sourceAccountId: from.accountId,
      sourceDeviceId: from.deviceId,
      timestamp: 1,
      serverTimestamp: sweptTimestamp(),
      urgent: true,
      content: new Uint8Array(randomBytes(1 + randomInt(300))),
    });

    it('should keep every counter equal to its queue, with no deadlock, under concurrent sends, acks, a sweep and removals', async () => {
      const errors: Array<{ message?: string; detail?: string; where?: string }> = [];
      /** Resolved when the first sender is half way through: the removals run amid the sends. */
      let reachHalfway = (): void => undefined;
      const halfway = new Promise<void>((resolve) => (reachHalfway = resolve));
      let full = 0;
      let acknowledged = 0;
      let swept = 0;
      /** Runs `work` ROUNDS times, keeping the errors a send may meet (its recipient removed meanwhile) apart. */
      const rounds = async (work: (round: number) => Promise<void>): Promise<void> => {
        for (let round = 0; round < ROUNDS; round++) {
          try {
            await work(round);
          } catch (error) {
            if (sqlState(error) === SqlState.ForeignKeyViolation) continue;
            // With the server's account of it (a deadlock's detail names the statements and locks involved).
            const { message, detail, where } = error as { message?: string; detail?: string; where?: string };
            errors.push({ message, detail, where });
          }
        }
      };
      // One-to-one sends: four per batch to random accounts, their rows shuffled (lock order must not depend on it).
      const oneToOne = (r: Repositories) =>
        rounds(async (round) => {
          if (round === ROUNDS / 2) reachHalfway();
          const rows = Array.from({ length: 4 }, (_, request) => {
            const from = pick(senders);
            return pick(accounts).map((to) => row(request, from, to));
          }).flat();
          const outcome = await r.envelopes.insertChecked(shuffle(rows), CAPS);
          full += outcome.full.size;
        });
      // Multi-recipient sends: two per batch, each to three random accounts (all their devices).
      const multi = (r: Repositories) =>
        rounds(async () => {
          const recipients = [0, 1].map(() => shuffle(accounts).slice(0, 3).flat());
          const sends: MultiSendRow[] = [0, 1].map((request) => {
            const from = pick(senders);
            return {
              request,
              type: 'senderkey',
              sourceAccountId: from.accountId,
              sourceDeviceId: from.deviceId,
              timestamp: 1,
              serverTimestamp: sweptTimestamp(),
              urgent: true,
              store: true,
              content: new Uint8Array(randomBytes(1 + randomInt(200))),
            };
          });
          const targets: MultiTargetRow[] = sends.flatMap(({ request }) =>
            recipients[request]!.map((to) => ({
              request,
              guid: randomUUID(),
              accountId: to.accountId,
              deviceId: to.deviceId,
              registrationId: to.registrationId,
              own: new Uint8Array(randomBytes(randomInt(50))),
            })),
          );
          const outcome = await r.envelopes.insertMulti(sends, shuffle(targets), CAPS);
          full += outcome.full.size;
        });
      // Acknowledgements: a random part of two random devices' queues (rows the sweep may be deleting too), in one batch.
      const acks = (r: Repositories) =>
        rounds(async () => {
          const devices = [pick(accounts.flat()), pick(accounts.flat())];
          const keys = [];
          for (const device of devices) {
            const queued = await r.query<{ guid: string }>(
              'SELECT guid FROM envelopes WHERE account_id = $1 AND device_id = $2 ORDER BY id LIMIT 20',
              [device.accountId, device.deviceId],
            );
            keys.push(
              ...queued
                .filter(() => randomInt(2) === 0)
                .map(({ guid }) => ({ accountId: device.accountId, deviceId: device.deviceId, guid })),
            );
          }
          acknowledged += (await r.envelopes.delete(shuffle(keys))).size;
        });
      // The retention sweep, again and again, and the removals once the queues have filled a little.
      const sweeps = (r: Repositories) =>
        rounds(async () => {
          swept += await r.mailbox.purgeAcceptedBefore(SWEEP_BEFORE);
        });
      // Through the server's repositories (on its own connections), which delete the queues in the rows' lock order.
      const removals = async () => {
        await halfway;
        await server.running.app.get(DeviceRepository).remove(leaving[1]!.accountId, leaving[1]!.deviceId);
        await server.running.app.get(AccountRepository).remove(deleted[0]!.accountId);
      };

      await Promise.all([
        oneToOne(repos[0]!),
        oneToOne(repos[1]!),
        multi(repos[2]!),
        acks(repos[3]!),
        sweeps(repos[4]!),
        removals().then(() => acks(repos[5]!)),
      ]);

      expect(errors).toEqual([]);
      // The work did what it is about: queues filled to their caps, and every kind of deletion took rows.
      expect(full).toBeGreaterThan(0);
      expect(acknowledged).toBeGreaterThan(0);
      expect(swept).toBeGreaterThan(0);
      expect(await queueCounterDrift(server.query)).toEqual([]);
      // The removed device and the deleted account took their counters with them.
      const left = await server.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM queue_counters WHERE (account_id = $1 AND device_id = $2) OR account_id = $3',
        [leaving[1]!.accountId, leaving[1]!.deviceId, deleted[0]!.accountId],
      );
      expect(left[0]?.n).toBe(0);
      // A send holds its recipients' counters until it commits: no queue ended over a cap, connections or not.
      const [most] = await server.query<{ envelopes: number; bytes: number }>(
        'SELECT max(envelopes)::int AS envelopes, max(bytes)::float8 AS bytes FROM queue_counters',
      );
      expect(most!.envelopes).toBeLessThanOrEqual(CAPS.envelopes);
      expect(most!.bytes).toBeLessThanOrEqual(CAPS.bytes);
    }, 180_000);

    it('should count rows written and deleted outside the send functions, and zero every counter on TRUNCATE', async () => {
      const [to] = accounts[0]!;
      const from = senders[0]!;
      await server.running.app.get(EnvelopeRepository).insert([row(0, from, to!), row(1, from, to!)]);
      await server.query('DELETE FROM envelopes WHERE guid = (SELECT guid FROM envelopes ORDER BY id DESC LIMIT 1)');
      expect(await queueCounterDrift(server.query)).toEqual([]);
      await server.query('TRUNCATE envelopes, shared_payloads');
      expect(await queueCounterDrift(server.query)).toEqual([]);
      const [counted] = await server.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM queue_counters WHERE envelopes <> 0 OR bytes <> 0',
      );
      expect(counted?.n).toBe(0);
      // Nothing changes a counted column in place: such an update would leave the counters behind, so it fails.
      await server.running.app.get(EnvelopeRepository).insert([row(0, from, to!)]);
      await expect(server.query("UPDATE envelopes SET content = '\\x00'::bytea")).rejects.toThrow(/never updated/);
      expect(await queueCounterDrift(server.query)).toEqual([]);
    }, 60_000);
  });
}

defineQueueCounters('postgres');
defineQueueCounters('pglite');
