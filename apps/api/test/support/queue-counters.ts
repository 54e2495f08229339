/**
 * The truth the per-device queue counters (`queue_counters`, migration `20261207210000_queue_counters`) must equal:
 * for every device, its queued envelopes counted and their bytes summed as the queue caps define them
 * (`QUEUED_BYTES`), read from `envelopes` itself. Used by the specs that write and delete envelopes to check that no
 * path left a counter behind. Reads only; works on PostgreSQL and PGlite.
 */
import { QUEUED_BYTES } from '../../src/repositories/envelope.repository.js';

type Query = <T>(sql: string, params?: unknown[]) => Promise<T[]>;

export type CounterDrift = {
  account_id: string;
  device_id: number;
  counted: number | null;
  counted_bytes: string | null;
  envelopes: number;
  bytes: string;
};

/**
 * Every device whose counter row is missing or differs from its queue, and every counter row or envelope left
 * without a device (as a row with `device_id` -1): empty when the counters are exact.
 */
export async function queueCounterDrift(query: Query): Promise<CounterDrift[]> {
  const devices = await query<CounterDrift>(
    `SELECT d.account_id, d.id AS device_id, q.envelopes AS counted, q.bytes::text AS counted_bytes,
            t.envelopes, t.bytes::text AS bytes
     FROM devices d
       LEFT JOIN queue_counters q ON q.account_id = d.account_id AND q.device_id = d.id
       CROSS JOIN LATERAL (SELECT count(*)::int AS envelopes, coalesce(sum(${QUEUED_BYTES}), 0)::bigint AS bytes
                           FROM envelopes e WHERE e.account_id = d.account_id AND e.device_id = d.id) t
     WHERE q.envelopes IS DISTINCT FROM t.envelopes OR q.bytes IS DISTINCT FROM t.bytes`,
  );
  const orphans = await query<CounterDrift>(
    `SELECT q.account_id, -1 AS device_id, q.envelopes AS counted, q.bytes::text AS counted_bytes, 0 AS envelopes,
            '0' AS bytes
     FROM queue_counters q WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.account_id = q.account_id AND d.id = q.device_id)
     UNION ALL
     SELECT e.account_id, -1, NULL, NULL, count(*)::int, '0' FROM envelopes e
     WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.account_id = e.account_id AND d.id = e.device_id)
     GROUP BY e.account_id`,
  );
  return [...devices, ...orphans];
}
