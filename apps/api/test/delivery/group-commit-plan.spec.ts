/**
 * The group commit's prepared statements on PostgreSQL run their cached generic plan from the first batch on: the
 * pool's sessions set `plan_cache_mode` (database.repository.ts), without which PostgreSQL planned the checked insert
 * anew for every batch. Checked on the session itself (`pg_prepared_statements` counts its generic and custom
 * executions) with a pool of one connection, so the statements and the check share it. PGlite prepares nothing.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { EnvelopeRepository, type CheckedEnvelopeRow } from '../../src/repositories/envelope.repository.js';
import { register, startServer, type TestDevice, type TestServer } from '../support/harness.js';

const CAPS = { envelopes: 1_000, bytes: 10_000_000 };
/** More executions than the five custom plans PostgreSQL's `auto` mode tries before it compares. */
const BATCHES = 8;

type PlanCounts = { name: string; generic_plans: string; custom_plans: string };

describe('group commit statements on PostgreSQL', () => {
  let server: TestServer;
  let alice: TestDevice;
  let bob: TestDevice;

  beforeAll(async () => {
    server = await startServer('postgres', { DATABASE_POOL_SIZE: '1' });
    alice = await register(server);
    bob = await register(server);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should run the checked insert and the ack delete on their generic plans, never planning per batch', async () => {
    const envelopes = server.running.app.get(EnvelopeRepository);
    for (let batch = 0; batch < BATCHES; batch++) {
      const rows: CheckedEnvelopeRow[] = [0, 1, 2].map((request) => ({
        request,
        registrationId: bob.registrationId,
        guid: randomUUID(),
        accountId: bob.accountId,
        deviceId: bob.deviceId,
        type: 'whisper',
        sourceAccountId: alice.accountId,
        sourceDeviceId: alice.deviceId,
        timestamp: 1 + batch,
        serverTimestamp: 1 + batch,
        urgent: true,
        content: new Uint8Array(16),
      }));
      const skipped = await envelopes.insertChecked(rows, CAPS);
      expect([skipped.refused.size, skipped.full.size, skipped.senderGone.size]).toEqual([0, 0, 0]);
      const deleted = await envelopes.delete(
        rows.map((r) => ({ accountId: r.accountId, deviceId: r.deviceId, guid: r.guid })),
      );
      expect(deleted.size).toBe(rows.length);
    }
    const counts = await server.query<PlanCounts>(
      `SELECT name, generic_plans::text, custom_plans::text FROM pg_prepared_statements
       WHERE name IN ('cove_envelopes_insert_checked', 'cove_envelopes_delete') ORDER BY name`,
    );
    expect(counts).toEqual([
      { name: 'cove_envelopes_delete', generic_plans: String(BATCHES), custom_plans: '0' },
      { name: 'cove_envelopes_insert_checked', generic_plans: String(BATCHES), custom_plans: '0' },
    ]);
  }, 60_000);
});
