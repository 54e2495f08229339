/**
 * The one mapping from a stored envelope (content as bytes, from the envelope or mailbox repository) to the wire
 * `Envelope` clients receive, whether in a `GET /v1/messages` page, a WebSocket `envelope` frame or a push payload,
 * and the text of that `envelope` frame, written directly (the hot path of live delivery) yet byte for byte what
 * `JSON.stringify` gives. It reads and copies nothing else: which envelopes go out, and to whom, is the services'
 * business.
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

/** Printable ASCII but `"` and `\`: a string `JSON.stringify` writes as it is, between quotes. */
const PLAIN_JSON_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify(value)` for a string, without the serializer when nothing in it needs escaping. */
const jsonString = (value: unknown): string =>
  typeof value === 'string' && PLAIN_JSON_STRING.test(value) ? `"${value}"` : JSON.stringify(value);

/** `JSON.stringify(value)` for a finite number (as `String` writes it), else the serializer's answer. */
const jsonNumber = (value: unknown): string =>
  typeof value === 'number' && Number.isFinite(value) ? `${value}` : JSON.stringify(value);

/**
 * The WebSocket frame `{"type":"envelope","envelope":…}` of a wire envelope: the same text as
 * `JSON.stringify({ type: 'envelope', envelope })` for an envelope with the keys of {@link toEnvelope}, in its order
 * (absent sender fields left out), without building the wrapper object or running the generic serializer.
 */
export function envelopeFrame(envelope: Envelope): string {
  let out = `{"type":"envelope","envelope":{"guid":${jsonString(envelope.guid)},"type":${jsonString(envelope.type)}`;
  if (envelope.sourceAccountId !== undefined) out += `,"sourceAccountId":${jsonString(envelope.sourceAccountId)}`;
  if (envelope.sourceDeviceId !== undefined) out += `,"sourceDeviceId":${jsonNumber(envelope.sourceDeviceId)}`;
  return `${out},"timestamp":${jsonNumber(envelope.timestamp)},"serverTimestamp":${jsonNumber(envelope.serverTimestamp)},"content":${jsonString(envelope.content)}}}`;
}
