-- CreateTable
CREATE TABLE "account_passwords" (
    "account_id" UUID NOT NULL,
    "record" BYTEA NOT NULL,
    "backup" BYTEA NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_passwords_pkey" PRIMARY KEY ("account_id")
);

-- AddForeignKey
ALTER TABLE "account_passwords" ADD CONSTRAINT "account_passwords_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
