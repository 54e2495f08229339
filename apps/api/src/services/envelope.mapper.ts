/**
 * The one mapping from a stored envelope (content as bytes, from the envelope or mailbox repository) to the wire
 * `Envelope` clients receive, whether in a `GET /v1/messages` page, a WebSocket `envelope` frame or a push payload.
 * It reads and copies nothing else: which envelopes go out, and to whom, is the services' business.
 */
import type { Envelope, EnvelopeType } from '@cove/protocol';

import type { EnvelopeRecord } from '../repositories/envelope.repository.js';

export function toEnvelope(row: EnvelopeRecord): Envelope {
  return {
    guid: row.guid,
    /** Only the message service writes `type`, from a request already checked against `EnvelopeType`. */
    type: row.type as EnvelopeType,
    /** A sealed-sender envelope has no sender: the fields are left out (never null on the wire). */
    ...(row.sourceAccountId === null ? {} : { sourceAccountId: row.sourceAccountId }),
    ...(row.sourceDeviceId === null ? {} : { sourceDeviceId: row.sourceDeviceId }),
    timestamp: row.timestamp,
    serverTimestamp: row.serverTimestamp,
    content: Buffer.from(row.content.buffer, row.content.byteOffset, row.content.byteLength).toString('base64'),
  };
}
