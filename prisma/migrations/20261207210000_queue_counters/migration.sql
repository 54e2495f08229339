-- CreateTable
CREATE TABLE "queue_counters" (
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "envelopes" INTEGER NOT NULL DEFAULT 0,
    "bytes" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "queue_counters_pkey" PRIMARY KEY ("account_id","device_id")
);

-- AddForeignKey
ALTER TABLE "queue_counters" ADD CONSTRAINT "queue_counters_account_id_device_id_fkey" FOREIGN KEY ("account_id", "device_id") REFERENCES "devices"("account_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Per-device queue counters, so that the queue caps (MAX_QUEUED_ENVELOPES, MAX_QUEUED_BYTES) are checked by reading
-- one row per destination device instead of counting its queue (an index scan of up to the cap + 1 envelopes and a
-- probe of each one's shared payload: 4.5 ms of PostgreSQL CPU per send to a device with 9,400 queued). The rule is
-- unchanged: `envelopes` is the device's count(*) of queued rows and `bytes` their sum of QUEUED_BYTES (own content
-- plus the shared payload's, EnvelopeRepository), which the checks of the new `insert_checked_envelopes` and
-- `insert_multi_envelopes` below compare with the caps exactly as the old ones compared the counts.
--
-- Kept exact by triggers on the tables, not by the statements that write them, because envelopes are added and
-- removed by many statements: the two send functions and `EnvelopeRepository.insert`, the acknowledgements' delete,
-- the retention sweep, the cascades of a device's or account's removal (and tests' own statements). A trigger
-- covers them all, in the writing statement's transaction, including writes added later:
--   * a device's row is created with the device (`devices_create_queue_counters`) and goes with it (the cascade of
--     the foreign key above), so a device that exists always has one to lock;
--   * inserted and deleted envelopes are added and subtracted per device by statement-level triggers with
--     transition tables (one UPDATE per device per statement, not per row); the delete trigger's name sorts before
--     `envelopes_delete_shared_payloads` (same-event triggers fire in name order), so the payloads whose length it
--     subtracts still exist; a payload is immutable, so the bytes subtracted are the bytes added;
--   * TRUNCATE empties every queue, so it zeroes every counter;
--   * an UPDATE of a column the counters depend on (device, content, payload) is refused: nothing updates them.
--
-- Locks, and why they cannot deadlock with each other. Every writer takes its locks in one order: device rows, then
-- envelope rows, then counter rows, and counter rows within one statement in ascending (account_id, device_id):
--   * a send (either function) locks the sending device (FOR KEY SHARE, as before), then every destination device
--     (FOR KEY SHARE: the lock the insert's foreign-key check would take later anyway), all of them before any
--     counter (the counters are read from a sort of the locked devices, and a sort reads all its input before it
--     returns a row), then the destination devices' counters (FOR NO KEY UPDATE) in ascending order. It holds them
--     to its commit, so a second send to the same device waits and then reads the first one's total: the cap now
--     holds exactly across connections and instances (before, two concurrent batches could each fill the same
--     queue). Its own insert trigger then updates counters it already holds;
--   * an acknowledgement batch or a sweep deletes envelope rows, then its trigger locks the counters of the
--     devices it deleted from in ascending order and updates them: it holds no device row, and waits for a counter
--     only after all of its row locks are taken;
--   * a device's removal holds the device row (FOR UPDATE), deletes its envelopes by cascade, then its counter.
--
-- Why no cycle goes through a counter. A transaction waiting for a counter holds only (a) device locks, (b) envelope
-- rows it deleted, and (c) counters below the awaited one (every statement locks its counters in ascending order) or,
-- for a removal of several devices (an account's), the counters of removed devices whose cascades ran already: each
-- device's cascade deletes all its rows, then locks its counter, and no one else can lock a removed device's rows or
-- counter any more (a send needs the device's key-share lock, which the removal's FOR UPDATE excludes, and the
-- rows are gone). Whoever holds the awaited counter is a send, a deleting statement past its deletions, or a removal
-- in its cascade; for it to wait back on (a), (b) or (c): it cannot wait on (c), since it too takes counters in
-- ascending order and holds the higher one; it cannot wait on (b), since a send never touches existing rows and a
-- deleting statement takes counters only after all its row locks; and it cannot wait on (a), since a send takes all
-- its device locks before its first counter (and key-share locks do not conflict with each other), acknowledgements
-- and sweeps take no device lock, and a removal takes its device row before anything else (a send holding that
-- device's key-share lock makes the removal wait before it holds any counter). The cycles left involve no counter
-- and existed before: two removals of the same devices, and two statements deleting the same envelope rows in
-- different orders (a sweep in the table's order, acknowledgements by guid, a removal's cascade by id), which
-- test/delivery/queue-counters.spec.ts met before it kept their rows apart.
--
-- Exactness under concurrency: increments and decrements are `counter = counter + delta` on the latest version of
-- the row (an UPDATE waits for a concurrent writer and re-reads), so none is lost; every change is in the
-- transaction that added or removed the rows, so a rollback undoes both. The backfill below runs with `devices` and
-- `envelopes` locked against writes (SHARE mode) from before the triggers exist to the end of the migration, so no
-- write slips between the count and the triggers.
--
-- What the server learns: nothing new. Each counter is the count and size of a device's queued rows, which the
-- server could always compute from `envelopes` (and did, on every send).
LOCK TABLE "devices", "envelopes" IN SHARE MODE;

CREATE FUNCTION "create_queue_counters"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "queue_counters" ("account_id", "device_id") SELECT n."account_id", n."id" FROM "new_devices" n;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "devices_create_queue_counters"
AFTER INSERT ON "devices"
REFERENCING NEW TABLE AS "new_devices"
FOR EACH STATEMENT EXECUTE FUNCTION "create_queue_counters"();

-- The counter triggers carry the group commit's pinned settings (`20261207153000_group_commit_functions` explains
-- them): they fire inside those functions with those settings anyway, and outside them (the sweep, a cascade) the
-- same settings keep their plans to index probes: per device, one probe of `queue_counters` to lock and one to
-- update; per shared payload the statement's rows reference, one probe of `shared_payloads` for its length. The
-- transition tables are read whole: they hold the statement's own rows only.
CREATE FUNCTION "count_inserted_envelopes"() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET jit = off
AS $$
BEGIN
  PERFORM FROM (SELECT DISTINCT n."account_id", n."device_id" FROM "new_envelopes" n ORDER BY 1, 2) d
    CROSS JOIN LATERAL (SELECT 1 FROM "queue_counters" q
                        WHERE q."account_id" = d."account_id" AND q."device_id" = d."device_id"
                        FOR NO KEY UPDATE) l;
  UPDATE "queue_counters" q SET "envelopes" = q."envelopes" + a."n", "bytes" = q."bytes" + a."bytes"
  FROM (SELECT n."account_id", n."device_id", count(*)::int AS "n",
               sum(octet_length(n."content") + coalesce(l."length", 0)) AS "bytes"
        FROM "new_envelopes" n
          LEFT JOIN (SELECT x."id", p."length" FROM (SELECT DISTINCT "payload_id" AS "id" FROM "new_envelopes") x
                       CROSS JOIN LATERAL (SELECT octet_length(p."content") AS "length" FROM "shared_payloads" p
                                           WHERE p."id" = x."id" OFFSET 0) p) l ON l."id" = n."payload_id"
        GROUP BY n."account_id", n."device_id") a
  WHERE q."account_id" = a."account_id" AND q."device_id" = a."device_id";
  RETURN NULL;
END;
$$;

CREATE FUNCTION "count_deleted_envelopes"() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET jit = off
AS $$
BEGIN
  PERFORM FROM (SELECT DISTINCT o."account_id", o."device_id" FROM "old_envelopes" o ORDER BY 1, 2) d
    CROSS JOIN LATERAL (SELECT 1 FROM "queue_counters" q
                        WHERE q."account_id" = d."account_id" AND q."device_id" = d."device_id"
                        FOR NO KEY UPDATE) l;
  UPDATE "queue_counters" q SET "envelopes" = q."envelopes" - a."n", "bytes" = q."bytes" - a."bytes"
  FROM (SELECT o."account_id", o."device_id", count(*)::int AS "n",
               sum(octet_length(o."content") + coalesce(l."length", 0)) AS "bytes"
        FROM "old_envelopes" o
          LEFT JOIN (SELECT x."id", p."length" FROM (SELECT DISTINCT "payload_id" AS "id" FROM "old_envelopes") x
                       CROSS JOIN LATERAL (SELECT octet_length(p."content") AS "length" FROM "shared_payloads" p
                                           WHERE p."id" = x."id" OFFSET 0) p) l ON l."id" = o."payload_id"
        GROUP BY o."account_id", o."device_id") a
  WHERE q."account_id" = a."account_id" AND q."device_id" = a."device_id";
  RETURN NULL;
END;
$$;

CREATE FUNCTION "reset_queue_counters"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "queue_counters" SET "envelopes" = 0, "bytes" = 0 WHERE "envelopes" <> 0 OR "bytes" <> 0;
  RETURN NULL;
END;
$$;

CREATE FUNCTION "refuse_counted_envelope_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'an envelope''s device, content and payload are never updated (queue_counters count them)';
END;
$$;

CREATE TRIGGER "envelopes_count_inserted"
AFTER INSERT ON "envelopes"
REFERENCING NEW TABLE AS "new_envelopes"
FOR EACH STATEMENT EXECUTE FUNCTION "count_inserted_envelopes"();

CREATE TRIGGER "envelopes_count_deleted"
AFTER DELETE ON "envelopes"
REFERENCING OLD TABLE AS "old_envelopes"
FOR EACH STATEMENT EXECUTE FUNCTION "count_deleted_envelopes"();

CREATE TRIGGER "envelopes_count_truncated"
AFTER TRUNCATE ON "envelopes"
FOR EACH STATEMENT EXECUTE FUNCTION "reset_queue_counters"();

CREATE TRIGGER "envelopes_refuse_counted_update"
BEFORE UPDATE OF "account_id", "device_id", "content", "payload_id" ON "envelopes"
FOR EACH ROW EXECUTE FUNCTION "refuse_counted_envelope_update"();

-- The backfill: every existing device's counters from its queued rows (the triggers above count from now on).
INSERT INTO "queue_counters" ("account_id", "device_id", "envelopes", "bytes")
SELECT d."account_id", d."id", count(e."id")::int,
       coalesce(sum(octet_length(e."content") + CASE WHEN e."payload_id" IS NULL THEN 0
                      ELSE coalesce((SELECT octet_length(p."content") FROM "shared_payloads" p
                                     WHERE p."id" = e."payload_id"), 0) END), 0)
FROM "devices" d LEFT JOIN "envelopes" e ON e."account_id" = d."account_id" AND e."device_id" = d."id"
GROUP BY d."account_id", d."id";

-- The send functions of `20261207153000_group_commit_functions` and `20261207190000_multi_commit_function`, as they
-- were except for the queue check: instead of counting each destination device's queue (`queued`, an index scan of
-- up to $1 + 1 envelopes), they lock the destination devices (`destinations`, FOR KEY SHARE, by key), then read
-- and lock each one's counter row (FOR NO KEY UPDATE, by key, in ascending (account_id, device_id): the order and
-- its reasons are above). The counter row is read as the latest committed version (a locking read waits for a
-- concurrent writer and re-reads), so `n` and `bytes` are the device's queue as of the lock, and stay so until this
-- transaction commits. Every other CTE, the comparison with the caps (`over_cap`) and the results are unchanged. A
-- destination device removed before the statement began is refused by the device check, as before; one removed
-- while it runs has no row to lock here and fails the insert's foreign-key check, as before.
CREATE OR REPLACE FUNCTION "insert_checked_envelopes"(
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
       destinations AS MATERIALIZED (
         SELECT d.account_id, d.id FROM (SELECT DISTINCT account_id, device_id FROM input) t
           CROSS JOIN LATERAL (SELECT d.account_id, d.id FROM devices d
                               WHERE d.account_id = t.account_id AND d.id = t.device_id
                               FOR KEY SHARE) d),
       queued AS (
         SELECT q.account_id, q.device_id, q.envelopes AS n, q.bytes
         FROM (SELECT account_id, id FROM destinations ORDER BY account_id, id) d
           CROSS JOIN LATERAL (SELECT q.account_id, q.device_id, q.envelopes, q.bytes FROM queue_counters q
                               WHERE q.account_id = d.account_id AND q.device_id = d.id
                               FOR NO KEY UPDATE) q),
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

CREATE OR REPLACE FUNCTION "insert_multi_envelopes"(
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
       destinations AS MATERIALIZED (
         SELECT d.account_id, d.id FROM (SELECT DISTINCT account_id, device_id FROM targets) t
           CROSS JOIN LATERAL (SELECT d.account_id, d.id FROM devices d
                               WHERE d.account_id = t.account_id AND d.id = t.device_id
                               FOR KEY SHARE) d),
       queued AS (
         SELECT q.account_id, q.device_id, q.envelopes AS n, q.bytes
         FROM (SELECT account_id, id FROM destinations ORDER BY account_id, id) d
           CROSS JOIN LATERAL (SELECT q.account_id, q.device_id, q.envelopes, q.bytes FROM queue_counters q
                               WHERE q.account_id = d.account_id AND q.device_id = d.id
                               FOR NO KEY UPDATE) q),
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
