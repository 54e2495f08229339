/**
 * Recipients and sessions: the one loop that fetches prekey bundles, establishes sessions with a peer's devices in
 * a ProtocolZone and says which devices were reached, plus the write that records those devices on the contact.
 * Used by the outbox (before a send, and after the server corrected the device list) and by identity lookups. It
 * neither takes the peer lock nor commits: its callers do both, with the zone's writes in the same batch.
 */
import type { MessengerContext } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import type { PutOp } from './platform.js';
import type { ProtocolZone } from './protocol-zone.js';
import type { ContactEntry, DeviceAddress } from './tables.js';
import { establishSession } from './session-crypto.js';

/**
 * Establishes sessions from fresh bundles: with every device of the peer (`'all'`: the peer must exist, or
 * UnknownUser is thrown with `unknownMessage`), or with the listed devices (those the server no longer has are
 * skipped). Returns the devices reached, in the order asked or served.
 */
export const connectDevices = async (
  ctx: MessengerContext,
  zone: ProtocolZone,
  peer: string,
  devices: 'all' | readonly number[],
  unknownMessage = 'no such account',
): Promise<DeviceAddress[]> => {
  const reached: DeviceAddress[] = [];
  if (devices === 'all') {
    const bundle = await ctx.api.preKeyBundle(peer, '*');
    if (!bundle) throw new ClientError(ClientErrorCode.UnknownUser, unknownMessage);
    for (const device of bundle.devices) {
      await establishSession(zone, peer, bundle.identityKey, device);
      reached.push({ deviceId: device.deviceId, registrationId: device.registrationId });
    }
    return reached;
  }
  for (const deviceId of devices) {
    const bundle = await ctx.api.preKeyBundle(peer, deviceId);
    const device = bundle?.devices.find((d) => d.deviceId === deviceId);
    if (!bundle || !device) continue;
    await establishSession(zone, peer, bundle.identityKey, device);
    reached.push({ deviceId, registrationId: device.registrationId });
  }
  return reached;
};

/** The contact as stored, or a new one for a peer not seen before. */
export const contactOrNew = (stored: ContactEntry | undefined, peer: string, now: number): ContactEntry =>
  stored ?? { accountId: peer, username: null, devices: null, updatedAt: now };

/** Records the devices last learned for a contact. */
export const putContactDevices = (contact: ContactEntry, devices: DeviceAddress[], now: number): PutOp<'contacts'> => ({
  op: 'put',
  table: 'contacts',
  key: contact.accountId,
  value: { ...contact, devices, updatedAt: now },
});
