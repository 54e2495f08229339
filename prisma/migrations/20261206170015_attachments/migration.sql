-- CreateTable
CREATE TABLE "attachments" (
    "id" VARCHAR(64) NOT NULL,
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "size" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "attachments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "attachments_account_id_idx" ON "attachments"("account_id");

-- CreateIndex
CREATE INDEX "attachments_created_at_idx" ON "attachments"("created_at");

-- CreateIndex
CREATE INDEX "attachments_completed_at_idx" ON "attachments"("completed_at");
