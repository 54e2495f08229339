/**
 * Hand-written checks of the WebSocket `send` and `ack` frames, the hottest frames of the server: each accepts only
 * frames that its schema in `@cove/protocol` (`SendFrame`, `AckFrame`) accepts, and gives the same value the schema
 * would (ids in lower case), without the schema's per-field machinery and copies. Anything it does not accept is left to the
 * schema, which then decides — so every refusal, and its error code and message, still comes from the schema. It
 * does not log, answer or send; `test/unit/send-frame.parser.spec.ts` checks it against the schema.
 */
import {
  MAX_ACKS_PER_FRAME,
  MAX_DEVICE_ID,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_REGISTRATION_ID,
  base64Length,
  isBase64,
  type AckFrame,
  type SendFrame,
} from '@cove/protocol';
import { z } from 'zod';

/** The schema's `AccountId` pattern (zod's `uuid()`), so both accept exactly the same spellings. */
const UUID = z.regexes.uuid();
/** The schema's `EnvelopeContent` length bounds (its pattern is `BASE64_PATTERN`, checked by `isBase64`). */
const MIN_CONTENT_CHARS = base64Length(1);
const MAX_CONTENT_CHARS = base64Length(MAX_ENVELOPE_CONTENT_BYTES);
/** The schema's `RequestId` string bounds. */
const MAX_REQUEST_ID_CHARS = 64;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isIntIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/** Own keys of a parsed JSON object, all among `allowed`, and how many. -1 when another key is present. */
function countKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>): number {
  let n = 0;
  for (const key in value) {
    if (!allowed.has(key)) return -1;
    n++;
  }
  return n;
}

const FRAME_KEYS: ReadonlySet<string> = new Set(['type', 'id', 'destination', 'message']);
const MESSAGE_KEYS: ReadonlySet<string> = new Set(['timestamp', 'messages', 'urgent', 'notice']);
const OUTGOING_KEYS: ReadonlySet<string> = new Set([
  'destinationDeviceId',
  'destinationRegistrationId',
  'type',
  'content',
]);
const DIRECT_TYPES: ReadonlySet<unknown> = new Set(['prekey', 'whisper', 'unidentified-sender']);

/**
 * The frame as `SendFrame.parse` would give it, when it is certainly valid; undefined when the schema must decide
 * (invalid, or a shape this check does not handle). `frame` comes from `JSON.parse` and is not used afterwards.
 */
export function parseSendFrame(frame: unknown): SendFrame | undefined {
  if (!isObject(frame) || countKeys(frame, FRAME_KEYS) !== 4 || frame.type !== 'send') return undefined;
  const { id, destination, message } = frame;
  if (typeof id === 'string') {
    if (id.length < 1 || id.length > MAX_REQUEST_ID_CHARS) return undefined;
  } else if (!isIntIn(id, 0, Number.MAX_SAFE_INTEGER)) return undefined;
  if (typeof destination !== 'string' || !UUID.test(destination)) return undefined;
  if (!isObject(message)) return undefined;
  const keys = countKeys(message, MESSAGE_KEYS);
  if (keys < 2) return undefined;
  const { timestamp, messages, urgent, notice } = message;
  if (!isIntIn(timestamp, 0, Number.MAX_SAFE_INTEGER)) return undefined;
  if (urgent !== undefined && typeof urgent !== 'boolean') return undefined;
  if (notice !== undefined && typeof notice !== 'boolean') return undefined;
  if (keys !== 2 + (urgent === undefined ? 0 : 1) + (notice === undefined ? 0 : 1)) return undefined;
  if (!Array.isArray(messages) || messages.length < 1 || messages.length > MAX_DEVICES_PER_ACCOUNT) return undefined;
  for (const m of messages as unknown[]) {
    if (!isObject(m) || countKeys(m, OUTGOING_KEYS) !== 4) return undefined;
    if (!isIntIn(m.destinationDeviceId, 1, MAX_DEVICE_ID)) return undefined;
    if (!isIntIn(m.destinationRegistrationId, 1, MAX_REGISTRATION_ID)) return undefined;
    if (!DIRECT_TYPES.has(m.type)) return undefined;
    const content = m.content;
    if (typeof content !== 'string' || content.length < MIN_CONTENT_CHARS || content.length > MAX_CONTENT_CHARS) {
      return undefined;
    }
    if (!isBase64(content)) return undefined;
  }
  return {
    type: 'send',
    id,
    destination: destination.toLowerCase(),
    message: message as SendFrame['message'],
  };
}

const ACK_KEYS: ReadonlySet<string> = new Set(['type', 'guids']);

/** The frame as `AckFrame.parse` would give it, when it is certainly valid; undefined when the schema must decide. */
export function parseAckFrame(frame: unknown): AckFrame | undefined {
  if (!isObject(frame) || countKeys(frame, ACK_KEYS) !== 2 || frame.type !== 'ack') return undefined;
  const { guids } = frame;
  if (!Array.isArray(guids) || guids.length < 1 || guids.length > MAX_ACKS_PER_FRAME) return undefined;
  const lower: string[] = new Array<string>(guids.length);
  for (let i = 0; i < guids.length; i++) {
    const guid: unknown = guids[i];
    if (typeof guid !== 'string' || !UUID.test(guid)) return undefined;
    lower[i] = guid.toLowerCase();
  }
  return { type: 'ack', guids: lower };
}
