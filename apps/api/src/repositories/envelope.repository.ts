/**
 * Queued envelopes in the database, written and deleted in batches: one multi-row INSERT for every envelope of a
 * group-committed batch of sends, one DELETE for a batch of acknowledgements, and ordered pages of a device's
 * queue. The statement returning means the rows are durable (PostgreSQL commits with fsync before answering).
 * Content is opaque bytes. Which envelopes to write is decided by the message service.
 */
import { Injectable } from '@nestjs/common';
import { type Bytes, DatabaseRepository } from './database.repository.js';

export type EnvelopeRow = {
  guid: string;
  accountId: string;
  deviceId: number;
  type: string;
  sourceAccountId: string;
  sourceDeviceId: number;
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

type EnvelopeColumns = {
  id: string;
  guid: string;
  type: string;
  source_account_id: string;
  source_device_id: number;
  timestamp: number;
  server_timestamp: number;
  urgent: boolean;
  content: Bytes;
};

const SELECT_COLUMNS = `e.id::text AS id, e.guid, e.type, e.source_account_id, e.source_device_id,
  e.timestamp::float8 AS timestamp, e.server_timestamp::float8 AS server_timestamp, e.urgent, e.content`;

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
   * Two statements for the same device running at once (other instances; one lane per recipient runs one at a time
   * within an instance) do not see each other's rows, so a queue can exceed its cap by at most one batch's rows for
   * that device per other running instance.
   */
  async insertChecked(rows: CheckedEnvelopeRow[], caps: QueueCaps): Promise<CheckedInsert> {
    if (!rows.length) return { refused: new Set(), full: new Map(), senderGone: new Set() };
    const params: unknown[] = [caps.envelopes, caps.bytes];
    const tuples: string[] = [];
    for (const r of rows) {
      const n = params.length;
      tuples.push(
        `($${n + 1}::int,$${n + 2}::uuid,$${n + 3}::uuid,$${n + 4}::smallint,$${n + 5}::int,$${n + 6}::varchar,$${n + 7}::uuid,$${n + 8}::smallint,$${n + 9}::bigint,$${n + 10}::bigint,$${n + 11}::boolean,$${n + 12}::bytea)`,
      );
      params.push(
        r.request,
        r.guid,
        r.accountId,
        r.deviceId,
        r.registrationId,
        r.type,
        r.sourceAccountId,
        r.sourceDeviceId,
        r.timestamp,
        r.serverTimestamp,
        r.urgent,
        r.content,
      );
    }
    const result = await this.db.sql.query<{
      request: number;
      kind: 'refused' | 'full' | 'gone';
      full_device: number | null;
    }>(
      `WITH input (request, guid, account_id, device_id, registration_id, type, source_account_id, source_device_id,
                   timestamp, server_timestamp, urgent, content) AS (VALUES ${tuples.join(',')}),
       sends AS (SELECT DISTINCT request, account_id, source_account_id, source_device_id FROM input),
       senders AS (SELECT d.account_id, d.id FROM devices d
                   WHERE (d.account_id, d.id) IN (SELECT source_account_id, source_device_id FROM sends)
                   FOR KEY SHARE),
       gone AS (SELECT s.request FROM sends s
                WHERE NOT EXISTS (SELECT 1 FROM senders d
                                  WHERE d.account_id = s.source_account_id AND d.id = s.source_device_id)),
       current AS (SELECT account_id, id, registration_id FROM devices
                   WHERE account_id IN (SELECT account_id FROM sends)),
       refused AS (
         SELECT i.request FROM input i
           LEFT JOIN current c ON c.account_id = i.account_id AND c.id = i.device_id
           WHERE c.id IS NULL OR c.registration_id <> i.registration_id
              OR (i.account_id = i.source_account_id AND i.device_id = i.source_device_id)
         UNION
         SELECT s.request FROM sends s JOIN current c ON c.account_id = s.account_id
           WHERE NOT (s.account_id = s.source_account_id AND c.id = s.source_device_id)
             AND NOT EXISTS (SELECT 1 FROM input i WHERE i.request = s.request AND i.device_id = c.id)
       ),
       queued AS (
         SELECT e.account_id, e.device_id, count(*) AS n, sum(octet_length(e.content)) AS bytes
         FROM envelopes e JOIN (SELECT DISTINCT account_id, device_id FROM input) d
           ON e.account_id = d.account_id AND e.device_id = d.device_id
         GROUP BY e.account_id, e.device_id
       ),
       over_cap AS (
         SELECT request, device_id FROM (
           SELECT i.request, i.device_id,
                  coalesce(q.n, 0) + count(*) OVER w AS n,
                  coalesce(q.bytes, 0) + sum(octet_length(i.content)) OVER w AS bytes
           FROM input i LEFT JOIN queued q ON q.account_id = i.account_id AND q.device_id = i.device_id
           WHERE i.request NOT IN (SELECT request FROM refused) AND i.request NOT IN (SELECT request FROM gone)
           WINDOW w AS (PARTITION BY i.account_id, i.device_id ORDER BY i.request)
         ) cumulative
         WHERE n > $1::bigint OR bytes > $2::bigint
       ),
       stored AS (
         INSERT INTO envelopes (${INSERT_COLUMNS})
         SELECT guid, account_id, device_id, type, source_account_id, source_device_id, timestamp, server_timestamp,
                urgent, content
         FROM input WHERE request NOT IN (SELECT request FROM refused)
                      AND request NOT IN (SELECT request FROM over_cap)
                      AND request NOT IN (SELECT request FROM gone)
         ORDER BY request, device_id
         RETURNING 1
       )
       SELECT DISTINCT request, 'gone' AS kind, NULL::int AS full_device FROM gone
       UNION ALL
       SELECT DISTINCT request, 'refused' AS kind, NULL::int AS full_device FROM refused
         WHERE request NOT IN (SELECT request FROM gone)
       UNION ALL
       SELECT request, 'full' AS kind, device_id::int AS full_device FROM over_cap
         WHERE request NOT IN (SELECT request FROM gone)`,
      params,
    );
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
             SELECT e.*, sum(octet_length(e.content)) OVER (ORDER BY e.id) - octet_length(e.content) AS before
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
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const k of keys) {
      const n = params.length;
      tuples.push(`($${n + 1}::uuid,$${n + 2}::uuid,$${n + 3}::smallint)`);
      params.push(k.guid, k.accountId, k.deviceId);
    }
    const rows = await this.db.sql.query<{ guid: string; account_id: string; device_id: number }>(
      `DELETE FROM envelopes e USING (VALUES ${tuples.join(',')}) AS v(guid, account_id, device_id)
       WHERE e.guid = v.guid AND e.account_id = v.account_id AND e.device_id = v.device_id
       RETURNING e.guid, e.account_id, e.device_id`,
      params,
    );
    return new Set(rows.map((r) => envelopeKey({ guid: r.guid, accountId: r.account_id, deviceId: r.device_id })));
  }
}

export function envelopeKey(key: EnvelopeKey): string {
  return `${key.guid}|${key.accountId}|${key.deviceId}`;
}
