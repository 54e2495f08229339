-- AlterTable
ALTER TABLE "accounts" ADD COLUMN     "unidentified_access_key" BYTEA,
ADD COLUMN     "unrestricted_unidentified_access" BOOLEAN NOT NULL DEFAULT false;
