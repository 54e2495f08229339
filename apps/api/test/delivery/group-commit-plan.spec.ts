/**
 * The group commit's statements on PostgreSQL are planned once per connection, and the plan they keep stays index
 * probes when the tables grow after it was made. The checked insert, the multi-recipient insert and the
 * acknowledgements' delete run in PL/pgSQL functions with pinned settings (migrations
 * `20261207153000_group_commit_functions`, `20261207190000_multi_commit_function`): sent as prepared statements,
 * PostgreSQL planned the checked insert anew for every batch, and a generic plan forced on the sessions instead had
 * been made on an empty `envelopes` and counted queues with sequential scans of the whole table once it had grown;
 * the multi-recipient insert, inline SQL with its sends as a VALUES list, was planned anew for every batch.
 *
 * The evidence is counted, never timed: `auto_explain` (loaded into one session of the test, with nested statements
 * and the plan as JSON sent back as notices) gives the plan each execution ran, and `pg_stat_xact_user_tables` the
 * rows a batch read. The repository runs on that one session, so the plans it caches are the ones inspected; the
 * table's autovacuum is off, so no ANALYZE from outside renews them. PGlite has no auto_explain; its behaviour is
 * covered by the other suites that run on both. The acknowledgements' delete also turns `synchronous_commit` off for
 * its own transaction, and for that one only, checked by reading the setting inside the transaction it ran in.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { BINARY_ARRAYS, type DatabaseRepository } from '../../src/repositories/database.repository.js';
import {
  EnvelopeRepository,
  type CheckedEnvelopeRow,
  type EnvelopeKey,
  type MultiSendRow,
  type MultiTargetRow,
} from '../../src/repositories/envelope.repository.js';
import { register, startServer, type TestDevice, type TestServer } from '../support/harness.js';

const CAPS = { envelopes: 1_000, bytes: 10_000_000 };
/** The default envelope cap (`MAX_QUEUED_ENVELOPES`), with room for {@link QUEUED} and a batch. */
const LARGE_CAPS = { envelopes: 10_000, bytes: 100_000_000 };
/** Envelopes queued for the recipient before its queue is checked: counting them would read that many rows. */
const QUEUED = 9_500;
/** More executions than the five custom plans PostgreSQL's `auto` plan cache mode tries before it compares. */
const BATCHES = 8;
/** Rows the table grows by after the plans were made: a scan of them would read thousands, a probe a handful. */
const GROWTH = 20_000;
/**
 * The most rows of one table a batch of {@link SENDS} sends and their deletion may read through probes (a few per
 * row: a multi-recipient batch writes {@link SENDS} payloads and two envelopes per send).
 */
const PROBE_ROWS = 20;
const SENDS = 3;
/** The tables the group commit's statements read, whose growth must not turn a cached plan into a scan. */
const TABLES = ['envelopes', 'devices', 'shared_payloads', 'queue_counters'];

type PlanNode = {
  'Node Type': string;
  Operation?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Scan Direction'?: string;
  'Parent Relationship'?: string;
  'Function Call'?: string;
  Plans?: PlanNode[];
};
type LoggedPlan = { 'Query Text': string; Plan: PlanNode };

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

type Statement = 'insert' | 'multi' | 'delete';

/**
 * Which group-commit statement a plan is: the one that inserts into or deletes from `envelopes`, if any, an insert
 * that also inserts into `shared_payloads` being the multi-recipient one.
 */
const statementOf = (plan: LoggedPlan): Statement | undefined => {
  const modifies = nodes(plan.Plan).filter((n) => n['Node Type'] === 'ModifyTable');
  const modify = modifies.find((n) => n['Relation Name'] === 'envelopes');
  if (modify?.Operation === 'Insert')
    return modifies.some((n) => n['Relation Name'] === 'shared_payloads') ? 'multi' : 'insert';
  if (modify?.Operation === 'Delete') return 'delete';
  return undefined;
};

/** How a plan reads {@link TABLES}: node type, index and whether the index scan has a condition. */
const tableAccess = (plan: LoggedPlan): string[] =>
  nodes(plan.Plan)
    .filter((n) => TABLES.includes(n['Relation Name'] ?? ''))
    .filter((n) => n['Node Type'] !== 'ModifyTable')
    .map(
      (n) => `${n['Node Type']} ${n['Relation Name']} ${n['Index Name'] ?? ''} ${n['Index Cond'] ? 'cond' : 'none'}`,
    );

describe('group commit plans on PostgreSQL', () => {
  let server: TestServer;
  let alice: TestDevice;
  let bob: TestDevice;
  let carol: TestDevice;
  let dave: TestDevice;
  let session: pg.Client;
  let envelopes: EnvelopeRepository;
  /** Every plan auto_explain sent since the last {@link takePlans}. */
  let logged: LoggedPlan[] = [];

  const takePlans = (): LoggedPlan[] => {
    const plans = logged;
    logged = [];
    return plans;
  };

  /** One send of Alice's to Bob's device, the `request`-th of its batch. */
  const sendRow = (request: number): CheckedEnvelopeRow => ({
    request,
    registrationId: bob.registrationId,
    guid: randomUUID(),
    accountId: bob.accountId,
    deviceId: bob.deviceId,
    type: 'whisper',
    sourceAccountId: alice.accountId,
    sourceDeviceId: alice.deviceId,
    timestamp: 1,
    serverTimestamp: 1,
    urgent: true,
    content: new Uint8Array(16),
  });

  const batch = async (caps = CAPS): Promise<void> => {
    const rows = Array.from({ length: SENDS }, (_, request) => sendRow(request));
    const skipped = await envelopes.insertChecked(rows, caps);
    expect([skipped.refused.size, skipped.full.size, skipped.senderGone.size]).toEqual([0, 0, 0]);
    const deleted = await envelopes.delete(
      rows.map((r) => ({ accountId: r.accountId, deviceId: r.deviceId, guid: r.guid })),
    );
    expect(deleted.size).toBe(SENDS);
  };

  /** {@link SENDS} multi-recipient sends from alice to bob and dave, stored, then acknowledged. */
  const multiBatch = async (caps = CAPS): Promise<void> => {
    const sends: MultiSendRow[] = Array.from({ length: SENDS }, (_, request) => ({
      request,
      type: 'senderkey',
      sourceAccountId: alice.accountId,
      sourceDeviceId: alice.deviceId,
      timestamp: 1,
      serverTimestamp: 1,
      urgent: true,
      store: true,
      content: new Uint8Array(16),
    }));
    const targets: MultiTargetRow[] = sends.flatMap(({ request }) =>
      [bob, dave].map((to) => ({
        request,
        guid: randomUUID(),
        accountId: to.accountId,
        deviceId: to.deviceId,
        registrationId: to.registrationId,
      })),
    );
    const skipped = await envelopes.insertMulti(sends, targets, caps);
    expect([skipped.refused.size, skipped.full.size, skipped.senderGone.size]).toEqual([0, 0, 0]);
    const keys: EnvelopeKey[] = targets.map((t) => ({ accountId: t.accountId, deviceId: t.deviceId, guid: t.guid }));
    expect((await envelopes.delete(keys)).size).toBe(targets.length);
  };

  /**
   * The rows of each of {@link TABLES} the session read so far in its open transaction, and its sequential scans.
   * Read within one transaction, as the difference of two readings: the view also holds the session's earlier counts
   * not yet sent to the statistics (PostgreSQL 15), and none are sent while a transaction is open.
   */
  const reads = async (): Promise<Map<string, { seqScans: number; rows: number }>> => {
    const { rows } = await session.query<{ relname: string; seq_scan: string; rows: string }>(
      `SELECT relname, seq_scan::text, (seq_tup_read + idx_tup_fetch)::text AS rows
       FROM pg_stat_xact_user_tables WHERE relname = ANY($1::text[])`,
      [TABLES],
    );
    return new Map(rows.map((r) => [r.relname, { seqScans: Number(r.seq_scan), rows: Number(r.rows) }]));
  };

  /** What `work` read of each of {@link TABLES}, run in one transaction of the session. */
  const readBy = async (
    work: () => Promise<void>,
  ): Promise<Array<{ table: string; seqScans: number; rows: number }>> => {
    await session.query('BEGIN');
    try {
      const start = await reads();
      await work();
      const end = await reads();
      return TABLES.map((table) => {
        const [from, to] = [start.get(table), end.get(table)];
        return {
          table,
          seqScans: (to?.seqScans ?? 0) - (from?.seqScans ?? 0),
          rows: (to?.rows ?? 0) - (from?.rows ?? 0),
        };
      });
    } finally {
      await session.query('COMMIT');
    }
  };

  /** The plans of `statement` among `plans`: `count` of them, with parameters, and all the same plan. */
  const expectOnePlan = (plans: LoggedPlan[], statement: Statement, count: number): void => {
    const mine = plans.filter((p) => statementOf(p) === statement);
    expect(mine).toHaveLength(count);
    // A plan made for the batch's values (a custom plan, planned anew each time) names them as constants.
    const unnest = nodes(mine[0]!.Plan).find((n) => n['Node Type'] === 'Function Scan' && n['Function Call']);
    expect(unnest?.['Function Call']).toMatch(/^unnest\(\$\d+\)/);
    expect(new Set(mine.map((p) => JSON.stringify(p.Plan))).size).toBe(1);
  };

  beforeAll(async () => {
    server = await startServer('postgres');
    [alice, bob, carol, dave] = [
      await register(server),
      await register(server),
      await register(server),
      await register(server),
    ];
    const [row] = await server.query<{ database: string }>('SELECT current_database() AS database');
    session = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${row!.database}` });
    await session.connect();
    session.on('notice', (notice) => {
      const at = notice.message?.indexOf('plan:') ?? -1;
      if (at >= 0) logged.push(JSON.parse(notice.message!.slice(at + 'plan:'.length)) as LoggedPlan);
    });
    for (const setting of [
      "LOAD 'auto_explain'",
      'SET auto_explain.log_min_duration = 0',
      'SET auto_explain.log_nested_statements = on',
      'SET auto_explain.log_level = notice',
      'SET auto_explain.log_format = json',
      'SET auto_explain.log_verbose = on',
    ])
      await session.query(setting);
    // The repository on this one session: the statements it prepares and the plans the functions cache are its own.
    const sql = {
      async query<T>(text: string, params: unknown[] = [], name?: string): Promise<T[]> {
        const result = await session.query(name ? { name, text, values: params } : { text, values: params });
        return result.rows as T[];
      },
      arrays: BINARY_ARRAYS,
    };
    envelopes = new EnvelopeRepository({ sql } as unknown as DatabaseRepository);
  }, 120_000);

  afterAll(async () => {
    await session?.end();
    await server?.close();
  }, 60_000);

  it('should run one plan for every batch of the checked insert and the delete, with their values as parameters', async () => {
    takePlans();
    for (let i = 0; i < BATCHES; i++) await batch();
    const plans = takePlans();
    for (const statement of ['insert', 'delete'] as const) expectOnePlan(plans, statement, BATCHES);
  }, 60_000);

  it('should run one plan for every batch of the multi-recipient insert, with its values as parameters', async () => {
    takePlans();
    for (let i = 0; i < BATCHES; i++) await multiBatch();
    const plans = takePlans();
    for (const statement of ['multi', 'delete'] as const) expectOnePlan(plans, statement, BATCHES);
  }, 60_000);

  it("should lock the acknowledgements' rows in ascending guid order, the order every deletion of envelopes follows", async () => {
    // ENVELOPE_LOCK_ORDER (EnvelopeRepository): the delete takes its rows from a forward scan of the guid index with
    // an array condition, which visits the array's guids sorted ascending and deletes (locks) each row as it meets it.
    takePlans();
    await batch();
    const [plan] = takePlans().filter((p) => statementOf(p) === 'delete');
    const modify = nodes(plan!.Plan).find((n) => n['Node Type'] === 'ModifyTable' && n.Operation === 'Delete');
    // The rows it deletes (its InitPlan, the unlocked lookup of which guids belong to their devices, comes first).
    const scan = modify?.Plans?.find((n) => n['Parent Relationship'] === 'Outer');
    expect(scan).toMatchObject({
      'Node Type': 'Index Scan',
      'Relation Name': 'envelopes',
      'Index Name': 'envelopes_guid_key',
      'Scan Direction': 'Forward',
    });
    expect(scan?.['Index Cond']).toMatch(/^\(e\.guid = ANY \(\$\d+\)\)$/);
    // And the order costs nothing: two envelope rows read per acknowledgement (the lookup, then the delete's scan).
    const rows = Array.from({ length: SENDS }, (_, request) => sendRow(request));
    await envelopes.insertChecked(rows, CAPS);
    const read = await readBy(async () => {
      expect((await envelopes.delete(rows.map((r) => ({ ...r })))).size).toBe(SENDS);
    });
    expect(read.find((r) => r.table === 'envelopes')).toEqual({ table: 'envelopes', seqScans: 0, rows: 2 * SENDS });
  }, 60_000);

  it("should commit a send durably and an acknowledgements' delete without waiting for the disk", async () => {
    // The setting each statement leaves for its transaction's commit, read inside the transaction before it ends.
    const commitMode = async (): Promise<string | undefined> => {
      const { rows } = await session.query<{ mode: string }>("SELECT current_setting('synchronous_commit') AS mode");
      return rows[0]?.mode;
    };
    const rows = [sendRow(0)];
    // Each in its own transaction, ended whatever the checks find (the next test uses the session).
    const inTransaction = async (work: () => Promise<void>): Promise<void> => {
      await session.query('BEGIN');
      try {
        await work();
      } finally {
        await session.query('COMMIT');
      }
    };
    await inTransaction(async () => {
      await envelopes.insertChecked(rows, CAPS);
      expect(await commitMode()).toBe('on');
    });
    await inTransaction(async () => {
      const deleted = await envelopes.delete(rows.map((r) => ({ ...r })));
      expect(deleted.size).toBe(1);
      expect(await commitMode()).toBe('off');
    });
    // Only for that transaction: the session's next ones commit durably again.
    expect(await commitMode()).toBe('on');
    // The delete is visible to every other session at once.
    const left = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM envelopes WHERE guid = $1', [
      rows[0]!.guid,
    ]);
    expect(left[0]?.n).toBe(0);
  }, 60_000);

  it.each([
    ['checked insert', 'insert', batch],
    ['multi-recipient insert', 'multi', multiBatch],
  ] as const)(
    'should keep probing by index after the tables grew, on the plans of the %s made while they were empty',
    async (_name, statement, run) => {
      // Plans made while the tables are empty, their statistics saying so (as after the delivery bench's VACUUM).
      await session.query('TRUNCATE envelopes, shared_payloads');
      for (const table of ['envelopes', 'shared_payloads']) {
        await session.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
        await session.query(`VACUUM ANALYZE ${table}`);
      }
      await session.query('DISCARD PLANS');
      takePlans();
      await run();
      const before = takePlans().filter((p) => statementOf(p));
      expect(before.map(statementOf)).toEqual([statement, 'delete']);

      // Another device's queue grows, each envelope with a shared payload of its own.
      await server.query(
        `WITH payloads AS (INSERT INTO shared_payloads (content)
                           SELECT '\\x00'::bytea FROM generate_series(1, $3::int) RETURNING id)
         INSERT INTO envelopes (guid, account_id, device_id, type, timestamp, server_timestamp, content, payload_id)
         SELECT gen_random_uuid(), $1, $2, 'senderkey', 1, 1, '\\x00'::bytea, id FROM payloads`,
        [carol.accountId, carol.deviceId, GROWTH],
      );

      takePlans();
      const counted = await readBy(() => run());
      const all = takePlans();
      const after = all.filter((p) => statementOf(p));

      expect(after.map((p) => JSON.stringify(p.Plan))).toEqual(before.map((p) => JSON.stringify(p.Plan)));
      // Every statement the batch ran, the functions' own and those they fire (foreign-key checks, the trigger that
      // deletes unreferenced payloads), reads the tables through index conditions only.
      for (const plan of all)
        for (const access of tableAccess(plan))
          expect(access).toMatch(/^Index (Only )?Scan (envelopes|devices|shared_payloads|queue_counters) \S+ cond$/);
      const read = counted.map(({ table, seqScans, rows }) => ({ table, seqScans, rows, probes: rows <= PROBE_ROWS }));
      expect(read).toEqual(TABLES.map((table) => ({ table, seqScans: 0, rows: expect.any(Number), probes: true })));
    },
    60_000,
  );
  it.each([
    ['checked insert', batch],
    ['multi-recipient insert', multiBatch],
  ] as const)(
    "should check the caps of the %s reading a few rows per recipient whatever the recipient's queue holds",
    async (_name, run) => {
      // Bob's queue holds QUEUED envelopes, one in ten with a shared payload of its own (counted in its bytes).
      await server.query(
        `WITH payloads AS (INSERT INTO shared_payloads (content)
                           SELECT '\\x0000'::bytea FROM generate_series(1, $3::int / 10) RETURNING id)
         INSERT INTO envelopes (guid, account_id, device_id, type, timestamp, server_timestamp, content, payload_id)
         SELECT gen_random_uuid(), $1, $2, 'whisper', 1, 1, '\\x00'::bytea, p.id
         FROM generate_series(1, $3::int) i LEFT JOIN (SELECT id, row_number() OVER () * 10 AS i FROM payloads) p
           ON p.i = i.i`,
        [bob.accountId, bob.deviceId, QUEUED],
      );
      try {
        await run(LARGE_CAPS);
        // Plans made and cached; now the reads of one batch (its sends to bob, then their acknowledgement).
        const read = await readBy(() => run(LARGE_CAPS));
        expect(read.map(({ table, seqScans, rows }) => ({ table, seqScans, probes: rows <= PROBE_ROWS }))).toEqual(
          TABLES.map((table) => ({ table, seqScans: 0, probes: true })),
        );
        // The check still counts the whole queue: one batch more than the envelope cap leaves room for is refused.
        const full = await envelopes.insertChecked([sendRow(0)], { ...LARGE_CAPS, envelopes: QUEUED });
        expect(full.full).toEqual(new Map([[0, [bob.deviceId]]]));
        const room = await envelopes.insertChecked([sendRow(0)], { ...LARGE_CAPS, envelopes: QUEUED + 1 });
        expect(room.full.size).toBe(0);
        // Bytes likewise (the queue's own bytes, its payloads' and the first send's, then a 16-byte send).
        const bytes = QUEUED + 2 * (QUEUED / 10) + 16;
        const noRoom = await envelopes.insertChecked([sendRow(0)], { ...LARGE_CAPS, bytes: bytes + 15 });
        expect(noRoom.full).toEqual(new Map([[0, [bob.deviceId]]]));
        const fits = await envelopes.insertChecked([sendRow(0)], { ...LARGE_CAPS, bytes: bytes + 16 });
        expect(fits.full.size).toBe(0);
      } finally {
        await server.query('DELETE FROM envelopes WHERE account_id = $1', [bob.accountId]);
      }
    },
    120_000,
  );
});
