/**
 * Queued envelopes in the database, written and deleted in batches: one multi-row INSERT for every envelope of a
 * group-committed batch of sends, one DELETE for a batch of acknowledgements, and ordered pages of a device's queue.
 * The group commit's three statements (the checked insert of one-to-one sends, the multi-recipient insert and the
 * acknowledgements' delete) are calls of PL/pgSQL functions of the migrations, `insert_checked_envelopes`,
 * `insert_multi_envelopes` and `delete_envelopes` (see `INSERT_CHECKED`). An insert returning means its rows are
 * durable (PostgreSQL commits with fsync before answering); a delete returning means the rows are gone for every
 * reader, on disk soon after (see `DELETE`). Content is opaque bytes. Which envelopes to write is decided by the
 * message service.
 *
 * Each device's queue length and bytes are also kept in `queue_counters` by triggers of the migration
 * `20261207210000_queue_counters`, whatever writes or deletes the rows; the queue caps are checked against them.
 *
 * A multi-recipient send stores its ciphertext once in `shared_payloads` and one envelope row per device pointing at
 * it (`payload_id`, the row's own `content` being the device's part: empty for `senderkey`); every read here hands
 * out the row's content followed by the payload's, so a device sees one ordinary envelope either way. A payload is
 * deleted with its last row by a trigger of the migration (see `20261206200000_shared_payloads`), whatever deletes
 * the rows; the retention job sweeps what concurrent deletions leave (`MailboxRepository.purgeOrphanPayloads`).
 *
 * Every statement that deletes envelope rows locks them in one order, ascending `guid` ({@link ENVELOPE_LOCK_ORDER}),
 * so that two of them deleting the same rows at once wait for each other instead of deadlocking.
 */
import { Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client.js';
import { type Bytes, DatabaseRepository } from './database.repository.js';

/**
 * The one order in which every statement that deletes envelope rows locks them: ascending `guid`. Two statements
 * deleting overlapping rows in different orders each hold some rows the other waits for, and PostgreSQL aborts one
 * (`40P01`, deadlock); in one order the later one waits. Guid, not id, because the acknowledgements' delete (the hot
 * one, thousands per second) already locks in guid order at no cost: it finds its rows by an index scan of
 * `envelopes_guid_key` with `guid = ANY (array)` (pinned by `delete_envelopes`' settings and checked by
 * test/delivery/group-commit-plan.spec.ts), and a B-tree scan with an array condition sorts the array and visits the
 * keys in ascending order, deleting (so locking) each row as it meets it. Ordering it by id would cost a third probe
 * per row. The others sort their rows by guid and lock them (`ORDER BY guid FOR UPDATE`: the lock is taken on each
 * row as the sort returns it) before deleting: the retention sweep (`MailboxRepository.purgeAcceptedBefore`) and
 * the removal of a device or an account ({@link deleteDeviceQueues}), which no longer leaves its rows to the foreign
 * key's cascade (its order is whatever plan the cascade's query gets: the queue index's id order, or the heap's).
 */
export const ENVELOPE_LOCK_ORDER = 'guid';

/**
 * For the removal of an account's devices (all of them, or `deviceId`) inside the caller's transaction, before it
 * deletes their rows: locks the device rows (ascending id, as a delete of them would) so that no send adds to their
 * queues any more (a send holds its destination devices' key-share locks), then deletes their queued envelopes in
 * {@link ENVELOPE_LOCK_ORDER}. The cascade of the devices' deletion then finds no envelope left. Returns how many
 * envelopes it deleted. The caller holds the account row first when it removes the account (that is where a
 * deletion of the account row would start).
 */
export async function deleteDeviceQueues(
  tx: Prisma.TransactionClient,
  accountId: string,
  deviceId: number | null,
): Promise<number> {
  await tx.$queryRawUnsafe(
    `SELECT 1 FROM devices WHERE account_id = $1::uuid AND ($2::smallint IS NULL OR id = $2::smallint)
     ORDER BY id FOR UPDATE`,
    accountId,
    deviceId,
  );
  const rows = await tx.$queryRawUnsafe<Array<{ n: number }>>(
    `WITH deleted AS (
       DELETE FROM envelopes e
       WHERE e.id = ANY (ARRAY(SELECT x.id FROM envelopes x
                               WHERE x.account_id = $1::uuid AND ($2::smallint IS NULL OR x.device_id = $2::smallint)
                               ORDER BY x.${ENVELOPE_LOCK_ORDER} FOR UPDATE))
       RETURNING 1)
     SELECT count(*)::int AS n FROM deleted`,
    accountId,
    deviceId,
  );
  return Number(rows[0]?.n ?? 0);
}

export type EnvelopeRow = {
  guid: string;
  accountId: string;
  deviceId: number;
  type: string;
  /** Null for a sealed-sender envelope: the server never learns who sent it. */
  sourceAccountId: string | null;
  sourceDeviceId: number | null;
  timestamp: number;
  serverTimestamp: number;
  urgent: boolean;
  content: Bytes;
};

export type StoredEnvelope = EnvelopeRow & { id: string };

/**
 * The stored fields a client sees of an envelope (content as bytes): what the services' wire mapping reads, from a
 * stored envelope or from the mailbox's wake-up read.
 */
export type EnvelopeRecord = Pick<
  EnvelopeRow,
  'guid' | 'type' | 'sourceAccountId' | 'sourceDeviceId' | 'timestamp' | 'serverTimestamp'
> & { content: Uint8Array };

/** A row of a send: `request` numbers the send within its batch, `registrationId` is the one the sender expects. */
export type CheckedEnvelopeRow = EnvelopeRow & { request: number; registrationId: number };

export type EnvelopeKey = { accountId: string; deviceId: number; guid: string };

/** The most envelopes, and content bytes, one device may have waiting. */
export type QueueCaps = { envelopes: number; bytes: number };

/**
 * Sends skipped by {@link EnvelopeRepository.insertChecked}, by number within the batch: `senderGone` when the
 * sending device no longer exists, `refused` by the device check, `full` with their full devices.
 */
export type CheckedInsert = { refused: Set<number>; full: Map<number, number[]>; senderGone: Set<number> };

/**
 * One multi-recipient send of a batch (`request` numbers it): the ciphertext stored once for all its devices, and
 * whether to store at all (`store` false: an online-only send, checked but never stored).
 */
export type MultiSendRow = {
  request: number;
  type: string;
  /** Null for a sealed (unidentified) send: there is no sending device to check or record. */
  sourceAccountId: string | null;
  sourceDeviceId: number | null;
  timestamp: number;
  serverTimestamp: number;
  urgent: boolean;
  store: boolean;
  content: Bytes;
};

/**
 * One recipient device of a multi-recipient send, with the guid its envelope gets and the registration id expected;
 * `own` is the device's own part delivered before the shared ciphertext (a sealed v2 recipient's header; empty when
 * absent).
 */
export type MultiTargetRow = {
  request: number;
  guid: string;
  accountId: string;
  deviceId: number;
  registrationId: number;
  own?: Bytes;
};

/**
 * What {@link EnvelopeRepository.insertMulti} did with each send, by number within the batch: `senderGone` when the
 * sending device no longer exists, `refused` by the device check (nothing stored), and for the others the devices
 * skipped because their queue is full (`full`, keyed `accountId.deviceId`; every other device's envelope is stored).
 */
export type MultiInsert = { refused: Set<number>; senderGone: Set<number>; full: Map<number, Set<string>> };

type EnvelopeColumns = {
  id: string;
  guid: string;
  type: string;
  source_account_id: string | null;
  source_device_id: number | null;
  timestamp: number;
  server_timestamp: number;
  urgent: boolean;
  content: Bytes;
};

/** A device's content: its own bytes, followed by the shared payload's for a multi-recipient envelope. */
export const DELIVERED_CONTENT = `CASE WHEN e.payload_id IS NULL THEN e.content
  ELSE e.content || (SELECT p.content FROM shared_payloads p WHERE p.id = e.payload_id) END`;

/** The bytes an envelope takes in its device's queue (what the queue caps and drain pages count). */
export const QUEUED_BYTES = `(octet_length(e.content) + CASE WHEN e.payload_id IS NULL THEN 0
  ELSE coalesce((SELECT octet_length(p.content) FROM shared_payloads p WHERE p.id = e.payload_id), 0) END)`;

const SELECT_COLUMNS = `e.id::text AS id, e.guid, e.type, e.source_account_id, e.source_device_id,
  e.timestamp::float8 AS timestamp, e.server_timestamp::float8 AS server_timestamp, e.urgent,
  ${DELIVERED_CONTENT} AS content`;

const stored = (accountId: string, deviceId: number, r: EnvelopeColumns): StoredEnvelope => ({
  id: r.id,
  guid: r.guid,
  accountId,
  deviceId,
  type: r.type,
  sourceAccountId: r.source_account_id,
  sourceDeviceId: r.source_device_id,
  timestamp: r.timestamp,
  serverTimestamp: r.server_timestamp,
  urgent: r.urgent,
  content: r.content,
});

const INSERT_COLUMNS =
  'guid, account_id, device_id, type, source_account_id, source_device_id, timestamp, server_timestamp, urgent, content';

/**
 * The group commit's checked insert, multi-recipient insert and acknowledgements' delete, each a call of a PL/pgSQL
 * function of the migrations `20261207153000_group_commit_functions` (`insert_checked_envelopes`, `delete_envelopes`)
 * and `20261207190000_multi_commit_function` (`insert_multi_envelopes`), which hold the statements. Their rows come
 * as one array per column (`unnest`), so the call's text never changes and stays prepared on each connection
 * (`insertMulti` passes its sends and their targets as two sets of arrays). The functions are there so
 * that PostgreSQL plans their statements once per connection, not once per batch (planning the checked insert cost
 * as much of its CPU as running it), with settings pinned on them that keep those cached plans to index scans with
 * conditions however the tables grow after they were made: devices looked up by key, one index probe per sending
 * device and per destination account (as a semi-join on the whole batch, a generic plan read all of `devices`), each
 * recipient's queue size read from its counter row (`queue_counters`, one probe by key whatever the queue holds;
 * migration `20261207210000_queue_counters`, which replaced the count of up to cap + 1 queued rows), and each
 * acknowledged envelope found by its guid (and, by the trigger the delete fires, each payload it may leave
 * unreferenced: migration `20261207191500_shared_payloads_trigger_probes`). The counters are kept by triggers on
 * `envelopes`, so every statement here (and the retention sweep, and the cascades of a removal) updates them in its
 * own transaction. PGlite runs the same functions and triggers.
 */
const INSERT_CHECKED = `SELECT request, kind, full_device FROM insert_checked_envelopes($1::bigint, $2::bigint,
  $3::int[], $4::uuid[], $5::uuid[], $6::smallint[], $7::int[], $8::varchar[], $9::uuid[], $10::smallint[],
  $11::bigint[], $12::bigint[], $13::boolean[], $14::bytea[])`;

/**
 * The multi-recipient insert: the caps, then the sends' columns ($3–$11), then their targets' ($12–$17). Its result's
 * `account_id` and `device_id` name a full device (`kind` 'full'), null otherwise.
 */
const INSERT_MULTI = `SELECT request, kind, account_id, device_id FROM insert_multi_envelopes($1::bigint, $2::bigint,
  $3::int[], $4::varchar[], $5::uuid[], $6::smallint[], $7::bigint[], $8::bigint[], $9::boolean[], $10::boolean[],
  $11::bytea[], $12::int[], $13::uuid[], $14::uuid[], $15::smallint[], $16::int[], $17::bytea[])`;

/** A target's own part when it has none: the bytes array takes no nulls, and an empty part is what gets stored. */
const NO_OWN_PART = new Uint8Array(0);

/**
 * The acknowledgements' delete commits without waiting for its WAL to reach the disk (`synchronous_commit` off for
 * this transaction only; `set_config(…, true)` lasts until its commit, and the function's own pinned settings do not
 * include it). A delete that a crash loses only makes the envelope come back, which is what a lost `ack` frame does
 * anyway and what clients already drop as a duplicate (by guid, and by the ratchet's message keys). The delete is
 * still visible to every other transaction at once, and the next durable commit (a send's) flushes it with its own
 * WAL, since WAL is flushed in order. So a send's commit no longer waits behind an acknowledgement's flush, and a
 * busy server pays about one flush per send batch instead of two.
 */
const DELETE = `SELECT d.guid, d.account_id, d.device_id
  FROM set_config('synchronous_commit', 'off', true) AS s,
       delete_envelopes($1::uuid[], $2::uuid[], $3::smallint[]) AS d`;

@Injectable()
export class EnvelopeRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Inserts all rows in one statement (atomic: all or none). */
  async insert(rows: EnvelopeRow[]): Promise<void> {
    if (!rows.length) return;
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const r of rows) {
      const n = params.length;
      tuples.push(
        `($${n + 1}::uuid,$${n + 2}::uuid,$${n + 3}::smallint,$${n + 4},$${n + 5}::uuid,$${n + 6}::smallint,$${n + 7}::bigint,$${n + 8}::bigint,$${n + 9}::boolean,$${n + 10}::bytea)`,
      );
      params.push(
        r.guid,
        r.accountId,
        r.deviceId,
        r.type,
        r.sourceAccountId,
        r.sourceDeviceId,
        r.timestamp,
        r.serverTimestamp,
        r.urgent,
        r.content,
      );
    }
    await this.db.sql.query(`INSERT INTO envelopes (${INSERT_COLUMNS}) VALUES ${tuples.join(',')}`, params);
  }

  /**
   * Stores the envelopes of every send whose rows address exactly the destination's current devices (all of them,
   * minus the sender's own device for a send to oneself) with their current registration ids, and fit in every
   * destination device's queue (`caps`: its stored envelopes and content bytes, plus those of the earlier sends of
   * this batch); the others are skipped, all of their rows. One statement: the device check, the queue check and the
   * insert happen in one round trip and one snapshot. A send is stored only if its sending device exists: its row is
   * locked (`FOR KEY SHARE`) by the statement, so a removal either commits first (the send is skipped as
   * `senderGone`) or waits until the envelopes are stored — a removed device can never add to anyone's queue.
   * Returns the skipped sends: `senderGone`, `refused` by the device check (the caller works out why), `full` with
   * their full devices.
   *
   * The device check (the `refused` CTE) is the rule of `services/device-coverage.ts` in SQL, evaluated in the
   * statement's snapshot so a device linked or removed after the caller last looked cannot slip through: a send is
   * refused when a row names a device that is not current (extra), names it with another registration id (stale) or
   * names the sending device on a send to oneself (extra), or when a current device other than that one has no row
   * (missing). That is exactly "`deviceCoverage` is not empty"; the unit tier's in-memory twin and this statement
   * are both checked against that function on one table of cases (`test/support/device-coverage-cases.ts`).
   *
   * The queue is read from the device's counter row, locked (after the destination devices themselves) until the
   * statement's transaction commits: two statements for the same device running at once (other connections or
   * instances) run one after the other, the second seeing the first's rows, so no queue exceeds its cap. The lock
   * order, and why it cannot deadlock, is in the migration `20261207210000_queue_counters`.
   */
  async insertChecked(rows: CheckedEnvelopeRow[], caps: QueueCaps): Promise<CheckedInsert> {
    if (!rows.length) return { refused: new Set(), full: new Map(), senderGone: new Set() };
    const arrays = this.db.sql.arrays;
    const params: unknown[] = [
      caps.envelopes,
      caps.bytes,
      arrays.int4(rows.map((r) => r.request)),
      arrays.uuid(rows.map((r) => r.guid)),
      arrays.uuid(rows.map((r) => r.accountId)),
      arrays.int2(rows.map((r) => r.deviceId)),
      arrays.int4(rows.map((r) => r.registrationId)),
      arrays.varchar(rows.map((r) => r.type)),
      arrays.uuid(rows.map((r) => r.sourceAccountId)),
      arrays.int2(rows.map((r) => r.sourceDeviceId)),
      arrays.int8(rows.map((r) => r.timestamp)),
      arrays.int8(rows.map((r) => r.serverTimestamp)),
      arrays.bool(rows.map((r) => r.urgent)),
      arrays.bytea(rows.map((r) => r.content)),
    ];
    const result = await this.db.sql.query<{
      request: number;
      kind: 'refused' | 'full' | 'gone';
      full_device: number | null;
    }>(INSERT_CHECKED, params, 'cove_envelopes_insert_checked');
    const refused = new Set<number>();
    const full = new Map<number, number[]>();
    const senderGone = new Set<number>();
    for (const r of result) {
      if (r.kind === 'gone') senderGone.add(r.request);
      else if (r.kind === 'refused' || r.full_device === null) refused.add(r.request);
      else
        full.set(
          r.request,
          [...(full.get(r.request) ?? []), r.full_device].sort((a, b) => a - b),
        );
    }
    return { refused, full, senderGone };
  }

  /**
   * Stores a batch of multi-recipient sends in one statement: for each send whose sending device exists (locked
   * `FOR KEY SHARE`, as in {@link insertChecked}) and whose targets address exactly the current devices of every
   * recipient account (for the sender's own account, all but the sending device) with their current registration
   * ids — the rule of `services/device-coverage.ts`, here over all the send's accounts at once: one failing account
   * refuses the whole send — it inserts the ciphertext once into `shared_payloads` (its id drawn from the sequence, so
   * the envelope rows of the same statement can reference it) and one envelope row per target device, with the
   * target's own part (empty unless given: a sealed v2 recipient's header). A send with no source (sealed) has no
   * sending device to check and is stored with null source columns. A target device whose queue (`caps`, counting
   * its stored envelopes with their shared payloads and this batch's earlier sends) would overflow is skipped and
   * reported in `full`; the others are stored. A send with `store` false is only checked. The statement is the
   * function `insert_multi_envelopes` (see `INSERT_CHECKED`), its rows one array per column, so a send to 6,000
   * devices is a handful of parameters and the call's text never changes.
   */
  async insertMulti(sends: MultiSendRow[], targets: MultiTargetRow[], caps: QueueCaps): Promise<MultiInsert> {
    const outcome: MultiInsert = { refused: new Set(), senderGone: new Set(), full: new Map() };
    if (!sends.length) return outcome;
    const arrays = this.db.sql.arrays;
    const params: unknown[] = [
      caps.envelopes,
      caps.bytes,
      arrays.int4(sends.map((s) => s.request)),
      arrays.varchar(sends.map((s) => s.type)),
      arrays.uuid(sends.map((s) => s.sourceAccountId)),
      arrays.int2(sends.map((s) => s.sourceDeviceId)),
      arrays.int8(sends.map((s) => s.timestamp)),
      arrays.int8(sends.map((s) => s.serverTimestamp)),
      arrays.bool(sends.map((s) => s.urgent)),
      arrays.bool(sends.map((s) => s.store)),
      arrays.bytea(sends.map((s) => s.content)),
      arrays.int4(targets.map((t) => t.request)),
      arrays.uuid(targets.map((t) => t.guid)),
      arrays.uuid(targets.map((t) => t.accountId)),
      arrays.int2(targets.map((t) => t.deviceId)),
      arrays.int4(targets.map((t) => t.registrationId)),
      arrays.bytea(targets.map((t) => t.own ?? NO_OWN_PART)),
    ];
    const result = await this.db.sql.query<{
      request: number;
      kind: 'refused' | 'full' | 'gone';
      account_id: string | null;
      device_id: number | null;
    }>(INSERT_MULTI, params, 'cove_envelopes_insert_multi');
    for (const r of result) {
      if (r.kind === 'gone') outcome.senderGone.add(r.request);
      else if (r.kind === 'refused') outcome.refused.add(r.request);
      else {
        const full = outcome.full.get(r.request) ?? new Set<string>();
        full.add(`${r.account_id ?? ''}.${r.device_id ?? 0}`);
        outcome.full.set(r.request, full);
      }
    }
    return outcome;
  }

  /**
   * Up to `limit` envelopes of a device with id greater than `afterId`, oldest first; with `maxBytes`, only as many as
   * fit in that many content bytes (always at least one, so a page can hold one envelope larger than the budget).
   * The byte bound is applied in the statement: rows beyond it are never read from storage or sent over.
   */
  async page(
    accountId: string,
    deviceId: number,
    afterId: string,
    limit: number,
    maxBytes?: number,
  ): Promise<StoredEnvelope[]> {
    const rows = await this.db.sql.query<EnvelopeColumns & { id: string }>(
      maxBytes === undefined
        ? `SELECT ${SELECT_COLUMNS} FROM envelopes e
           WHERE e.account_id = $1::uuid AND e.device_id = $2::smallint AND e.id > $3::bigint
           ORDER BY e.id LIMIT $4`
        : `SELECT ${SELECT_COLUMNS} FROM (
             SELECT e.*, sum(${QUEUED_BYTES}) OVER (ORDER BY e.id) - ${QUEUED_BYTES} AS before
             FROM envelopes e
             WHERE e.account_id = $1::uuid AND e.device_id = $2::smallint AND e.id > $3::bigint
             ORDER BY e.id LIMIT $4
           ) e WHERE e.before < $5::bigint ORDER BY e.id`,
      maxBytes === undefined ? [accountId, deviceId, afterId, limit] : [accountId, deviceId, afterId, limit, maxBytes],
    );
    return rows.map((r) => stored(accountId, deviceId, r));
  }

  /** The envelopes of a device among `guids` (those not deleted meanwhile), oldest first. */
  async byGuids(accountId: string, deviceId: number, guids: string[]): Promise<StoredEnvelope[]> {
    if (!guids.length) return [];
    const rows = await this.db.sql.query<EnvelopeColumns & { id: string }>(
      `SELECT ${SELECT_COLUMNS} FROM envelopes e
       WHERE e.account_id = $1::uuid AND e.device_id = $2::smallint
         AND e.guid = ANY(string_to_array($3::text, ',')::uuid[])
       ORDER BY e.id`,
      [accountId, deviceId, guids.join(',')],
    );
    return rows.map((r) => stored(accountId, deviceId, r));
  }

  /** Deletes the envelopes that exist for their device; returns {@link envelopeKey}s of those deleted. */
  async delete(keys: EnvelopeKey[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const rows = await this.db.sql.query<{ guid: string; account_id: string; device_id: number }>(
      DELETE,
      [
        this.db.sql.arrays.uuid(keys.map((k) => k.guid)),
        this.db.sql.arrays.uuid(keys.map((k) => k.accountId)),
        this.db.sql.arrays.int2(keys.map((k) => k.deviceId)),
      ],
      'cove_envelopes_delete',
    );
    return new Set(rows.map((r) => envelopeKey({ guid: r.guid, accountId: r.account_id, deviceId: r.device_id })));
  }
}

export function envelopeKey(key: EnvelopeKey): string {
  return `${key.guid}|${key.accountId}|${key.deviceId}`;
}
