-- The group commit's third hot statement, the multi-recipient insert of EnvelopeRepository.insertMulti (its rules
-- documented there), as a function like the two of `20261207153000_group_commit_functions`, with the same settings
-- pinned for the same reasons (that migration explains them): PostgreSQL plans it once per connection instead of
-- once per batch, and the plan reaches every table through index conditions only, so a plan made while the tables
-- were empty stays index probes as they grow. The rows come as one array per column: $1, $2 the queue caps
-- (envelopes, bytes); $3–$11 the sends (request, type, source account and device, timestamp, server timestamp,
-- urgent, store, the shared ciphertext); $12–$17 their target devices (request, guid, account, device, expected
-- registration id, the device's own part: empty when it has none).
--
-- The sending devices' lock (`senders`, `gone`), the destination accounts' devices (`current`) and the queue count
-- (`queued`) are written again here, not shared with `insert_checked_envelopes` through a function both call. The
-- lock cannot be: such a function would either be a SQL function inlined into each statement, which PostgreSQL does
-- only for a non-volatile one, and a non-volatile function may not lock rows (`FOR KEY SHARE`), or run as a statement
-- of its own, with its own snapshot, where each insert now checks devices, locks senders and inserts in one snapshot.
-- The other two could be inlined SQL functions, but `insert_checked_envelopes` would then have to be created again
-- here, whole (a migration once applied is not edited), which copies more text than it saves.
--
-- Each table access is a restriction on one table, as in the checked insert: devices by key in LATERAL subqueries
-- (OFFSET 0 keeps each a probe per account instead of a semi-join over all of `devices`), each target device's queue
-- counted by an index scan of (account_id, device_id, id) reading at most $1 + 1 rows, without ORDER BY (the count
-- needs none: past $1 rows the device is over the cap whichever rows were read; below, all are read), and each
-- queued envelope's shared payload by its key. A payload's id is drawn from its sequence first, so that the
-- envelope rows of the same statement can reference it.
CREATE FUNCTION "insert_multi_envelopes"(
  bigint, bigint, int[], varchar[], uuid[], smallint[], bigint[], bigint[], boolean[], boolean[], bytea[],
  int[], uuid[], uuid[], smallint[], int[], bytea[])
RETURNS TABLE ("request" int, "kind" text, "account_id" uuid, "device_id" int)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH sends AS (
         SELECT * FROM unnest($3, $4, $5, $6, $7, $8, $9, $10, $11)
           AS s (request, type, source_account_id, source_device_id, timestamp, server_timestamp, urgent, store,
                 content)),
       input AS (
         SELECT * FROM unnest($12, $13, $14, $15, $16, $17)
           AS t (request, guid, account_id, device_id, registration_id, own)),
       senders AS (SELECT d.account_id, d.id FROM (SELECT DISTINCT source_account_id, source_device_id FROM sends) s
                     CROSS JOIN LATERAL (SELECT d.account_id, d.id FROM devices d
                                         WHERE d.account_id = s.source_account_id AND d.id = s.source_device_id
                                         FOR KEY SHARE) d),
       gone AS (SELECT s.request FROM sends s
                WHERE s.source_account_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM senders d
                                  WHERE d.account_id = s.source_account_id AND d.id = s.source_device_id)),
       current AS (SELECT d.account_id, d.id, d.registration_id FROM (SELECT DISTINCT account_id FROM input) s
                     CROSS JOIN LATERAL (SELECT d.account_id, d.id, d.registration_id FROM devices d
                                         WHERE d.account_id = s.account_id OFFSET 0) d),
       refused AS (
         SELECT i.request FROM input i JOIN sends s ON s.request = i.request
           LEFT JOIN current c ON c.account_id = i.account_id AND c.id = i.device_id
           WHERE c.id IS NULL OR c.registration_id <> i.registration_id
              OR (i.account_id = s.source_account_id AND i.device_id = s.source_device_id)
         UNION
         SELECT r.request FROM (SELECT DISTINCT request, account_id FROM input) r
           JOIN sends s ON s.request = r.request
           JOIN current c ON c.account_id = r.account_id
           WHERE NOT coalesce(c.account_id = s.source_account_id AND c.id = s.source_device_id, false)
             AND NOT EXISTS (SELECT 1 FROM input i
                             WHERE i.request = r.request AND i.account_id = c.account_id AND i.device_id = c.id)
       ),
       accepted AS (SELECT * FROM sends
                    WHERE request NOT IN (SELECT request FROM refused) AND request NOT IN (SELECT request FROM gone)),
       targets AS (SELECT i.request, i.guid, i.account_id, i.device_id, i.own,
                          octet_length(a.content) + octet_length(i.own) AS bytes
                   FROM input i JOIN accepted a ON a.request = i.request WHERE a.store),
       queued AS (
         SELECT d.account_id, d.device_id, q.n, q.bytes
         FROM (SELECT DISTINCT account_id, device_id FROM targets) d
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
         SELECT request, account_id, device_id FROM (
           SELECT t.request, t.account_id, t.device_id,
                  coalesce(q.n, 0) + count(*) OVER w AS n,
                  coalesce(q.bytes, 0) + sum(t.bytes) OVER w AS bytes
           FROM targets t LEFT JOIN queued q ON q.account_id = t.account_id AND q.device_id = t.device_id
           WINDOW w AS (PARTITION BY t.account_id, t.device_id ORDER BY t.request)
         ) cumulative
         WHERE n > $1 OR bytes > $2
       ),
       storing AS (
         SELECT t.* FROM targets t
         WHERE NOT EXISTS (SELECT 1 FROM over_cap o WHERE o.request = t.request AND o.account_id = t.account_id
                                                    AND o.device_id = t.device_id)
       ),
       payload_ids AS MATERIALIZED (
         SELECT a.request, nextval(pg_get_serial_sequence('shared_payloads', 'id')) AS id FROM accepted a
         WHERE a.request IN (SELECT request FROM storing)
       ),
       payloads AS (
         INSERT INTO shared_payloads (id, content)
         SELECT p.id, a.content FROM payload_ids p JOIN accepted a ON a.request = p.request
         RETURNING 1
       ),
       stored AS (
         INSERT INTO envelopes (guid, account_id, device_id, type, source_account_id, source_device_id, timestamp,
                                server_timestamp, urgent, content, payload_id)
         SELECT s.guid, s.account_id, s.device_id, a.type, a.source_account_id, a.source_device_id, a.timestamp,
                a.server_timestamp, a.urgent, s.own, p.id
         FROM storing s JOIN accepted a ON a.request = s.request JOIN payload_ids p ON p.request = s.request
         ORDER BY s.request, s.account_id, s.device_id
         RETURNING 1
       )
  SELECT g.request, 'gone'::text, NULL::uuid, NULL::int FROM gone g
  UNION ALL
  SELECT DISTINCT r.request, 'refused'::text, NULL::uuid, NULL::int FROM refused r
    WHERE r.request NOT IN (SELECT request FROM gone)
  UNION ALL
  SELECT o.request, 'full'::text, o.account_id, o.device_id::int FROM over_cap o;
END;
$$;
