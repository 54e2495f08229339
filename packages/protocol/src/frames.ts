/**
 * WebSocket frames of `/v1/websocket`: JSON text frames with a `type` field, typed and validated with zod.
 *
 * Flow: the client's first frame is `auth` (a single-use ticket from `POST /v1/websocket/ticket`, or the device
 * credential itself — never in the URL). The server answers `ready`, then sends every stored envelope in order
 * (`envelope`), then `queue-empty`, then new envelopes as they arrive. The client acknowledges with `ack`; only then
 * is an envelope deleted. `send` works like `PUT /v1/messages/{accountId}` (and `send-multi` like
 * `PUT /v1/messages/multi`) and is answered by a `result` with the same `id` and the same status and body the HTTP
 * call would return. `ping` is answered by `pong` (browsers cannot send
 * protocol-level pings). Bad frames are answered by `error`; fatal conditions close the socket with a
 * {@link CloseCode} and a reason. This module does no I/O.
 */
import { z } from 'zod';

import { AccountId, DeviceId, Envelope, Guid, Secret, SendMessagesRequest, SendMultiRequest } from './http.js';
import { MAX_ACKS_PER_FRAME } from './limits.js';

/** Correlates a `send` with its `result` (and an erroneous frame with its `error`). */
export const RequestId = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(64)]);

export const AuthTicketFrame = z.strictObject({ type: z.literal('auth'), ticket: z.string().min(1).max(128) });
export const AuthCredentialFrame = z.strictObject({
  type: z.literal('auth'),
  accountId: AccountId,
  deviceId: DeviceId,
  secret: Secret,
});
export const AuthFrame = z.union([AuthTicketFrame, AuthCredentialFrame]);
export const AckFrame = z.strictObject({ type: z.literal('ack'), guids: z.array(Guid).min(1).max(MAX_ACKS_PER_FRAME) });
export const SendFrame = z.strictObject({
  type: z.literal('send'),
  id: RequestId,
  destination: AccountId,
  message: SendMessagesRequest,
});
/**
 * `send-multi` works like `PUT /v1/messages/multi` and is answered by a `result` with the same `id`, status and
 * body. As in `send`, the HTTP body travels as `message` (flat fields would collide: the body has its own `type`).
 */
export const SendMultiFrame = z.strictObject({
  type: z.literal('send-multi'),
  id: RequestId,
  message: SendMultiRequest,
});
export const PingFrame = z.strictObject({ type: z.literal('ping'), id: RequestId.optional() });

/** Every frame a client may send, by `type`: parse the JSON, pick the schema by `type`, validate. */
export const ClientFrameSchemas = {
  auth: AuthFrame,
  ack: AckFrame,
  send: SendFrame,
  'send-multi': SendMultiFrame,
  ping: PingFrame,
} as const;
export const ClientFrame = z.union([
  AuthTicketFrame,
  AuthCredentialFrame,
  AckFrame,
  SendFrame,
  SendMultiFrame,
  PingFrame,
]);

export const ReadyFrame = z.object({ type: z.literal('ready'), accountId: AccountId, deviceId: DeviceId });
export const EnvelopeFrame = z.object({ type: z.literal('envelope'), envelope: Envelope });
export const QueueEmptyFrame = z.object({ type: z.literal('queue-empty') });
export const ResultFrame = z.object({
  type: z.literal('result'),
  id: RequestId,
  status: z.number().int().describe('The HTTP status PUT /v1/messages would have returned'),
  body: z.unknown().describe('The body PUT /v1/messages would have returned'),
});
export const ErrorFrame = z.object({
  type: z.literal('error'),
  id: RequestId.optional(),
  error: z.string(),
  message: z.string(),
});
export const PongFrame = z.object({ type: z.literal('pong'), id: RequestId.optional() });
export const ServerFrame = z.discriminatedUnion('type', [
  ReadyFrame,
  EnvelopeFrame,
  QueueEmptyFrame,
  ResultFrame,
  ErrorFrame,
  PongFrame,
]);

/** Close codes (4000-4999 are reserved for applications by RFC 6455 §7.4.2). */
export const CloseCode = {
  /** The server is shutting down; reconnect (possibly to another instance). */
  GoingAway: 1001,
  /** A frame that cannot be handled at all (binary, not JSON before auth). */
  PolicyViolation: 1008,
  /** A frame larger than the limit. */
  TooBig: 1009,
  /** Wrong credentials or ticket. */
  Unauthorized: 4001,
  /** No auth frame in time. */
  AuthTimeout: 4002,
  /** A temporary condition on the server (e.g. its database is unavailable): reconnect after a pause. */
  TryAgainLater: 1013,
  /** The same device connected again; this older connection is closed. */
  Replaced: 4003,
  /** The device was removed from its account. */
  DeviceRemoved: 4004,
  /** No pong to the server's pings: the connection is considered dead. */
  HeartbeatTimeout: 4005,
  /** The account was deleted (by one of its devices): every device's connection closes; do not reconnect. */
  AccountDeleted: 4006,
  /**
   * Too many failed authentications from this address or against this account: the auth frame was not even checked.
   * The reason says after how many seconds to retry (as HTTP's `429` with `Retry-After`).
   */
  AuthThrottled: 4029,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export type RequestId = z.infer<typeof RequestId>;
export type AuthFrame = z.infer<typeof AuthFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type SendFrame = z.infer<typeof SendFrame>;
export type SendMultiFrame = z.infer<typeof SendMultiFrame>;
export type PingFrame = z.infer<typeof PingFrame>;
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ReadyFrame = z.infer<typeof ReadyFrame>;
export type EnvelopeFrame = z.infer<typeof EnvelopeFrame>;
export type QueueEmptyFrame = z.infer<typeof QueueEmptyFrame>;
export type ResultFrame = z.infer<typeof ResultFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type PongFrame = z.infer<typeof PongFrame>;
export type ServerFrame = z.infer<typeof ServerFrame>;
