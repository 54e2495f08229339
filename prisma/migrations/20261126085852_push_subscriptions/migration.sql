-- CreateTable
CREATE TABLE "push_subscriptions" (
    "account_id" UUID NOT NULL,
    "device_id" SMALLINT NOT NULL,
    "endpoint" VARCHAR(2048) NOT NULL,
    "p256dh" VARCHAR(128) NOT NULL,
    "auth" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "woken_at" TIMESTAMPTZ(3),
    "woken_urgent" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "push_subscriptions_pkey" PRIMARY KEY ("account_id","device_id")
);

-- AddForeignKey
ALTER TABLE "push_subscriptions" ADD CONSTRAINT "push_subscriptions_account_id_device_id_fkey" FOREIGN KEY ("account_id", "device_id") REFERENCES "devices"("account_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;
