/**
 * The live connection to the server's WebSocket (`/v1/websocket`, frames in @cove/protocol): authenticates with the
 * device credential in the first frame, passes envelopes and the `queue-empty` marker to the inbox, sends acks,
 * carries sends (a `send` frame answered by a `result` with the same id), pings to detect dead connections, and
 * reconnects with jittered exponential backoff — except after an unauthorized, replaced or removed close, which stop
 * it — or at once when asked (`reconnectNow`: the network or the user came back). It does not decrypt, store or decide
 * what to send.
 */
import { CloseCode, ServerFrame, toBase64 } from '@cove/protocol';
import type { Envelope, SendMessagesRequest, SendMultiRequest } from '@cove/protocol';

import type { Credentials, MultiSendOutcome, SendOutcome } from './api-client.js';
import { multiSendOutcome, sendOutcome } from './api-client.js';
import {
  PING_INTERVAL_MS,
  PONG_TIMEOUT_MS,
  RECONNECT_BASE_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_MS,
  SOCKET_AUTH_TIMEOUT_MS,
  SOCKET_SEND_TIMEOUT_MS,
} from './constants.js';
import type { ConnectionState } from './events.js';
import type { ClientSocket, Clock, Logger, Random, SocketFactory, TimerHandle } from './platform.js';

export type ConnectionHandlers = {
  onEnvelope(envelope: Envelope): void;
  onQueueEmpty(): void;
  onReady(): void;
  onState(state: ConnectionState): void;
};

/** A send waiting for its `result`: `settle` interprets the status and body (and may throw: then `reject`). */
type PendingSend = {
  settle: (status: number, body: unknown) => void;
  reject: (error: Error) => void;
  timer: TimerHandle;
};

/** Raised for a socket send that got no answer (closed connection, timeout); the caller retries elsewhere. */
export class SocketSendError extends Error {
  override readonly name = 'SocketSendError';
}

export class ServerConnection {
  private socket: ClientSocket | null = null;
  private ready = false;
  private stopped = true;
  private attempts = 0;
  private reconnectTimer: TimerHandle | null = null;
  private pingTimer: TimerHandle | null = null;
  private pongTimer: TimerHandle | null = null;
  private authTimer: TimerHandle | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingSend>();
  private state: ConnectionState = 'stopped';

  constructor(
    private readonly url: string,
    private readonly credentials: Credentials,
    private readonly sockets: SocketFactory,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly handlers: ConnectionHandlers,
    private readonly random: Random,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  get currentState(): ConnectionState {
    return this.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    this.detach();
    socket?.close(1000, 'client stopping');
    this.setState('stopped');
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState(state);
  }

  private open(): void {
    this.setState('connecting');
    const socket = this.sockets.connect(this.url);
    this.socket = socket;
    socket.onOpen = () => {
      if (this.socket !== socket) return;
      socket.send(
        JSON.stringify({
          type: 'auth',
          accountId: this.credentials.accountId,
          deviceId: this.credentials.deviceId,
          secret: toBase64(this.credentials.secret),
        }),
      );
      this.authTimer = this.clock.setTimeout(() => {
        if (this.socket === socket && !this.ready) socket.close(4000, 'no ready frame');
      }, SOCKET_AUTH_TIMEOUT_MS);
    };
    socket.onMessage = (text) => {
      if (this.socket === socket) this.onFrame(text);
    };
    socket.onError = (error) => {
      if (this.socket === socket) this.logger.debug('socket error', { error: error.message });
    };
    socket.onClose = (code, reason) => {
      if (this.socket !== socket) return;
      this.detach();
      this.logger.info('socket closed', { code, reason });
      if (code === CloseCode.Unauthorized) return this.halt('unauthorized');
      if (code === CloseCode.Replaced) return this.halt('replaced');
      if (code === CloseCode.DeviceRemoved) return this.halt('removed');
      if (this.stopped) return;
      this.setState('offline');
      this.scheduleReconnect();
    };
  }

  private halt(state: ConnectionState): void {
    this.stopped = true;
    this.setState(state);
  }

  /** Drops the current socket: pending sends fail (the outbox retries them), timers stop. */
  private detach(): void {
    this.clearTimers();
    this.socket = null;
    this.ready = false;
    for (const [id, pending] of this.pending) {
      this.clock.clearTimeout(pending.timer);
      pending.reject(new SocketSendError('connection closed before the server answered'));
      this.pending.delete(id);
    }
  }

  private clearTimers(): void {
    for (const timer of [this.pingTimer, this.pongTimer, this.authTimer]) if (timer) this.clock.clearTimeout(timer);
    this.pingTimer = this.pongTimer = this.authTimer = null;
  }

  private scheduleReconnect(): void {
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** this.attempts);
    const [byte = 0] = this.random.bytes(1);
    const delay = Math.round(ceiling * (1 - RECONNECT_JITTER * (byte / 255)));
    this.attempts += 1;
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  /**
   * Tries now instead of waiting out the backoff: called when the network returns or the page becomes visible or
   * focused. While waiting to reconnect it opens at once (and restarts the backoff); while connected it pings, so a
   * connection that died silently (a laptop that slept) is noticed within PONG_TIMEOUT_MS instead of the next
   * heartbeat. Does nothing when stopped or while an attempt is already under way.
   */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.reconnectTimer) {
      this.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.attempts = 0;
      this.open();
      return;
    }
    const socket = this.socket;
    if (!socket || !this.ready || this.pongTimer) return;
    if (this.pingTimer) this.clock.clearTimeout(this.pingTimer);
    this.pingTimer = null;
    this.sendPing(socket);
  }

  private schedulePing(): void {
    if (this.pingTimer) this.clock.clearTimeout(this.pingTimer);
    this.pingTimer = this.clock.setTimeout(() => {
      this.pingTimer = null;
      const socket = this.socket;
      if (!socket || !this.ready) return;
      this.sendPing(socket);
    }, PING_INTERVAL_MS);
  }

  private sendPing(socket: ClientSocket): void {
    socket.send(JSON.stringify({ type: 'ping' }));
    this.pongTimer = this.clock.setTimeout(() => {
      if (this.socket === socket) {
        this.logger.info('no pong: dropping the connection');
        socket.close(4000, 'heartbeat timeout');
        // Some sockets never report the close of a dead TCP connection: act as if it closed.
        socket.onClose(1006, 'heartbeat timeout');
      }
    }, PONG_TIMEOUT_MS);
  }

  private onFrame(text: string): void {
    let frame: ServerFrame;
    try {
      frame = ServerFrame.parse(JSON.parse(text));
    } catch {
      this.logger.warn('ignoring a malformed frame from the server');
      return;
    }
    switch (frame.type) {
      case 'ready':
        if (this.authTimer) this.clock.clearTimeout(this.authTimer);
        this.authTimer = null;
        this.ready = true;
        this.attempts = 0;
        this.setState('online');
        this.schedulePing();
        this.handlers.onReady();
        return;
      case 'envelope':
        this.handlers.onEnvelope(frame.envelope);
        return;
      case 'queue-empty':
        this.handlers.onQueueEmpty();
        return;
      case 'pong':
        if (this.pongTimer) this.clock.clearTimeout(this.pongTimer);
        this.pongTimer = null;
        this.schedulePing();
        return;
      case 'result': {
        const pending = typeof frame.id === 'number' ? this.pending.get(frame.id) : undefined;
        if (!pending || typeof frame.id !== 'number') return;
        this.pending.delete(frame.id);
        this.clock.clearTimeout(pending.timer);
        try {
          pending.settle(frame.status, frame.body);
        } catch (error) {
          pending.reject(error as Error);
        }
        return;
      }
      case 'error': {
        this.logger.warn('server error frame', { error: frame.error });
        const pending = typeof frame.id === 'number' ? this.pending.get(frame.id) : undefined;
        if (pending && typeof frame.id === 'number') {
          this.pending.delete(frame.id);
          this.clock.clearTimeout(pending.timer);
          pending.reject(new SocketSendError(`server error ${frame.error}`));
        }
        return;
      }
    }
  }

  /** Acknowledges processed envelopes; lost acks only cause a redelivery that the inbox dedupes. */
  ack(guids: string[]): boolean {
    if (!this.socket || !this.ready || guids.length === 0) return false;
    for (let i = 0; i < guids.length; i += 100)
      this.socket.send(JSON.stringify({ type: 'ack', guids: guids.slice(i, i + 100) }));
    return true;
  }

  /** Sends over the socket; rejects with SocketSendError when it cannot (the caller uses HTTP instead). */
  send(destination: string, message: SendMessagesRequest): Promise<SendOutcome> {
    return this.request({ type: 'send', destination, message }, sendOutcome);
  }

  /** A multi-recipient send (`send-multi`) over the socket; rejects with SocketSendError when it cannot. */
  sendMulti(message: SendMultiRequest): Promise<MultiSendOutcome> {
    return this.request({ type: 'send-multi', message }, multiSendOutcome);
  }

  private request<T>(frame: Record<string, unknown>, interpret: (status: number, body: unknown) => T): Promise<T> {
    const socket = this.socket;
    if (!socket || !this.ready) return Promise.reject(new SocketSendError('not connected'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.delete(id)) reject(new SocketSendError('no answer to a send frame'));
      }, SOCKET_SEND_TIMEOUT_MS);
      this.pending.set(id, { settle: (status, body) => resolve(interpret(status, body)), reject, timer });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }
}
