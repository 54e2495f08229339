/**
 * The one statement of the rule "a send covers exactly the recipient's current devices": it must address every
 * current device of the destination account (for a send to oneself, every one but the sending device) and no other,
 * each with its current registration id. `deviceCoverage` computes what a send gets wrong, `coverageRefusal` the
 * answer for it (`409 mismatched_devices` with `missingDevices`/`extraDevices` first, else `410 stale_devices` with
 * `staleDevices`). The message service uses them to explain a send that the storing statement refused
 * (`EnvelopeRepository.insertChecked`, whose `refused` condition is this rule in SQL, checked at commit time), against
 * fresh device rows. `multiCoverageRefusal` applies the same rule to every account of a multi-recipient send. No I/O
 * here; an unknown account (no devices at all) is the caller's `404`.
 */
import { ErrorCode } from '@cove/protocol';

import { ApiError } from './api-error.js';

/** A device a send addresses, with the registration id the sender believes it has. */
export type AddressedDevice = { deviceId: number; registrationId: number };

/** Who sends: a send to one's own account must not address the sending device. */
export type CoverageSender = { toSelf: boolean; sourceDeviceId: number };

/** What a send gets wrong, each list ascending; all empty when it covers exactly the current devices. */
export type DeviceCoverage = { missingDevices: number[]; extraDevices: number[]; staleDevices: number[] };

const ascending = (a: number, b: number): number => a - b;

/**
 * The devices a send misses (current ones it does not address), addresses in excess (not current, or the sending
 * device itself on a send to oneself) and addresses with a registration id that is no longer theirs.
 * `current` maps each current device id of the destination account to its registration id.
 */
export function deviceCoverage(
  current: ReadonlyMap<number, number>,
  addressed: readonly AddressedDevice[],
  sender: CoverageSender,
): DeviceCoverage {
  const expected = [...current.keys()].filter((id) => !(sender.toSelf && id === sender.sourceDeviceId));
  const given = new Set(addressed.map((d) => d.deviceId));
  return {
    missingDevices: expected.filter((id) => !given.has(id)).sort(ascending),
    extraDevices: [...given].filter((id) => !expected.includes(id)).sort(ascending),
    staleDevices: addressed
      .filter((d) => expected.includes(d.deviceId) && current.get(d.deviceId) !== d.registrationId)
      .map((d) => d.deviceId)
      .sort(ascending),
  };
}

/** True when the send covers exactly the current devices: the only sends storage accepts. */
export function coversExactly(coverage: DeviceCoverage): boolean {
  return !coverage.missingDevices.length && !coverage.extraDevices.length && !coverage.staleDevices.length;
}

/** The refusal of a send that does not cover exactly the current devices, or null when it does. */
export function coverageRefusal(coverage: DeviceCoverage): ApiError | null {
  const { missingDevices, extraDevices, staleDevices } = coverage;
  if (missingDevices.length || extraDevices.length) {
    return new ApiError(409, ErrorCode.MismatchedDevices, 'the send does not cover exactly the current devices', {
      missingDevices,
      extraDevices,
    });
  }
  if (staleDevices.length)
    return new ApiError(410, ErrorCode.StaleDevices, 'registration ids changed', { staleDevices });
  return null;
}

/** One recipient account of a multi-recipient send and the devices it addresses. */
export type AddressedAccount = { accountId: string; devices: readonly AddressedDevice[] };

/**
 * The refusal of a multi-recipient send, the same rule applied to every recipient account at once (`devices` maps
 * each account to its current devices; an absent or empty one does not exist): `404 not_found` listing every unknown
 * account, else `409 mismatched_devices` listing every account with missing or extra devices — and, so that one
 * answer repairs everything, every account with stale ones, each entry with all three lists — else
 * `410 stale_devices` listing every account with stale devices; null when the send covers every account exactly.
 * `sender` is the sending device: on its own account the send must address all its other devices (null for a sealed
 * send, which must address every device of every recipient).
 */
export function multiCoverageRefusal(
  devices: ReadonlyMap<string, ReadonlyMap<number, number>>,
  recipients: readonly AddressedAccount[],
  sender: { accountId: string; deviceId: number } | null,
): ApiError | null {
  const unknown = recipients.filter((r) => !devices.get(r.accountId)?.size).map((r) => ({ accountId: r.accountId }));
  if (unknown.length) return new ApiError(404, ErrorCode.NotFound, 'no such account', { accounts: unknown });
  const failing = recipients
    .map((r) => ({
      accountId: r.accountId,
      ...deviceCoverage(devices.get(r.accountId) ?? new Map(), r.devices, {
        toSelf: r.accountId === sender?.accountId,
        sourceDeviceId: sender?.deviceId ?? 0,
      }),
    }))
    .filter((c) => !coversExactly(c));
  if (!failing.length) return null;
  if (failing.some((c) => c.missingDevices.length || c.extraDevices.length)) {
    return new ApiError(409, ErrorCode.MismatchedDevices, 'the send does not cover exactly the current devices', {
      accounts: failing,
    });
  }
  return new ApiError(410, ErrorCode.StaleDevices, 'registration ids changed', {
    accounts: failing.map(({ accountId, staleDevices }) => ({ accountId, staleDevices })),
  });
}
