/**
 * The table of `test/support/device-coverage-cases.ts` against the real thing, on PostgreSQL and PGlite: the
 * `insertChecked` statement refuses exactly the sends `deviceCoverage` finds wrong (its SQL is the same rule), and
 * `PUT /v1/messages` answers each with `coverageRefusal`'s status and body, byte for byte; `PUT /v1/messages/multi`
 * gives each case, as its only recipient, the same verdict and lists it with the same devices. Races between a send and
 * a device change are `device-races.spec.ts`'s.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { EnvelopeRepository, type CheckedEnvelopeRow } from '../../src/repositories/envelope.repository.js';
import { coverageRefusal } from '../../src/services/device-coverage.js';
import { failedResult } from '../../src/services/result.mapper.js';
import { COVERAGE_CASES, type CoverageCase } from '../support/device-coverage-cases.js';
import { link, register, startServer, type Backend, type TestDevice, type TestServer } from '../support/harness.js';

/** No queue cap gets in the way of the device check. */
const NO_CAPS = { envelopes: 1_000_000, bytes: 1_000_000_000 };

function defineDeviceCoverage(backend: Backend): void {
  describe(`device coverage on ${backend}`, () => {
    let server: TestServer;
    let alice: TestDevice;

    beforeAll(async () => {
      server = await startServer(backend, { RATE_LIMITS: 'off' });
      alice = await register(server);
    }, 180_000);

    afterAll(async () => {
      await server?.close();
    }, 60_000);

    /** A recipient with exactly the case's devices and registration ids; the sender, per the case. */
    const seat = async (c: CoverageCase): Promise<{ recipient: TestDevice; from: TestDevice }> => {
      const recipient = await register(server);
      for (let i = 2; i <= c.current.length; i++) await link(recipient);
      for (const [deviceId, registrationId] of c.current) {
        await server.query('UPDATE devices SET registration_id = $1 WHERE account_id = $2 AND id = $3', [
          registrationId,
          recipient.accountId,
          deviceId,
        ]);
      }
      return { recipient, from: c.toSelf ? recipient : alice };
    };

    it.each(COVERAGE_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
      const { recipient, from } = await seat(c);
      const rows: CheckedEnvelopeRow[] = c.addressed.map((d) => ({
        request: 0,
        registrationId: d.registrationId,
        guid: randomUUID(),
        accountId: recipient.accountId,
        deviceId: d.deviceId,
        type: 'whisper',
        sourceAccountId: from.accountId,
        sourceDeviceId: from.deviceId,
        timestamp: 1,
        serverTimestamp: 1,
        urgent: true,
        content: new Uint8Array(4),
      }));
      const skipped = await server.running.app.get(EnvelopeRepository).insertChecked(rows, NO_CAPS);
      expect(skipped.refused.has(0)).toBe(c.status !== 200);
      await server.query('DELETE FROM envelopes WHERE account_id = $1', [recipient.accountId]);

      const res = await from.request('PUT', `/v1/messages/${recipient.accountId}`, {
        timestamp: 1,
        messages: c.addressed.map((d) => ({
          type: 'whisper',
          destinationDeviceId: d.deviceId,
          destinationRegistrationId: d.registrationId,
          content: 'AAAA',
        })),
      });
      const refusal = coverageRefusal(c.expected);
      if (!refusal) {
        expect(res.status).toBe(200);
        return;
      }
      const expected = failedResult(refusal);
      expect(res.status).toBe(expected.status);
      expect(JSON.stringify(res.body)).toBe(JSON.stringify(expected.body));
      const stored = await server.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1',
        [recipient.accountId],
      );
      expect(stored[0]?.n).toBe(0);
    });

    /** The same rule for one recipient of a multi-recipient send: the same verdict, as that recipient's entry. */
    it.each(COVERAGE_CASES.filter((c) => c.addressed.length > 0).map((c) => [c.name, c] as const))(
      'multi-recipient: %s',
      async (_, c) => {
        const { recipient, from } = await seat(c);
        const res = await from.request('PUT', '/v1/messages/multi', {
          type: 'senderkey',
          content: 'AAAA',
          timestamp: 1,
          recipients: [{ accountId: recipient.accountId, devices: c.addressed }],
        });
        const stored = await server.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1',
          [recipient.accountId],
        );
        if (c.status === 200) {
          expect(res.status).toBe(200);
          expect(stored[0]?.n).toBe(c.addressed.length);
          return;
        }
        expect(res.status).toBe(c.status);
        expect(res.body.accounts).toEqual([
          c.status === 409
            ? { accountId: recipient.accountId, ...c.expected }
            : { accountId: recipient.accountId, staleDevices: c.expected.staleDevices },
        ]);
        expect(stored[0]?.n).toBe(0);
      },
    );
  });
}

defineDeviceCoverage('postgres');
defineDeviceCoverage('pglite');
