-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "accounts" (
    "id" UUID NOT NULL,
    "identity_key" BYTEA NOT NULL,
    "username" VARCHAR(32),
    "username_key" VARCHAR(32),
    "next_device_id" INTEGER NOT NULL DEFAULT 2,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "devices" (
    "account_id" UUID NOT NULL,
    "id" SMALLINT NOT NULL,
    "registration_id" INTEGER NOT NULL,
    "credential_hash" BYTEA NOT NULL,
    "signed_pre_key_id" INTEGER NOT NULL,
    "signed_pre_key" BYTEA NOT NULL,
    "signed_pre_key_signature" BYTEA NOT NULL,
    "kyber_last_resort_key_id" INTEGER NOT NULL,
    "kyber_last_resort_key" BYTEA NOT NULL,
    "kyber_last_resort_signature" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "devices_pkey" PRIMARY KEY ("account_id","id")
);

-- CreateTable
CREATE TABLE "pre_keys" (
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "key_id" INTEGER NOT NULL,
    "public_key" BYTEA NOT NULL,

    CONSTRAINT "pre_keys_pkey" PRIMARY KEY ("account_id","device_id","key_id")
);

-- CreateTable
CREATE TABLE "kyber_pre_keys" (
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "key_id" INTEGER NOT NULL,
    "public_key" BYTEA NOT NULL,
    "signature" BYTEA NOT NULL,

    CONSTRAINT "kyber_pre_keys_pkey" PRIMARY KEY ("account_id","device_id","key_id")
);

-- CreateTable
CREATE TABLE "envelopes" (
    "id" BIGSERIAL NOT NULL,
    "guid" UUID NOT NULL,
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "type" VARCHAR(16) NOT NULL,
    "source_account_id" UUID NOT NULL,
    "source_device_id" SMALLINT NOT NULL,
    "timestamp" BIGINT NOT NULL,
    "server_timestamp" BIGINT NOT NULL,
    "urgent" BOOLEAN NOT NULL DEFAULT true,
    "content" BYTEA NOT NULL,

    CONSTRAINT "envelopes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "provisioning_codes" (
    "code_hash" BYTEA NOT NULL,
    "account_id" UUID NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "provisioning_codes_pkey" PRIMARY KEY ("code_hash")
);

-- CreateTable
CREATE TABLE "websocket_tickets" (
    "ticket_hash" BYTEA NOT NULL,
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "websocket_tickets_pkey" PRIMARY KEY ("ticket_hash")
);

-- CreateIndex
CREATE UNIQUE INDEX "accounts_username_key_key" ON "accounts"("username_key");

-- CreateIndex
CREATE UNIQUE INDEX "envelopes_guid_key" ON "envelopes"("guid");

-- CreateIndex
CREATE INDEX "envelopes_account_id_device_id_id_idx" ON "envelopes"("account_id", "device_id", "id");

-- CreateIndex
CREATE INDEX "provisioning_codes_expires_at_idx" ON "provisioning_codes"("expires_at");

-- CreateIndex
CREATE INDEX "websocket_tickets_expires_at_idx" ON "websocket_tickets"("expires_at");

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pre_keys" ADD CONSTRAINT "pre_keys_account_id_device_id_fkey" FOREIGN KEY ("account_id", "device_id") REFERENCES "devices"("account_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "kyber_pre_keys" ADD CONSTRAINT "kyber_pre_keys_account_id_device_id_fkey" FOREIGN KEY ("account_id", "device_id") REFERENCES "devices"("account_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "envelopes" ADD CONSTRAINT "envelopes_account_id_device_id_fkey" FOREIGN KEY ("account_id", "device_id") REFERENCES "devices"("account_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "provisioning_codes" ADD CONSTRAINT "provisioning_codes_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "websocket_tickets" ADD CONSTRAINT "websocket_tickets_account_id_device_id_fkey" FOREIGN KEY ("account_id", "device_id") REFERENCES "devices"("account_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;
