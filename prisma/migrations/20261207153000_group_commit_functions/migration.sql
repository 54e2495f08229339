-- The group commit's two hot statements as functions (apps/api/src/repositories/envelope.repository.ts calls them),
-- so that PostgreSQL plans them once per connection instead of once per batch, with plans that stay index probes
-- however the tables grow after they were made.
--
-- Sent as prepared statements, PostgreSQL planned the checked insert anew for nearly every batch (an `unnest` of a
-- known array makes each custom plan look cheaper than the generic one): 0.6–2 ms of its CPU per batch, as much as
-- running it. A generic plan forced on the pool's sessions (plan_cache_mode) was cached once per connection and, made
-- while `envelopes` was empty, counted every recipient's queue with a sequential scan of the whole table long after
-- it had grown (bench/RESULTS.md, 2026-12-07). Here PL/pgSQL keeps each statement's plan for the session, and the
-- settings pinned on the functions make that plan independent of the tables' size and statistics:
--   plan_cache_mode = force_generic_plan  the plan is made on the first call and reused, never re-planned per call;
--   enable_seqscan = off, enable_bitmapscan = off  no sequential or bitmap scan: every table is read by an index
--     scan with conditions. Full index scans are not possible either: each table access is a restriction on one
--     table (a LATERAL subquery with OFFSET 0 that no outer condition or join reaches, or an `= ANY` condition), with
--     no ORDER BY, so PostgreSQL never considers an index scan without conditions (it does so only for an ordering
--     or a merge join);
--   jit = off  were a scan ever disabled with no alternative, its cost (10^10) would make every call compile.
-- The settings hold only inside these functions (and the triggers and foreign-key checks they fire); the connection
-- keeps its own. `#variable_conflict use_column`: the result columns share names with table columns.

-- The checked insert of EnvelopeRepository.insertChecked, its rules documented there: $1, $2 the queue caps
-- (envelopes, bytes), then one array per column of the rows. Each recipient's queue is counted by an index scan of
-- (account_id, device_id, id) reading at most $1 + 1 rows (one more than the envelope cap already puts any send to
-- the device over it; below that every row is read and the bytes are exact), a plain index scan, which marks the
-- entries of acknowledged rows dead as it meets them. No ORDER BY: the count needs none, and ordering by id would let
-- PostgreSQL consider reading the whole primary key in id order instead.
CREATE FUNCTION "insert_checked_envelopes"(
  bigint, bigint, int[], uuid[], uuid[], smallint[], int[], varchar[], uuid[], smallint[], bigint[], bigint[],
  boolean[], bytea[])
RETURNS TABLE ("request" int, "kind" text, "full_device" int)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH input AS (
         SELECT * FROM unnest($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           AS u (request, guid, account_id, device_id, registration_id, type, source_account_id, source_device_id,
                 timestamp, server_timestamp, urgent, content)),
       sends AS (SELECT DISTINCT request, account_id, source_account_id, source_device_id FROM input),
       senders AS (SELECT d.account_id, d.id FROM (SELECT DISTINCT source_account_id, source_device_id FROM sends) s
                     CROSS JOIN LATERAL (SELECT d.account_id, d.id FROM devices d
                                         WHERE d.account_id = s.source_account_id AND d.id = s.source_device_id
                                         FOR KEY SHARE) d),
       gone AS (SELECT s.request FROM sends s
                WHERE s.source_account_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM senders d
                                  WHERE d.account_id = s.source_account_id AND d.id = s.source_device_id)),
       current AS (SELECT d.account_id, d.id, d.registration_id FROM (SELECT DISTINCT account_id FROM sends) s
                     CROSS JOIN LATERAL (SELECT d.account_id, d.id, d.registration_id FROM devices d
                                         WHERE d.account_id = s.account_id OFFSET 0) d),
       refused AS (
         SELECT i.request FROM input i
           LEFT JOIN current c ON c.account_id = i.account_id AND c.id = i.device_id
           WHERE c.id IS NULL OR c.registration_id <> i.registration_id
              OR (i.account_id = i.source_account_id AND i.device_id = i.source_device_id)
         UNION
         SELECT s.request FROM sends s JOIN current c ON c.account_id = s.account_id
           WHERE NOT coalesce(s.account_id = s.source_account_id AND c.id = s.source_device_id, false)
             AND NOT EXISTS (SELECT 1 FROM input i WHERE i.request = s.request AND i.device_id = c.id)
       ),
       queued AS (
         SELECT d.account_id, d.device_id, q.n, q.bytes
         FROM (SELECT DISTINCT account_id, device_id FROM input) d
           CROSS JOIN LATERAL (
             SELECT count(*) AS n, sum(l.bytes) AS bytes FROM (
               SELECT octet_length(e.content) + CASE WHEN e.payload_id IS NULL THEN 0
                        ELSE coalesce((SELECT octet_length(p.content) FROM shared_payloads p
                                       WHERE p.id = e.payload_id), 0) END AS bytes
               FROM envelopes e
               WHERE e.account_id = d.account_id AND e.device_id = d.device_id
               LIMIT $1 + 1
             ) l
           ) q),
       over_cap AS (
         SELECT request, device_id FROM (
           SELECT i.request, i.device_id,
                  coalesce(q.n, 0) + count(*) OVER w AS n,
                  coalesce(q.bytes, 0) + sum(octet_length(i.content)) OVER w AS bytes
           FROM input i LEFT JOIN queued q ON q.account_id = i.account_id AND q.device_id = i.device_id
           WHERE i.request NOT IN (SELECT request FROM refused) AND i.request NOT IN (SELECT request FROM gone)
           WINDOW w AS (PARTITION BY i.account_id, i.device_id ORDER BY i.request)
         ) cumulative
         WHERE n > $1 OR bytes > $2
       ),
       stored AS (
         INSERT INTO envelopes (guid, account_id, device_id, type, source_account_id, source_device_id, timestamp,
                                server_timestamp, urgent, content)
         SELECT guid, account_id, device_id, type, source_account_id, source_device_id, timestamp, server_timestamp,
                urgent, content
         FROM input WHERE request NOT IN (SELECT request FROM refused)
                      AND request NOT IN (SELECT request FROM over_cap)
                      AND request NOT IN (SELECT request FROM gone)
         ORDER BY request, device_id
         RETURNING 1
       )
  SELECT DISTINCT g.request, 'gone'::text, NULL::int FROM gone g
  UNION ALL
  SELECT DISTINCT r.request, 'refused'::text, NULL::int FROM refused r
    WHERE r.request NOT IN (SELECT request FROM gone)
  UNION ALL
  SELECT o.request, 'full'::text, o.device_id::int FROM over_cap o
    WHERE o.request NOT IN (SELECT request FROM gone);
END;
$$;

-- The acknowledgements' delete of EnvelopeRepository.delete: the rows named by ($1 guid, $2 account_id,
-- $3 device_id) that belong to that device, each found by its guid (unique), then deleted by guid. By guid, not by id
-- or ctid: `envelopes_guid_key` is the only index holding guid, so neither lookup can become a scan of another index
-- (an `id = ANY` condition was planned as a scan of all of (account_id, device_id, id) on an empty table).
CREATE FUNCTION "delete_envelopes"(uuid[], uuid[], smallint[])
RETURNS TABLE ("guid" uuid, "account_id" uuid, "device_id" smallint)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  DELETE FROM envelopes e
  WHERE e.guid = ANY (ARRAY(
          SELECT f.guid FROM unnest($1, $2, $3) AS v (guid, account_id, device_id)
            CROSS JOIN LATERAL (SELECT x.guid, x.account_id, x.device_id FROM envelopes x
                                WHERE x.guid = v.guid OFFSET 0) f
          WHERE f.account_id = v.account_id AND f.device_id = v.device_id))
  RETURNING e.guid, e.account_id, e.device_id;
END;
$$;
