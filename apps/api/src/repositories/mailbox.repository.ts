/**
 * Read-mostly views over the envelope queues for push and retention: what is waiting for one device, which
 * subscribed devices have waiting envelopes but no (recent) wake-up, purging envelopes past their lifetime (and shared
 * payloads left without envelopes), and counting idle devices. Sending, paging and acknowledging envelopes belong to the envelope repository.
 */
import { Injectable } from '@nestjs/common';

import { DatabaseRepository } from './database.repository.js';
import { DELIVERED_CONTENT, ENVELOPE_LOCK_ORDER, type EnvelopeRecord } from './envelope.repository.js';

export type PendingSummary = {
  count: number;
  /** Server timestamps (ms) of the newest envelope and of the newest urgent one. */
  newestAt: number | null;
  newestUrgentAt: number | null;
};

/** Everything a wake-up decision needs, read in one statement. */
export type WakeContext = {
  subscription: { endpoint: string; p256dh: string; auth: string; wokenAt: Date | null; wokenUrgent: boolean };
  pending: PendingSummary;
  /** The oldest waiting envelope, as stored (content as bytes). */
  oldest: EnvelopeRecord | null;
};

/** Rows deleted per statement when purging, so a large purge never holds long locks on the hot table. */
const PURGE_CHUNK = 5_000;

@Injectable()
export class MailboxRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Counts for the admin console's status: envelopes waiting in all queues, accounts and devices. Numbers only. */
  async totals(): Promise<{ envelopes: number; accounts: number; devices: number }> {
    const [row] = await this.db.sql.query<{ envelopes: number; accounts: number; devices: number }>(
      `SELECT (SELECT count(*) FROM envelopes)::int AS envelopes,
              (SELECT count(*) FROM accounts WHERE disabled_at IS NULL)::int AS accounts,
              (SELECT count(*) FROM devices)::int AS devices`,
    );
    return { envelopes: row?.envelopes ?? 0, accounts: row?.accounts ?? 0, devices: row?.devices ?? 0 };
  }

  async pending(accountId: string, deviceId: number): Promise<PendingSummary> {
    const [row] = await this.db.sql.query<{ n: number; newest: number | null; newest_urgent: number | null }>(
      `SELECT count(*)::int AS n, max(server_timestamp)::float8 AS newest,
              max(server_timestamp) FILTER (WHERE urgent)::float8 AS newest_urgent
       FROM envelopes WHERE account_id = $1::uuid AND device_id = $2::smallint`,
      [accountId, deviceId],
    );
    return { count: row?.n ?? 0, newestAt: row?.newest ?? null, newestUrgentAt: row?.newest_urgent ?? null };
  }

  /** The device's subscription, its waiting-envelope summary and oldest envelope; null without a subscription. */
  async wakeContext(accountId: string, deviceId: number): Promise<WakeContext | null> {
    const [row] = await this.db.sql.query<{
      endpoint: string;
      p256dh: string;
      auth: string;
      woken_at: Date | string | null;
      woken_urgent: boolean;
      n: number;
      newest: number | null;
      newest_urgent: number | null;
      guid: string | null;
      type: string | null;
      source_account_id: string | null;
      source_device_id: number | null;
      timestamp: number | null;
      server_timestamp: number | null;
      content: Uint8Array | null;
    }>(
      `SELECT s.endpoint, s.p256dh, s.auth, s.woken_at, s.woken_urgent, q.n, q.newest, q.newest_urgent,
              o.guid, o.type, o.source_account_id, o.source_device_id, o.timestamp::float8 AS timestamp,
              o.server_timestamp::float8 AS server_timestamp, o.delivered AS content
       FROM push_subscriptions s
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS n, max(e.server_timestamp)::float8 AS newest,
                max(e.server_timestamp) FILTER (WHERE e.urgent)::float8 AS newest_urgent
         FROM envelopes e WHERE e.account_id = s.account_id AND e.device_id = s.device_id) q
       LEFT JOIN LATERAL (
         SELECT e.*, ${DELIVERED_CONTENT} AS delivered FROM envelopes e
         WHERE e.account_id = s.account_id AND e.device_id = s.device_id
         ORDER BY e.id LIMIT 1) o ON true
       WHERE s.account_id = $1::uuid AND s.device_id = $2::smallint`,
      [accountId, deviceId],
    );
    if (!row) return null;
    return {
      subscription: {
        endpoint: row.endpoint,
        p256dh: row.p256dh,
        auth: row.auth,
        wokenAt: row.woken_at === null ? null : new Date(row.woken_at),
        wokenUrgent: row.woken_urgent,
      },
      pending: { count: row.n, newestAt: row.newest, newestUrgentAt: row.newest_urgent },
      oldest:
        row.guid === null || row.content === null
          ? null
          : {
              guid: row.guid,
              type: row.type ?? '',
              sourceAccountId: row.source_account_id,
              sourceDeviceId: row.source_device_id,
              timestamp: row.timestamp ?? 0,
              serverTimestamp: row.server_timestamp ?? 0,
              content: row.content,
            },
    };
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

  /**
   * Deletes envelopes accepted before `before` (ms); returns how many. Each chunk picks its rows (unlocked, in any
   * order), then locks them sorted in {@link ENVELOPE_LOCK_ORDER} (`ORDER BY … FOR UPDATE` locks each row as the sort
   * returns it, skipping rows deleted meanwhile) before its DELETE takes them: all its row locks are taken in the
   * order every deleting statement follows, so it cannot deadlock with acknowledgements or removals on those rows.
   */
  async purgeAcceptedBefore(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.db.sql.query<{ n: number }>(
        `WITH deleted AS (
           DELETE FROM envelopes e
           WHERE e.id = ANY (ARRAY(
                   SELECT x.id FROM envelopes x
                   WHERE x.id = ANY (ARRAY(SELECT id FROM envelopes WHERE server_timestamp < $1::bigint
                                           LIMIT ${PURGE_CHUNK}))
                   ORDER BY x.${ENVELOPE_LOCK_ORDER} FOR UPDATE))
           RETURNING 1)
         SELECT count(*)::int AS n FROM deleted`,
        [before],
      );
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n < PURGE_CHUNK) return total;
    }
  }

  /**
   * Deletes shared payloads no envelope row references any more: those whose last rows were deleted by two
   * transactions at once (each saw the other's row, so neither's trigger removed the payload). A payload is inserted
   * in the same statement as its rows, so one without rows is never about to get some. Returns how many.
   */
  async purgeOrphanPayloads(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.db.sql.query<{ n: number }>(
        `WITH doomed AS (SELECT p.id FROM shared_payloads p
                         WHERE NOT EXISTS (SELECT 1 FROM envelopes e WHERE e.payload_id = p.id)
                         LIMIT ${PURGE_CHUNK}),
              deleted AS (DELETE FROM shared_payloads p USING doomed d WHERE p.id = d.id
                          AND NOT EXISTS (SELECT 1 FROM envelopes e WHERE e.payload_id = p.id) RETURNING 1)
         SELECT count(*)::int AS n FROM deleted`,
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
