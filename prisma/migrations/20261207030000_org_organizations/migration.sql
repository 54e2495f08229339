-- Organizations (docs/organizations.md): enforced roles and disabling on accounts, the organization key, role
-- certificates, hashed invites and the hash-chained audit log. Additive only.
ALTER TABLE "accounts" ADD COLUMN "role" VARCHAR(16) NOT NULL DEFAULT 'member';
ALTER TABLE "accounts" ADD COLUMN "disabled_at" TIMESTAMPTZ(3);

CREATE TABLE "organization" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "public_key" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "organization_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "role_certificates" (
    "account_id" UUID NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "body" BYTEA NOT NULL,
    "signature" BYTEA NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "role_certificates_pkey" PRIMARY KEY ("account_id")
);

CREATE TABLE "invites" (
    "id" UUID NOT NULL,
    "code_hash" BYTEA NOT NULL,
    "role" VARCHAR(16) NOT NULL DEFAULT 'member',
    "uses" INTEGER NOT NULL,
    "uses_left" INTEGER NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_by" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "invites_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "invites_code_hash_key" ON "invites"("code_hash");

CREATE TABLE "audit_log" (
    "seq" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "event" VARCHAR(40) NOT NULL,
    "actor" VARCHAR(64),
    "target" VARCHAR(64),
    "prev_hash" BYTEA NOT NULL,
    "hash" BYTEA NOT NULL,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("seq")
);
-- One successor per entry: two instances appending at once cannot both chain onto the same predecessor.
CREATE UNIQUE INDEX "audit_log_prev_hash_key" ON "audit_log"("prev_hash");
