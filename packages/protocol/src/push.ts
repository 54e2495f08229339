/**
 * Web Push wire types: the subscription a device registers (`PUT /v1/push/subscription`, the browser's
 * `PushSubscription.toJSON()`), and the wake-up payload the server sends through the push service.
 *
 * The payload has a fixed size whatever it carries, so its length tells the push service nothing. It is either a
 * bare wake-up ("fetch your envelopes") or, when a single waiting envelope fits, that envelope as clients receive
 * it over the socket, so the service worker can skip a fetch. Either way it is encrypted to the browser (RFC 8291)
 * by the server before it leaves; this module only lays out the bytes and does no I/O and no crypto.
 */
import { z } from 'zod';

import { Envelope } from './http.js';

/** Uncompressed P-256 point (RFC 8291 §3.1) and the 16-byte auth secret, base64url without padding. */
const P256DH_BYTES = 65;
const AUTH_SECRET_BYTES = 16;

const base64UrlBytes = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url')
    .refine((s) => Math.floor((s.replace(/=+$/, '').length * 3) / 4) === bytes, `must encode ${bytes} bytes`);

export const PushSubscriptionRequest = z.strictObject({
  /** The push service URL; the server accepts only https URLs on its allow-list of push-service hosts. */
  endpoint: z.url().max(2048),
  expirationTime: z.number().int().nullable().optional(),
  keys: z.strictObject({
    p256dh: base64UrlBytes(P256DH_BYTES),
    auth: base64UrlBytes(AUTH_SECRET_BYTES),
  }),
});
export type PushSubscriptionRequest = z.infer<typeof PushSubscriptionRequest>;

/**
 * Size of every decrypted push payload. With RFC 8291's 86-byte header, the padding delimiter and the 16-byte tag
 * the request body is 3,175 bytes: under the 4,096 bytes every push service accepts, and room for an envelope of
 * ~2 KB of ciphertext (a text message with its Signal framing is a few hundred bytes).
 */
export const PUSH_PAYLOAD_BYTES = 3072;

/** Version, kind, waiting-count and length fields before the body. */
const HEADER_BYTES = 6;
const VERSION = 1;

export type PushPayload =
  { kind: 'wake'; pending: number } | { kind: 'envelope'; pending: number; envelope: z.infer<typeof Envelope> };

/**
 * Lays out a payload of exactly {@link PUSH_PAYLOAD_BYTES}. An envelope that does not fit is replaced by a bare
 * wake-up (the device fetches it). `pending` (envelopes waiting, saturating at 65,535) is only visible to the device.
 */
export function encodePushPayload(payload: PushPayload): Uint8Array {
  const out = new Uint8Array(PUSH_PAYLOAD_BYTES);
  let kind = 0;
  let body: Uint8Array = new Uint8Array(0);
  if (payload.kind === 'envelope') {
    const encoded = asciiBytes(JSON.stringify(payload.envelope));
    if (encoded && encoded.length <= PUSH_PAYLOAD_BYTES - HEADER_BYTES) {
      kind = 1;
      body = encoded;
    }
  }
  const pending = Math.min(0xffff, Math.max(0, Math.floor(payload.pending)));
  out[0] = VERSION;
  out[1] = kind;
  out[2] = pending >> 8;
  out[3] = pending & 0xff;
  out[4] = body.length >> 8;
  out[5] = body.length & 0xff;
  out.set(body, HEADER_BYTES);
  return out;
}

/**
 * An envelope's JSON is ASCII (UUIDs, numbers, base64, type names), so bytes are char codes; anything else (which
 * the schema forbids) returns null and is sent as a bare wake-up.
 */
function asciiBytes(text: string): Uint8Array | null {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return null;
    out[i] = c;
  }
  return out;
}

/** The largest envelope (JSON bytes) a payload can carry. */
export const MAX_PUSH_ENVELOPE_JSON_BYTES = PUSH_PAYLOAD_BYTES - HEADER_BYTES;

/** Thrown by {@link decodePushPayload} on bytes that are not a payload of this version. */
export class PushPayloadError extends Error {
  override readonly name = 'PushPayloadError';
}

export function decodePushPayload(bytes: Uint8Array): PushPayload {
  if (bytes.length !== PUSH_PAYLOAD_BYTES) throw new PushPayloadError(`payload must be ${PUSH_PAYLOAD_BYTES} bytes`);
  if (bytes[0] !== VERSION) throw new PushPayloadError('unknown payload version');
  const kind = bytes[1];
  const pending = ((bytes[2] as number) << 8) | (bytes[3] as number);
  const length = ((bytes[4] as number) << 8) | (bytes[5] as number);
  if (HEADER_BYTES + length > bytes.length) throw new PushPayloadError('body length out of range');
  if (bytes.subarray(HEADER_BYTES + length).some((b) => b !== 0)) throw new PushPayloadError('padding is not zero');
  if (kind === 0) {
    if (length !== 0) throw new PushPayloadError('a wake-up carries no body');
    return { kind: 'wake', pending };
  }
  if (kind !== 1) throw new PushPayloadError('unknown payload kind');
  let json: unknown;
  try {
    const body = bytes.subarray(HEADER_BYTES, HEADER_BYTES + length);
    if (body.some((b) => b > 0x7f)) throw new PushPayloadError('envelope is not ASCII');
    json = JSON.parse(String.fromCharCode(...body));
  } catch {
    throw new PushPayloadError('envelope is not JSON');
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) throw new PushPayloadError('envelope does not match the schema');
  return { kind: 'envelope', pending, envelope: envelope.data };
}
