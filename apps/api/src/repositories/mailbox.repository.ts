/**
 * Read-mostly views over the envelope queues for push and retention: what is waiting for one device, which
 * subscribed devices have waiting envelopes but no (recent) wake-up, purging envelopes past their lifetime, and
 * counting idle devices. Sending, paging and acknowledging envelopes belong to the envelope repository.
 */
import { Injectable } from '@nestjs/common';

import { DatabaseRepository } from './database.repository.js';

export type PendingSummary = {
  count: number;
  /** Server timestamps (ms) of the newest envelope and of the newest urgent one. */
  newestAt: number | null;
  newestUrgentAt: number | null;
};

/** Rows deleted per statement when purging, so a large purge never holds long locks on the hot table. */
const PURGE_CHUNK = 5_000;

@Injectable()
export class MailboxRepository {
  constructor(private readonly db: DatabaseRepository) {}

  async pending(accountId: string, deviceId: number): Promise<PendingSummary> {
    const [row] = await this.db.sql.query<{ n: number; newest: number | null; newest_urgent: number | null }>(
      `SELECT count(*)::int AS n, max(server_timestamp)::float8 AS newest,
              max(server_timestamp) FILTER (WHERE urgent)::float8 AS newest_urgent
       FROM envelopes WHERE account_id = $1::uuid AND device_id = $2::smallint`,
      [accountId, deviceId],
    );
    return { count: row?.n ?? 0, newestAt: row?.newest ?? null, newestUrgentAt: row?.newest_urgent ?? null };
  }

  /**
   * Subscribed devices that should have been woken: never woken and with an envelope older than `unwokenBefore`,
   * or woken before `renotifyBefore` and with an envelope newer than that wake-up.
   */
  async awaitingWake(
    unwokenBefore: number,
    renotifyBefore: Date,
    limit: number,
  ): Promise<Array<{ accountId: string; deviceId: number }>> {
    const rows = await this.db.sql.query<{ account_id: string; device_id: number }>(
      `SELECT s.account_id, s.device_id FROM push_subscriptions s
       WHERE (s.woken_at IS NULL AND EXISTS (
                SELECT 1 FROM envelopes e WHERE e.account_id = s.account_id AND e.device_id = s.device_id
                AND e.server_timestamp < $1::bigint))
          OR (s.woken_at < $2::timestamptz AND EXISTS (
                SELECT 1 FROM envelopes e WHERE e.account_id = s.account_id AND e.device_id = s.device_id
                AND e.server_timestamp > (extract(epoch FROM s.woken_at) * 1000)::bigint))
       LIMIT $3`,
      [unwokenBefore, renotifyBefore.toISOString(), limit],
    );
    return rows.map((r) => ({ accountId: r.account_id, deviceId: r.device_id }));
  }

  /** Deletes envelopes accepted before `before` (ms); returns how many. */
  async purgeAcceptedBefore(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.db.sql.query<{ n: number }>(
        `WITH doomed AS (SELECT id FROM envelopes WHERE server_timestamp < $1::bigint LIMIT ${PURGE_CHUNK}),
              deleted AS (DELETE FROM envelopes e USING doomed d WHERE e.id = d.id RETURNING 1)
         SELECT count(*)::int AS n FROM deleted`,
        [before],
      );
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n < PURGE_CHUNK) return total;
    }
  }

  /** Devices not seen since `before`, and how many envelopes wait for them. */
  async idleDevices(before: Date): Promise<{ devices: number; envelopes: number }> {
    const [row] = await this.db.sql.query<{ devices: number; envelopes: number }>(
      `SELECT count(*)::int AS devices,
              coalesce(sum((SELECT count(*) FROM envelopes e
                            WHERE e.account_id = d.account_id AND e.device_id = d.id)), 0)::int AS envelopes
       FROM devices d WHERE d.last_seen_at < $1::timestamptz`,
      [before.toISOString()],
    );
    return { devices: row?.devices ?? 0, envelopes: row?.envelopes ?? 0 };
  }
}
