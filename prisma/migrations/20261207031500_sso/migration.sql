-- Single sign-on (REGISTRATION=sso): one account per identity provider subject, sign-ins in progress, and the
-- single-use grants a finished sign-in yields.
ALTER TABLE "accounts" ADD COLUMN "sso_subject" BYTEA;
CREATE UNIQUE INDEX "accounts_sso_subject_key" ON "accounts"("sso_subject");

CREATE TABLE "sso_transactions" (
    "key_hash" BYTEA NOT NULL,
    "kind" VARCHAR(8) NOT NULL,
    "code_verifier" TEXT,
    "nonce" TEXT,
    "device_code" TEXT,
    "interval" INTEGER,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sso_transactions_pkey" PRIMARY KEY ("key_hash")
);
CREATE INDEX "sso_transactions_expires_at_idx" ON "sso_transactions"("expires_at");

CREATE TABLE "sso_grants" (
    "token_hash" BYTEA NOT NULL,
    "username" VARCHAR(32) NOT NULL,
    "subject" BYTEA NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sso_grants_pkey" PRIMARY KEY ("token_hash")
);
CREATE INDEX "sso_grants_expires_at_idx" ON "sso_grants"("expires_at");
