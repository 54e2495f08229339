-- AlterTable
ALTER TABLE "envelopes" ALTER COLUMN "type" SET DATA TYPE VARCHAR(32),
ALTER COLUMN "source_account_id" DROP NOT NULL,
ALTER COLUMN "source_device_id" DROP NOT NULL;
