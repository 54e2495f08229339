-- The trigger that deletes a shared payload with its last envelope row (`20261206200000_shared_payloads`) reaches
-- both tables through index conditions only, so that its plan stays probes under the settings of the group commit's
-- functions. It fires inside `delete_envelopes`, whose pinned settings (`20261207153000_group_commit_functions`)
-- hold for it too: its plan is cached for the connection and may not use a sequential scan. Made while the tables
-- were small, that plan read the whole primary key of `shared_payloads` and the whole `payload_id` index of
-- `envelopes` (a merge anti-join) for every acknowledgement batch, even one of one-to-one envelopes with no payload:
-- 20,000 rows read per batch once as many payloads were queued (test/delivery/group-commit-plan.spec.ts). Here the
-- payloads are looked up by their ids (`= ANY` of the deleted rows' payload ids, an index condition) and each one's
-- remaining rows by a subquery that OFFSET 0 keeps a probe of `envelopes_payload_id_idx` per payload, instead of a
-- join PostgreSQL may plan as a scan. The rule is unchanged: a payload no row references any more is deleted.
CREATE OR REPLACE FUNCTION "delete_unreferenced_shared_payloads"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "shared_payloads" p
  WHERE p."id" = ANY (ARRAY(SELECT DISTINCT o."payload_id" FROM "old_envelopes" o WHERE o."payload_id" IS NOT NULL))
    AND NOT EXISTS (SELECT 1 FROM "envelopes" e WHERE e."payload_id" = p."id" OFFSET 0);
  RETURN NULL;
END;
$$;
