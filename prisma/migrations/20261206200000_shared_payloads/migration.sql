-- CreateTable
CREATE TABLE "shared_payloads" (
    "id" BIGSERIAL NOT NULL,
    "content" BYTEA NOT NULL,

    CONSTRAINT "shared_payloads_pkey" PRIMARY KEY ("id")
);

-- AlterTable
ALTER TABLE "envelopes" ADD COLUMN     "payload_id" BIGINT;

-- CreateIndex
CREATE INDEX "envelopes_payload_id_idx" ON "envelopes"("payload_id");

-- AddForeignKey
ALTER TABLE "envelopes" ADD CONSTRAINT "envelopes_payload_id_fkey" FOREIGN KEY ("payload_id") REFERENCES "shared_payloads"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A shared payload (one multi-recipient ciphertext) goes with its last envelope row, whatever deleted the rows
-- (acknowledgement, expiry, a device or account removed, by cascade): one statement-level trigger, in the deleting
-- statement's transaction. Two transactions deleting the last rows of one payload at the same moment do not see each
-- other's deletions and may both leave it; the retention job removes such payloads (they are never read: no row
-- references them).
CREATE FUNCTION "delete_unreferenced_shared_payloads"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "shared_payloads" p
  WHERE p."id" IN (SELECT DISTINCT o."payload_id" FROM "old_envelopes" o WHERE o."payload_id" IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM "envelopes" e WHERE e."payload_id" = p."id");
  RETURN NULL;
END;
$$;

CREATE TRIGGER "envelopes_delete_shared_payloads"
AFTER DELETE ON "envelopes"
REFERENCING OLD TABLE AS "old_envelopes"
FOR EACH STATEMENT EXECUTE FUNCTION "delete_unreferenced_shared_payloads"();
