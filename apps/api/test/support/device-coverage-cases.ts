/**
 * One table of sends checked against the rule "a send covers exactly the recipient's current devices", shared by
 * the unit tier (the pure `deviceCoverage`, the in-memory twin of `insertChecked`, the message service's answer)
 * and the medium tier (the real `insertChecked` statement and `PUT /v1/messages`), so every place that applies the
 * rule is held to the same cases. The recipient's devices are numbered from 1 without gaps; a send to oneself comes
 * from device 1. Data only.
 */
import type { AddressedDevice, DeviceCoverage } from '../../src/services/device-coverage.js';

export type CoverageCase = {
  name: string;
  /** The recipient's current devices: device id → registration id (ids 1..n). */
  current: Array<[deviceId: number, registrationId: number]>;
  /** The send comes from the recipient's own device 1. */
  toSelf: boolean;
  addressed: AddressedDevice[];
  expected: DeviceCoverage;
  /** The answer to the send: stored, or refused by the rule. */
  status: 200 | 409 | 410;
};

const none: DeviceCoverage = { missingDevices: [], extraDevices: [], staleDevices: [] };
const at = (deviceId: number, registrationId: number): AddressedDevice => ({ deviceId, registrationId });

export const COVERAGE_CASES: CoverageCase[] = [
  {
    name: 'every current device with its registration id',
    current: [
      [1, 101],
      [2, 102],
    ],
    toSelf: false,
    addressed: [at(2, 102), at(1, 101)],
    expected: none,
    status: 200,
  },
  {
    name: 'missing devices',
    current: [
      [1, 101],
      [2, 102],
      [3, 103],
    ],
    toSelf: false,
    addressed: [at(1, 101)],
    expected: { ...none, missingDevices: [2, 3] },
    status: 409,
  },
  {
    name: 'a device that does not exist',
    current: [[1, 101]],
    toSelf: false,
    addressed: [at(1, 101), at(4, 104)],
    expected: { ...none, extraDevices: [4] },
    status: 409,
  },
  {
    name: 'missing and extra devices at once',
    current: [
      [1, 101],
      [2, 102],
      [3, 103],
    ],
    toSelf: false,
    addressed: [at(4, 104), at(1, 101)],
    expected: { ...none, missingDevices: [2, 3], extraDevices: [4] },
    status: 409,
  },
  {
    name: 'a stale registration id',
    current: [
      [1, 101],
      [2, 102],
    ],
    toSelf: false,
    addressed: [at(1, 101), at(2, 999)],
    expected: { ...none, staleDevices: [2] },
    status: 410,
  },
  {
    name: 'a stale registration id and a missing device: the mismatch is answered first',
    current: [
      [1, 101],
      [2, 102],
      [3, 103],
    ],
    toSelf: false,
    addressed: [at(1, 999), at(2, 102)],
    expected: { missingDevices: [3], extraDevices: [], staleDevices: [1] },
    status: 409,
  },
  {
    name: 'a stale registration id and an extra device',
    current: [
      [1, 101],
      [2, 102],
    ],
    toSelf: false,
    addressed: [at(1, 101), at(2, 999), at(5, 105)],
    expected: { missingDevices: [], extraDevices: [5], staleDevices: [2] },
    status: 409,
  },
  {
    name: 'to oneself: every other device',
    current: [
      [1, 101],
      [2, 102],
      [3, 103],
    ],
    toSelf: true,
    addressed: [at(3, 103), at(2, 102)],
    expected: none,
    status: 200,
  },
  {
    name: 'to oneself: the sending device is extra',
    current: [
      [1, 101],
      [2, 102],
    ],
    toSelf: true,
    addressed: [at(1, 101), at(2, 102)],
    expected: { ...none, extraDevices: [1] },
    status: 409,
  },
  {
    name: 'to oneself: the sending device is extra, never stale, whatever registration id it is given',
    current: [
      [1, 101],
      [2, 102],
    ],
    toSelf: true,
    addressed: [at(1, 999), at(2, 102)],
    expected: { ...none, extraDevices: [1] },
    status: 409,
  },
  {
    name: 'to oneself: a stale registration id of another device',
    current: [
      [1, 101],
      [2, 102],
      [3, 103],
    ],
    toSelf: true,
    addressed: [at(2, 102), at(3, 999)],
    expected: { ...none, staleDevices: [3] },
    status: 410,
  },
  {
    name: 'to oneself: another device missing',
    current: [
      [1, 101],
      [2, 102],
      [3, 103],
    ],
    toSelf: true,
    addressed: [at(3, 103)],
    expected: { ...none, missingDevices: [2] },
    status: 409,
  },
];
