/**
 * `ProtocolAddress` (a name plus a device id in 1..127, as libsignal enforces) and the ServiceId helpers the
 * message `addresses` binding needs: an ACI is a plain UUID string, a PNI is "PNI:" + UUID, and both map to the
 * 17-byte fixed-width form (kind byte ‖ UUID). Names that are not ServiceIds are allowed but carry no binding.
 */
import { MAX_DEVICE_ID, MIN_DEVICE_ID } from './constants.js';
import { ErrorCode, fail } from './errors.js';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Anything with a ServiceId string, e.g. libsignal's `Aci`/`Pni` objects. */
export interface ServiceIdLike {
  getServiceIdString(): string;
}

/** The 17-byte fixed-width ServiceId (0x00 ACI / 0x01 PNI ‖ UUID), or null when `name` is not a ServiceId. */
export function serviceIdFixedWidth(name: string): Uint8Array | null {
  let kind = 0;
  let uuid = name;
  if (name.startsWith('PNI:')) {
    kind = 1;
    uuid = name.slice(4);
  }
  if (!UUID_RE.test(uuid)) return null;
  const out = new Uint8Array(17);
  out[0] = kind;
  const h = uuid.replace(/-/g, '');
  for (let i = 0; i < 16; i++) out[i + 1] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export class ProtocolAddress {
  private readonly _name: string;
  private readonly _deviceId: number;
  /** The fixed-width ServiceId of the name, computed on first use (undefined: not yet; null: not a ServiceId). */
  private fixedWidth: Uint8Array | null | undefined = undefined;

  private constructor(name: string, deviceId: number) {
    this._name = name;
    this._deviceId = deviceId;
  }

  static new(name: string | ServiceIdLike, deviceId: number): ProtocolAddress {
    const n = typeof name === 'string' ? name : name.getServiceIdString();
    if (!Number.isInteger(deviceId) || deviceId < MIN_DEVICE_ID || deviceId > MAX_DEVICE_ID) {
      fail(ErrorCode.InvalidProtocolAddress, 'ProtocolAddress_New', `protocol address is invalid: ${n}.${deviceId}`, {
        addr: n,
      });
    }
    return new ProtocolAddress(n, deviceId);
  }

  name(): string {
    return this._name;
  }

  deviceId(): number {
    return this._deviceId;
  }

  toString(): string {
    return `${this._name}.${this._deviceId}`;
  }

  /** @internal The 17-byte fixed-width ServiceId of the name, or null; cached, callers must not mutate it. */
  serviceIdFixedWidthView(): Uint8Array | null {
    if (this.fixedWidth === undefined) this.fixedWidth = serviceIdFixedWidth(this._name);
    return this.fixedWidth;
  }
}

/** The cached form for our addresses; computed each time for address objects from elsewhere (same interface). */
function fixedWidthOf(a: ProtocolAddress | { name(): string }): Uint8Array | null {
  return a instanceof ProtocolAddress ? a.serviceIdFixedWidthView() : serviceIdFixedWidth(a.name());
}

/** sender ServiceId(17) ‖ sender device(1) ‖ recipient ServiceId(17) ‖ recipient device(1), or null (facts §7). */
export function encodeAddresses(sender: ProtocolAddress, recipient: ProtocolAddress): Uint8Array | null {
  const s = fixedWidthOf(sender);
  const r = fixedWidthOf(recipient);
  if (!s || !r) return null;
  const out = new Uint8Array(36);
  out.set(s, 0);
  out[17] = sender.deviceId();
  out.set(r, 18);
  out[35] = recipient.deviceId();
  return out;
}
