/**
 * The `/v1/websocket` protocol (frames in `@cove/protocol`): authentication by the first frame (ticket or
 * credential, never the URL), replacing an older connection of the same device, draining the stored queue in order
 * then `queue-empty`, live envelopes after, acks, sends with the same answers as `PUT /v1/messages`, app-level
 * pings, and error frames or closes for bad input. The socket mechanics live in the WebSocket repository.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import {
  AckFrame,
  AuthCredentialFrame,
  AuthTicketFrame,
  CloseCode,
  ErrorCode,
  PingFrame,
  SendFrame,
  SendMessagesRequest,
  type RequestId,
} from '@cove/protocol';
import { z } from 'zod';

import { ConfigRepository } from '../repositories/config.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { WebSocketRepository, type WebSocketConnection } from '../repositories/websocket.repository.js';
import { ApiError } from './api-error.js';
import { AuthService, type AuthenticatedDevice } from './auth.service.js';
import { DeliveryService } from './delivery.service.js';
import { MessageService, toEnvelope } from './message.service.js';

/** A send frame's routing fields, checked before its message so a bad message gets a `result` like over HTTP. */
const SendFrameEnvelope = SendFrame.pick({ type: true, id: true, destination: true }).extend({ message: z.unknown() });

/** A client must authenticate this soon after connecting. */
const AUTH_TIMEOUT_MS = 10_000;
/** Envelopes per database page while draining a queue onto a socket. */
const DRAIN_PAGE_SIZE = 500;

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
    this.sockets.startHeartbeat(this.config.config.heartbeatIntervalMs, () => {
      this.metrics.webSocketClosed.inc({ reason: 'heartbeat' });
    });
  }

  /** Takes over a freshly upgraded socket. */
  accept(raw: unknown): void {
    const connection = this.sockets.adopt(raw, {
      onText: (c, text) => this.onText(c, text),
      onClose: (c) => {
        if (c.accountId) this.metrics.webSocketConnections.set(this.sockets.size);
        if (c.accountId) this.delivery.disconnected({ accountId: c.accountId, deviceId: c.deviceId });
      },
    });
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
        const parsed = AckFrame.safeParse(frame);
        if (!parsed.success) return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'malformed ack');
        const device = { accountId: connection.accountId, deviceId: connection.deviceId };
        for (const guid of parsed.data.guids) void this.messages.ack(device, guid).catch(() => undefined);
        return;
      }
      case 'send': {
        const envelope = SendFrameEnvelope.safeParse(frame);
        if (!envelope.success) {
          return this.refuse(connection, requestId, ErrorCode.InvalidRequest, 'a send needs an id and a destination');
        }
        const message = SendMessagesRequest.safeParse((frame as { message?: unknown }).message);
        if (!message.success) {
          const tooBig = message.error.issues.some((i) => i.code === 'too_big');
          const issue = message.error.issues[0];
          const body = {
            error: tooBig ? ErrorCode.PayloadTooLarge : ErrorCode.InvalidRequest,
            message: `message.${issue?.path.join('.') ?? ''}: ${tooBig ? 'too large' : (issue?.message ?? 'invalid')}`,
          };
          connection.send(JSON.stringify({ type: 'result', id: envelope.data.id, status: tooBig ? 413 : 400, body }));
          return;
        }
        void this.send(connection, { ...envelope.data, message: message.data });
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
        device = await this.auth.redeemTicket(ticket.data.ticket);
      } else {
        const credential = AuthCredentialFrame.safeParse(frame);
        if (!credential.success) throw new ApiError(401, ErrorCode.Unauthorized, 'malformed auth frame');
        const c = credential.data;
        device = await this.auth.authenticate(c.accountId, c.deviceId, c.secret);
      }
    } catch (error) {
      if (!(error instanceof ApiError)) this.logger.error('websocket authentication failed', { kind: 'internal' });
      this.metrics.webSocketClosed.inc({ reason: 'unauthorized' });
      connection.close(CloseCode.Unauthorized, 'authentication failed');
      return;
    }
    if (connection.state !== 'authenticating') return;
    if (connection.authTimer) clearTimeout(connection.authTimer);
    connection.accountId = device.accountId;
    connection.deviceId = device.deviceId;
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
    const sent = new Set<string>();
    let afterId = '0';
    try {
      for (;;) {
        const page = await this.messages.page(device, afterId, DRAIN_PAGE_SIZE);
        if (!connection.open) return;
        for (const row of page) {
          sent.add(row.guid);
          connection.send(JSON.stringify({ type: 'envelope', envelope: toEnvelope(row) }));
        }
        if (page.length) this.metrics.envelopesDelivered.inc({ path: 'stored' }, page.length);
        if (page.length < DRAIN_PAGE_SIZE) break;
        afterId = page[page.length - 1]?.id ?? afterId;
      }
    } catch {
      this.logger.error('draining a queue failed', { kind: 'database' });
      connection.close(1011, 'temporary failure, reconnect');
      return;
    }
    for (const [guid, text] of connection.finishDraining()) {
      if (!sent.has(guid)) connection.send(text);
    }
    connection.send('{"type":"queue-empty"}');
  }

  private async send(connection: WebSocketConnection, frame: SendFrame): Promise<void> {
    const device = { accountId: connection.accountId, deviceId: connection.deviceId };
    let result;
    try {
      result = await this.messages.send(device, frame.destination, frame.message);
    } catch {
      this.logger.error('websocket send failed', { kind: 'internal' });
      result = { status: 500, body: { error: ErrorCode.Internal, message: 'internal error' } };
    }
    connection.send(JSON.stringify({ type: 'result', id: frame.id, status: result.status, body: result.body }));
  }
}
