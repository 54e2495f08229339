/**
 * The live WebSocket connections of this instance, keyed by `${accountId}.${deviceId}` (one per device: a new one
 * replaces the old), and the `ws` specifics: frame I/O, close codes, protocol-level heartbeats and backpressure.
 * A connection buffers envelopes that arrive while its stored queue is still being drained, so live envelopes never
 * overtake stored ones. What frames mean is the WebSocket service's business, not this module's.
 */
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { Socket } from 'node:net';

import type { WebSocket } from 'ws';

/** A slow reader with this much unsent data is disconnected; it drains its queue from the database on reconnect. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export type ConnectionState = 'authenticating' | 'draining' | 'live' | 'closed';

export interface ConnectionHandlers {
  onText(connection: WebSocketConnection, text: string): void;
  onClose(connection: WebSocketConnection): void;
}

export class WebSocketConnection {
  state: ConnectionState = 'authenticating';
  accountId = '';
  deviceId = 0;
  /** Set by any traffic from the peer, cleared by each heartbeat round. */
  alive = true;
  authTimer: NodeJS.Timeout | undefined;
  private corked = false;
  /** Envelopes (guid, frame text) that arrived live while the stored queue was being sent. */
  private pending: Array<[string, string]> | undefined;

  constructor(private readonly socket: WebSocket) {}

  get key(): string {
    return `${this.accountId}.${this.deviceId}`;
  }

  get open(): boolean {
    return this.state !== 'closed' && this.socket.readyState === 1;
  }

  send(text: string): void {
    if (!this.open) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close(1013, 'reader too slow');
      return;
    }
    this.cork();
    this.socket.send(text);
  }

  /**
   * Holds this connection's writes until the current event-loop phase ends, so the frames of one group commit (an
   * envelope burst, a sender's results) leave in one write system call instead of one each.
   */
  private cork(): void {
    if (this.corked) return;
    const raw = (this.socket as unknown as { _socket?: Socket })._socket;
    if (!raw) return;
    this.corked = true;
    raw.cork();
    setImmediate(() => {
      this.corked = false;
      raw.uncork();
    });
  }

  /** Sends a live envelope now, or after the stored queue when it is still being drained. */
  deliver(guid: string, text: string): boolean {
    if (this.state === 'draining') {
      (this.pending ??= []).push([guid, text]);
      return true;
    }
    if (this.state !== 'live') return false;
    this.send(text);
    return true;
  }

  startDraining(): void {
    this.state = 'draining';
    this.pending = [];
  }

  /** Ends draining: returns the live envelopes buffered meanwhile and switches to live delivery. */
  finishDraining(): Array<[string, string]> {
    const pending = this.pending ?? [];
    this.pending = undefined;
    if (this.state === 'draining') this.state = 'live';
    return pending;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.authTimer) clearTimeout(this.authTimer);
    this.pending = undefined;
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  terminate(): void {
    this.state = 'closed';
    this.socket.terminate();
  }

  ping(): void {
    if (this.socket.readyState === 1) this.socket.ping();
  }
}

@Injectable()
export class WebSocketRepository implements OnModuleDestroy {
  private readonly connections = new Map<string, WebSocketConnection>();
  private readonly all = new Set<WebSocketConnection>();
  private heartbeat: NodeJS.Timeout | undefined;

  /** Takes over a raw `ws` socket handed over by the gateway. */
  adopt(raw: unknown, handlers: ConnectionHandlers): WebSocketConnection {
    const socket = raw as WebSocket;
    const connection = new WebSocketConnection(socket);
    this.all.add(connection);
    socket.on('message', (data, isBinary) => {
      connection.alive = true;
      if (isBinary) {
        connection.close(1003, 'binary frames are not supported');
        return;
      }
      handlers.onText(connection, (data as Buffer).toString('utf8'));
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connection.state = 'closed';
      if (connection.authTimer) clearTimeout(connection.authTimer);
      this.all.delete(connection);
      if (this.connections.get(connection.key) === connection) this.connections.delete(connection.key);
      handlers.onClose(connection);
    });
    return connection;
  }

  /** Registers an authenticated connection; returns the one it replaces, if any. */
  register(connection: WebSocketConnection): WebSocketConnection | undefined {
    const previous = this.connections.get(connection.key);
    this.connections.set(connection.key, connection);
    return previous === connection ? undefined : previous;
  }

  get(accountId: string, deviceId: number): WebSocketConnection | undefined {
    return this.connections.get(`${accountId}.${deviceId}`);
  }

  get size(): number {
    return this.connections.size;
  }

  /** Pings every connection each `intervalMs`; a connection silent for a whole round is terminated. */
  startHeartbeat(intervalMs: number, onDead: (connection: WebSocketConnection) => void): void {
    this.heartbeat = setInterval(() => {
      for (const connection of this.all) {
        if (!connection.alive) {
          onDead(connection);
          connection.terminate();
          continue;
        }
        connection.alive = false;
        connection.ping();
      }
    }, intervalMs);
    this.heartbeat.unref();
  }

  closeAll(code: number, reason: string): void {
    for (const connection of this.all) connection.close(code, reason);
  }

  onModuleDestroy(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.closeAll(1001, 'server shutting down');
  }
}

/**
 * Nest's `ws` adapter without its per-message JSON parse and event routing (frames are parsed once, by the
 * WebSocket service) and without logging every client error.
 */
export class RawWsAdapter extends WsAdapter {
  override bindMessageHandlers(): void {
    return undefined;
  }

  override bindErrorHandler<T>(server: T): T {
    (server as unknown as { on(event: string, cb: () => void): void }).on('error', () => undefined);
    return server;
  }
}
