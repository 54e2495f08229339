-- CreateTable
CREATE TABLE "profiles" (
    "account_id" UUID NOT NULL,
    "version" VARCHAR(64) NOT NULL,
    "name" BYTEA,
    "about" BYTEA,
    "avatar" BYTEA,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "profiles_pkey" PRIMARY KEY ("account_id")
);

-- AddForeignKey
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
