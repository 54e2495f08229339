/**
 * The rule "a send covers exactly the recipient's current devices" on one table of cases
 * (`test/support/device-coverage-cases.ts`): the pure `deviceCoverage` computes the expected missing, extra and
 * stale devices; the in-memory twin of `insertChecked` (its own reading of the statement's contract) refuses exactly
 * the sends the function finds wrong; the message service answers each with `coverageRefusal`'s status and body. The
 * same table runs against the real statement and HTTP in `test/limits/device-coverage.spec.ts`.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@cove/protocol';

import type { CheckedEnvelopeRow } from '../../src/repositories/envelope.repository.js';
import type { AuthenticatedDevice } from '../../src/services/auth.service.js';
import { coverageRefusal, coversExactly, deviceCoverage } from '../../src/services/device-coverage.js';
import { failedResult, okResult } from '../../src/services/result.mapper.js';
import { COVERAGE_CASES, type CoverageCase } from '../support/device-coverage-cases.js';
import { newUnitContext, type UnitContext } from './support/unit-context.js';

/** No queue cap gets in the way of the device check. */
const NO_CAPS = { envelopes: 1_000_000, bytes: 1_000_000_000 };

describe('device coverage', () => {
  describe(deviceCoverage.name, () => {
    it.each(COVERAGE_CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
      const coverage = deviceCoverage(new Map(c.current), c.addressed, { toSelf: c.toSelf, sourceDeviceId: 1 });
      expect(coverage).toEqual(c.expected);
      expect(coversExactly(coverage)).toBe(c.status === 200);
      expect(coverageRefusal(coverage)?.getStatus() ?? 200).toBe(c.status);
    });

    it('should answer 409 with missing and extra devices, 410 with stale ones', () => {
      const mismatched = coverageRefusal({ missingDevices: [2], extraDevices: [4], staleDevices: [1] });
      expect(mismatched && failedResult(mismatched)).toEqual({
        kind: 'refused',
        status: 409,
        body: {
          error: ErrorCode.MismatchedDevices,
          message: 'the send does not cover exactly the current devices',
          missingDevices: [2],
          extraDevices: [4],
        },
      });
      const stale = coverageRefusal({ missingDevices: [], extraDevices: [], staleDevices: [3] });
      expect(stale && failedResult(stale)).toEqual({
        kind: 'refused',
        status: 410,
        body: { error: ErrorCode.StaleDevices, message: 'registration ids changed', staleDevices: [3] },
      });
    });
  });

  describe('storage and the service agree with it', () => {
    let ctx: UnitContext;
    let sender: AuthenticatedDevice;

    beforeEach(async () => {
      ctx = await newUnitContext();
      sender = (await ctx.register()).device;
    });
    afterEach(async () => {
      await ctx.close();
    });

    /** A recipient with exactly the case's devices; the sender is its device 1 for a send to oneself. */
    const seat = async (c: CoverageCase): Promise<{ recipient: string; from: AuthenticatedDevice }> => {
      const { device } = await ctx.register();
      for (const [deviceId, registrationId] of c.current) {
        if (deviceId === 1) Object.assign(ctx.db.device(device.accountId, 1) ?? {}, { registrationId });
        else ctx.addDevice(device.accountId, deviceId, registrationId);
      }
      return { recipient: device.accountId, from: c.toSelf ? device : sender };
    };

    it.each(COVERAGE_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
      const { recipient, from } = await seat(c);
      const rows: CheckedEnvelopeRow[] = c.addressed.map((d) => ({
        request: 0,
        registrationId: d.registrationId,
        guid: ctx.crypto.envelopeId(),
        accountId: recipient,
        deviceId: d.deviceId,
        type: 'whisper',
        sourceAccountId: from.accountId,
        sourceDeviceId: from.deviceId,
        timestamp: 1,
        serverTimestamp: 1,
        urgent: true,
        content: new Uint8Array(4),
      }));
      const skipped = await ctx.envelopes.insertChecked(rows, NO_CAPS);
      expect(skipped.refused.has(0)).toBe(c.status !== 200);
      /** The twin stored that send or nothing; remove what it stored so the service's send starts clean. */
      for (const row of c.status === 200 ? rows : []) {
        await ctx.envelopes.delete([{ accountId: row.accountId, deviceId: row.deviceId, guid: row.guid }]);
      }

      const messages = c.addressed.map((d) => ({
        type: 'whisper' as const,
        destinationDeviceId: d.deviceId,
        destinationRegistrationId: d.registrationId,
        content: 'AAAA',
      }));
      const answer = await ctx.messages
        .send(from, recipient, { timestamp: 1, messages })
        .then(okResult, (error: unknown) => failedResult(error));
      const refusal = coverageRefusal(c.expected);
      expect(answer).toEqual(
        refusal ? failedResult(refusal) : { status: 200, body: { serverTimestamp: expect.any(Number) as unknown } },
      );
      expect(ctx.db.envelopes).toHaveLength(c.status === 200 ? c.addressed.length : 0);
    });
  });
});
