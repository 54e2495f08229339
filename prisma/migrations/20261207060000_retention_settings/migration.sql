-- Retention overrides set in the admin console (docs/operations.md): one row; null falls back to the environment.
CREATE TABLE "retention_settings" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "envelope_ttl_ms" BIGINT,
    "attachment_ttl_ms" BIGINT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "retention_settings_pkey" PRIMARY KEY ("id")
);
