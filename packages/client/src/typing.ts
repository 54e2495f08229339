/**
 * Typing indicators: encrypted to every known device of the peer and sent over the live socket only, best effort —
 * never queued, never retried, and only when sessions with all those devices exist already (an indicator never
 * triggers a bundle fetch). It stores nothing but the session advance. To a peer whose unidentified access key is
 * known it goes sealed, over HTTP without credentials (the socket names us); a refused key just drops the indicator.
 */
import { encodeContent } from '@cove/protocol';

import { resolveCached } from './contacts.js';
import type { MessengerContext } from './context.js';
import { newZone, peerLock } from './context.js';
import { SealedSender } from './sealed-sender.js';
import { encryptForDevices, hasUsableSession } from './session-crypto.js';

/** Tells the peer that the user started or stopped typing: best effort, never queued, only with sessions in place. */
export const sendTyping = async (
  ctx: MessengerContext,
  peer: string,
  action: 'started' | 'stopped',
): Promise<boolean> => {
  const accountId = await resolveCached(ctx, peer);
  const connection = ctx.connection();
  if (!connection?.isReady) return false;
  const sealer = new SealedSender(ctx);
  const accessKey = await sealer.usableAccessKey(accountId);
  const certificate = accessKey ? await sealer.senderCertificate() : null;
  const request = await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const contact = await ctx.platform.storage.get('contacts', accountId);
    if (!contact?.devices?.length) return null;
    const zone = newZone(ctx);
    for (const device of contact.devices) if (!(await hasUsableSession(zone, accountId, device.deviceId))) return null;
    const timestamp = ctx.timestamps.next();
    const encrypted = await encryptForDevices(
      zone,
      accountId,
      contact.devices,
      encodeContent({ kind: 'typing', typing: { timestamp, action } }),
    );
    const messages = certificate ? await sealer.seal(zone, accountId, encrypted, certificate) : encrypted;
    await ctx.platform.storage.commit(zone.operations());
    return { timestamp, messages, urgent: false };
  });
  if (!request) return false;
  try {
    const outcome =
      accessKey && certificate
        ? await ctx.api.sendSealed(accountId, request, accessKey)
        : await connection.send(accountId, request);
    return outcome.kind === 'accepted';
  } catch {
    return false;
  }
};
