/**
 * The `/v1/websocket` protocol (frames in `@cove/protocol`): authentication by the first frame (ticket or
 * credential, never the URL), replacing an older connection of the same device, draining the stored queue in order
 * then `queue-empty`, live envelopes after, acks, sends (`send`, `send-multi`) with the same answers as
 * `PUT /v1/messages/{accountId}` and `PUT /v1/messages/multi`, app-level
 * pings, and error frames or closes for bad input.
 *
 * Envelopes go out with flow control: the queue is read in pages bounded by count and bytes, and each envelope is
 * written only when the socket's buffer has room, so a backlog of any size drains over one connection while the
 * server holds at most a page and a buffer's worth of it. Live envelopes that arrive meanwhile (or that find a live
 * socket's buffer full) are noted by guid and fetched back from the database after what precedes them. The socket
 * mechanics live in the WebSocket repository.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import {
  AckFrame,
  AuthCredentialFrame,
  AuthTicketFrame,
  CloseCode,
  ErrorCode,
  MAX_ENVELOPE_CONTENT_BYTES,
  PingFrame,
  RequestId,
  SendFrame,
  SendMessagesRequest,
  SendMultiRequest,
  type SendMultiFrame,
} from '@cove/protocol';
import { z } from 'zod';

import { ConfigRepository } from '../repositories/config.repository.js';
import { isDatabaseUnavailable } from '../repositories/database.repository.js';
import type { StoredEnvelope } from '../repositories/envelope.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import {
  WEBSOCKET_HIGH_WATER_BYTES,
  WebSocketRepository,
  type WebSocketConnection,
} from '../repositories/websocket.repository.js';
import { ApiError } from './api-error.js';
import { AuthThrottled } from './auth-throttle.service.js';
import { AuthService, Unauthorized, type AuthenticatedDevice } from './auth.service.js';
import { DeliveryService } from './delivery.service.js';
import { envelopeFrame, toEnvelope } from './envelope.mapper.js';
import { MessageService, type SendOutcome } from './message.service.js';
import { failedResult, okResult, storedResultFrame, type RequestResult } from './result.mapper.js';
import { parseAckFrame, parseSendFrame } from './send-frame.parser.js';
import type { Settle } from '../utils/batcher.js';

/** A send frame's routing fields, checked before its message so a bad message gets a `result` like over HTTP. */
const SendFrameEnvelope = SendFrame.pick({ type: true, id: true, destination: true }).extend({ message: z.unknown() });

/** The close reason (with `1013`) when the database cannot be reached: reconnect later, nothing was lost. */
const DATABASE_UNAVAILABLE = 'database unavailable, retry later';

/** A client must authenticate this soon after connecting. */
const AUTH_TIMEOUT_MS = 10_000;
/** Envelopes per database page while draining a queue onto a socket: one round trip for a typical backlog. */
const DRAIN_PAGE_SIZE = 500;
/**
 * Content bytes per drain page (the first envelope always fits): a draining connection holds at most this plus the
 * socket's high-water mark, however large its backlog. 1 MiB is 16 maximum-size envelopes, or a whole page of
 * ordinary ones (a few hundred bytes each).
 */
export const DRAIN_PAGE_BYTES = 1024 * 1024;
/** Noted live envelopes fetched back per query: as many maximum-size ones as fit in a drain page. */
const PENDING_FETCH = Math.max(1, Math.floor(DRAIN_PAGE_BYTES / MAX_ENVELOPE_CONTENT_BYTES));

@Injectable()
export class WebSocketService implements OnModuleInit {
  constructor(
    private readonly sockets: WebSocketRepository,
    private readonly auth: AuthService,
    private readonly messages: MessageService,
    private readonly delivery: DeliveryService,
    private readonly metrics: MetricsRepository,
    private readonly logger: LoggingRepository,
    private readonly config: ConfigRepository,
  ) {}

  onModuleInit(): void {
    // A connection that answers no ping for a whole round is dead (browsers answer protocol pings natively).
    this.sockets.startHeartbeat(this.config.config.heartbeatIntervalMs, (_, reason) => {
      this.metrics.webSocketClosed.inc({ reason });
    });
  }

  /** Takes over a freshly upgraded socket from the client at `address` (for the failed-authentication throttle). */
  accept(raw: unknown, address?: string): void {
    const connection = this.sockets.adopt(raw, {
      onText: (c, text) => this.onText(c, text),
      onClose: (c) => {
        if (c.accountId) this.metrics.webSocketConnections.set(this.sockets.size);
        if (c.accountId) this.delivery.disconnected({ accountId: c.accountId, deviceId: c.deviceId });
      },
      onBehind: (c) => void this.catchUp(c),
    });
    connection.address = address;
    connection.authTimer = setTimeout(() => {
      if (connection.state === 'authenticating') {
        this.metrics.webSocketClosed.inc({ reason: 'auth_timeout' });
        connection.close(CloseCode.AuthTimeout, 'no auth frame in time');
      }
    }, AUTH_TIMEOUT_MS);
    connection.authTimer.unref();
  }

  private onText(connection: WebSocketConnection, text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      if (connection.state === 'authenticating') {
        /** Nothing to answer before authentication: a first frame that is not even JSON ends the connection. */
        this.metrics.webSocketClosed.inc({ reason: 'unauthenticated' });
        connection.close(CloseCode.PolicyViolation, 'the first frame must be a JSON auth frame');
        return;
      }
      this.refuse(connection, undefined, ErrorCode.MalformedJson, 'frame is not JSON');
      return;
    }
    const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
    const id = (frame as { id?: unknown } | null)?.id;
    const requestId = typeof id === 'string' || typeof id === 'number' ? id : undefined;
    if (connection.state === 'authenticating') {
      if (type !== 'auth') {
        this.metrics.webSocketClosed.inc({ reason: 'unauthenticated' });
        connection.close(CloseCode.Unauthorized, 'the first frame must be auth');
        return;
      }
      void this.authenticate(connection, frame);
      return;
    }
    switch (type) {
      case 'ack': {
        const fast = parseAckFrame(frame);
        const parsed = fast ? { success: true as const, data: fast } : AckFrame.safeParse(frame);
        if (!parsed.success) return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'malformed ack');
        for (const guid of parsed.data.guids) this.messages.ackUnanswered(connection.device, guid);
        return;
      }
      case 'send': {
        // The hot path: a frame the hand-written check accepts is one the schema accepts; any other goes on below.
        const fast = parseSendFrame(frame);
        if (fast) {
          void this.send(connection, fast);
          return;
        }
        const envelope = SendFrameEnvelope.safeParse(frame);
        if (!envelope.success) {
          return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'a send needs an id and a destination');
        }
        const message = SendMessagesRequest.safeParse((frame as { message?: unknown }).message);
        if (!message.success)
          return this.answer(connection, envelope.data.id, failedResult(validationRefusal(message.error)));
        void this.send(connection, { ...envelope.data, message: message.data });
        return;
      }
      case 'send-multi': {
        if (!RequestId.safeParse(requestId).success) {
          return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'a send-multi needs an id');
        }
        const id = requestId as RequestId;
        const extra = Object.keys(frame as object).filter((k) => !['type', 'id', 'message'].includes(k));
        if (extra.length) {
          return this.answer(
            connection,
            id,
            failedResult(new ApiError(400, ErrorCode.InvalidRequest, `${extra[0] ?? ''}: unrecognized key`)),
          );
        }
        const message = SendMultiRequest.safeParse((frame as { message?: unknown }).message);
        if (!message.success) return this.answer(connection, id, failedResult(validationRefusal(message.error)));
        void this.sendMulti(connection, { type: 'send-multi', id, message: message.data });
        return;
      }
      case 'ping': {
        const parsed = PingFrame.safeParse(frame);
        if (!parsed.success) return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'malformed ping');
        connection.send(
          JSON.stringify(parsed.data.id === undefined ? { type: 'pong' } : { type: 'pong', id: parsed.data.id }),
        );
        return;
      }
      case 'auth':
        return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'already authenticated');
      default:
        return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'unknown frame type');
    }
  }

  private refuse(connection: WebSocketConnection, id: RequestId | undefined, error: string, message: string): void {
    connection.send(
      JSON.stringify(id === undefined ? { type: 'error', error, message } : { type: 'error', id, error, message }),
    );
  }

  private async authenticate(connection: WebSocketConnection, frame: unknown): Promise<void> {
    let device: AuthenticatedDevice;
    try {
      const ticket = AuthTicketFrame.safeParse(frame);
      if (ticket.success) {
        device = await this.auth.redeemTicket(ticket.data.ticket, connection.address);
      } else {
        const credential = AuthCredentialFrame.safeParse(frame);
        if (!credential.success) throw new Unauthorized('malformed auth frame');
        const c = credential.data;
        device = await this.auth.authenticate(c.accountId, c.deviceId, c.secret, connection.address);
      }
    } catch (error) {
      if (error instanceof AuthThrottled) {
        this.metrics.webSocketClosed.inc({ reason: 'auth_throttled' });
        connection.close(CloseCode.AuthThrottled, `too many failed attempts, retry in ${error.retryAfterSeconds} s`);
        return;
      }
      if (isDatabaseUnavailable(error)) {
        this.metrics.webSocketClosed.inc({ reason: 'unavailable' });
        connection.close(CloseCode.TryAgainLater, DATABASE_UNAVAILABLE);
        return;
      }
      if (!(error instanceof ApiError)) this.logger.error('websocket authentication failed', { kind: 'internal' });
      this.metrics.webSocketClosed.inc({ reason: 'unauthorized' });
      connection.close(CloseCode.Unauthorized, 'authentication failed');
      return;
    }
    if (connection.state !== 'authenticating') return;
    if (connection.authTimer) clearTimeout(connection.authTimer);
    connection.accountId = device.accountId;
    connection.deviceId = device.deviceId;
    connection.device = { accountId: device.accountId, deviceId: device.deviceId };
    connection.startDraining();
    const previous = this.sockets.register(connection);
    if (previous) {
      this.metrics.webSocketClosed.inc({ reason: 'replaced' });
      previous.close(CloseCode.Replaced, 'replaced by a newer connection');
    }
    this.metrics.webSocketConnections.set(this.sockets.size);
    /** Presence first: an envelope accepted elsewhere from now on is routed here (buffered while draining). */
    await this.delivery.connected(device);
    connection.send(JSON.stringify({ type: 'ready', accountId: device.accountId, deviceId: device.deviceId }));
    await this.drain(connection, device);
  }

  /** Sends the stored queue in order, then what arrived live meanwhile (minus duplicates), then `queue-empty`. */
  private async drain(connection: WebSocketConnection, device: AuthenticatedDevice): Promise<void> {
    /** Guids written by this drain, so a live envelope that is also in a page is not sent twice. */
    const sent = new Set<string>();
    let afterId = '0';
    try {
      for (;;) {
        const page = await this.messages.page(device, afterId, DRAIN_PAGE_SIZE, DRAIN_PAGE_BYTES);
        if (!(await this.write(connection, page, sent))) return;
        if (page.length) this.metrics.envelopesDelivered.inc({ path: 'stored' }, page.length);
        const bytes = page.reduce((sum, row) => sum + row.content.byteLength, 0);
        /** A page cut short by its byte budget holds at least the budget: then more may follow. */
        if (page.length < DRAIN_PAGE_SIZE && bytes < DRAIN_PAGE_BYTES) break;
        afterId = page[page.length - 1]?.id ?? afterId;
      }
      /** `queue-empty` goes out in the same turn as the switch to live delivery: no live envelope comes before it. */
      await this.sendPending(connection, device, sent, () => connection.send('{"type":"queue-empty"}'));
    } catch (error) {
      this.failed(connection, error, 'draining a queue failed');
    }
  }

  /** A live connection's buffer was full when an envelope arrived: send what was noted once it drains, then go live. */
  private async catchUp(connection: WebSocketConnection): Promise<void> {
    try {
      await this.sendPending(connection, { accountId: connection.accountId, deviceId: connection.deviceId });
    } catch (error) {
      this.failed(connection, error, 'catching up a connection failed');
    }
  }

  /** A database read for a connection failed: close it so that the client reconnects and drains again. */
  private failed(connection: WebSocketConnection, error: unknown, what: string): void {
    if (isDatabaseUnavailable(error)) {
      this.logger.warn(what, { kind: 'database_unavailable' });
      this.metrics.webSocketClosed.inc({ reason: 'unavailable' });
      connection.close(CloseCode.TryAgainLater, DATABASE_UNAVAILABLE);
      return;
    }
    this.logger.error(what, { kind: 'database' });
    connection.close(1011, 'temporary failure, reconnect');
  }

  /**
   * Sends the live envelopes noted while the connection drained or was behind, in arrival order, fetched back from
   * the database in small batches as the socket makes room; switches the connection to live delivery when none is
   * left, calling `onLive` in the same turn. False when the connection closed.
   */
  private async sendPending(
    connection: WebSocketConnection,
    device: AuthenticatedDevice,
    sent?: Set<string>,
    onLive?: () => void,
  ): Promise<boolean> {
    for (;;) {
      if (!(await connection.waitWritable())) return false;
      const guids = connection.takePending(PENDING_FETCH).filter((guid) => !sent?.has(guid));
      if (!guids.length) {
        if (connection.goLive()) {
          onLive?.();
          return true;
        }
        /** Either all taken ones were sent already and more are noted, or the connection is no longer pending. */
        if (connection.pendingCount && connection.open) continue;
        return connection.state === 'live';
      }
      const rows = new Map((await this.messages.byGuids(device, guids)).map((row) => [row.guid, row]));
      const ordered = guids.flatMap((guid) => rows.get(guid) ?? []);
      if (!(await this.write(connection, ordered, sent))) return false;
    }
  }

  /** Writes envelope frames, each once the socket has room for it; false when the connection closed meanwhile. */
  private async write(connection: WebSocketConnection, rows: StoredEnvelope[], sent?: Set<string>): Promise<boolean> {
    for (const row of rows) {
      if (connection.bufferedAmount > WEBSOCKET_HIGH_WATER_BYTES && !(await connection.waitWritable())) return false;
      if (!connection.open) return false;
      sent?.add(row.guid);
      connection.send(envelopeFrame(toEnvelope(row)));
    }
    return connection.open;
  }

  /**
   * A 1:1 send, answered once stored (or refused); the hot path, so one reply object instead of promises and
   * closures, and a pre-built `result` frame.
   */
  private send(connection: WebSocketConnection, frame: SendFrame): void {
    const reply = new SendReply(this, connection, frame.id);
    try {
      this.messages.sendTo(connection.device, frame.destination, frame.message, reply);
    } catch (error) {
      this.answerFailed(connection, frame.id, error);
    }
  }

  /** Runs a send and answers it with a `result` frame; a send refused because the device is gone closes the socket. */
  private async respond(connection: WebSocketConnection, id: RequestId, run: () => Promise<object>): Promise<void> {
    let result: RequestResult;
    try {
      result = okResult(await run());
    } catch (error) {
      this.answerFailed(connection, id, error);
      return;
    }
    this.answer(connection, id, result);
  }

  /** Answers a request that threw; a send refused because the device is gone closes the socket. */
  answerFailed(connection: WebSocketConnection, id: RequestId, error: unknown): void {
    const failed = failedResult(error);
    if (failed.kind === 'unavailable') this.logger.warn('websocket send failed', { kind: 'database_unavailable' });
    if (failed.kind === 'internal') this.logger.error('websocket send failed', { kind: 'internal' });
    this.answer(connection, id, { status: failed.status, body: failed.body });
    if (failed.status === 401) {
      /** The statement that would have stored the send found this connection's device removed: it goes too. */
      this.metrics.webSocketClosed.inc({ reason: 'device_removed' });
      connection.close(CloseCode.DeviceRemoved, 'device removed');
    }
  }

  private async sendMulti(connection: WebSocketConnection, frame: SendMultiFrame): Promise<void> {
    const device = { accountId: connection.accountId, deviceId: connection.deviceId };
    await this.respond(connection, frame.id, () => this.messages.sendMulti(device, frame.message));
  }

  /** The `result` frame answering the request `id`. */
  private answer(connection: WebSocketConnection, id: RequestId, result: RequestResult): void {
    connection.send(JSON.stringify({ type: 'result', id, status: result.status, body: result.body }));
  }
}

/** Answers one `send` frame with its `result` frame once the group commit holding it is done. */
class SendReply implements Settle<SendOutcome> {
  constructor(
    private readonly service: WebSocketService,
    private readonly connection: WebSocketConnection,
    private readonly id: RequestId,
  ) {}

  resolve(outcome: SendOutcome): void {
    if (outcome instanceof ApiError) this.service.answerFailed(this.connection, this.id, outcome);
    else this.connection.send(storedResultFrame(this.id, outcome));
  }

  reject(error: unknown): void {
    this.service.answerFailed(this.connection, this.id, error);
  }
}

/**
 * The refusal the HTTP validation pipe gives a body that does not match its schema, as `message.<path>` (the body
 * travels as `message` in the frame): `413 payload_too_large` for a too-large value, else `400 invalid_request`.
 */
function validationRefusal(error: z.ZodError): ApiError {
  const tooBig = error.issues.some((i) => i.code === 'too_big');
  const issue = error.issues[0];
  return new ApiError(
    tooBig ? 413 : 400,
    tooBig ? ErrorCode.PayloadTooLarge : ErrorCode.InvalidRequest,
    `message.${issue?.path.join('.') ?? ''}: ${tooBig ? 'too large' : (issue?.message ?? 'invalid')}`,
  );
}
