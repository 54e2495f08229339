/**
 * The live WebSocket connections of this instance, keyed by `${accountId}.${deviceId}` (one per device: a new one
 * replaces the old), and the `ws` specifics: frame I/O, close codes, protocol-level heartbeats and flow control.
 *
 * Flow control: envelope frames are written only while the socket's buffer holds less than
 * {@link WEBSOCKET_HIGH_WATER_BYTES}; whoever writes them waits for the buffer to drain ({@link
 * WebSocketConnection.waitWritable}). While a connection's stored queue is being drained, or after a live envelope
 * found its buffer full, live envelopes are not written but noted by guid (they are in the database) and sent by
 * the WebSocket service after the ones before them, so they never overtake stored ones and never pile up in memory.
 * What frames mean and where envelopes come from is the WebSocket service's business, not this module's.
 */
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { Socket } from 'node:net';

import type { WebSocket } from 'ws';

/**
 * Envelope frames are written while less than this waits in a socket's buffer. 1 MiB keeps a fast link busy while
 * the next page is read from the database (the kernel's own send buffer holds more), and bounds what a slow reader
 * costs: at most this plus one frame (≈ 88 KiB) per connection.
 */
export const WEBSOCKET_HIGH_WATER_BYTES = 1024 * 1024;
/**
 * Control frames (results, pongs, errors) are not flow-controlled; a peer that lets this much pile up without reading
 * is disconnected (it can only get there by sending requests and never reading the answers).
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * Live envelopes noted (by guid, ≈ 100 bytes each) for a connection that is draining or catching up. More means the
 * reader is far behind: it is closed and drains from the database when it reconnects. Matches the default queue cap.
 */
const MAX_PENDING_ENVELOPES = 10_000;

/** Close code and reason for the frame errors `ws` reports by code (RFC 6455 §7.4.1). */
const FRAME_ERRORS: Record<string, [number, string]> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: [1009, 'frame too large'],
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: [1009, 'frame too large'],
  WS_ERR_INVALID_UTF8: [1007, 'text frame is not valid UTF-8'],
};

/**
 * One unmasked, unfragmented text frame (RFC 6455 §5.2: what a server sends) as a single buffer, header and payload
 * together: one socket write per frame instead of `ws`'s two (header, then the string), and no per-frame options
 * object. Frames are whole and written synchronously, as `ws` writes its own (pings, closes), so the two never
 * interleave inside a frame; `ws` counts these bytes in `bufferedAmount` like its own (the socket's buffer).
 */
function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + text opcode
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** Connections corked in the current event-loop phase, uncorked together by {@link uncorkAll}. */
let corkedConnections: WebSocketConnection[] = [];

function uncorkAll(): void {
  const connections = corkedConnections;
  corkedConnections = [];
  for (const connection of connections) connection.uncork();
}

/**
 * `authenticating` until the auth frame succeeds; `draining` while the stored queue is sent (until `queue-empty`);
 * `live` while envelopes are written as they arrive; `catching-up` after a live envelope found the socket's buffer
 * full, until the envelopes noted meanwhile have been sent; `closed`.
 */
export type ConnectionState = 'authenticating' | 'draining' | 'live' | 'catching-up' | 'closed';

export interface ConnectionHandlers {
  onText(connection: WebSocketConnection, text: string): void;
  onClose(connection: WebSocketConnection): void;
  /** A live envelope found the socket's buffer full: send the noted envelopes once it drains ({@link takePending}). */
  onBehind(connection: WebSocketConnection): void;
}

export class WebSocketConnection {
  state: ConnectionState = 'authenticating';
  accountId = '';
  deviceId = 0;
  /** The same device as one object, set with them on authentication: handed to the services with each frame. */
  device: { readonly accountId: string; readonly deviceId: number } = { accountId: '', deviceId: 0 };
  /** The client's address (as for HTTP requests), for the failed-authentication throttle. */
  address: string | undefined;
  /** Set by any traffic from the peer, cleared by each heartbeat round. */
  alive = true;
  authTimer: NodeJS.Timeout | undefined;
  private corked = false;
  /** Guids of live envelopes not written yet (draining or catching up), in arrival order. */
  private pending: string[] = [];
  /** Writers waiting for the buffer to drain below the high-water mark. */
  private waiters: Array<() => void> = [];
  /** The buffered amount seen by the last heartbeat round while a writer was waiting (no progress = stalled). */
  private bufferedAtLastRound: number | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly handlers: ConnectionHandlers,
  ) {}

  get key(): string {
    return `${this.accountId}.${this.deviceId}`;
  }

  get open(): boolean {
    return this.state !== 'closed' && this.socket.readyState === 1;
  }

  /** Bytes written to this connection and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Writes a frame now (control frames, and envelope frames whose writer checked {@link waitWritable}). */
  send(text: string): void {
    if (!this.open) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close(1013, 'reader too slow');
      return;
    }
    this.cork();
    const raw = this.raw;
    if (raw) raw.write(textFrame(text));
    else this.socket.send(text);
  }

  /**
   * Holds this connection's writes until the current event-loop phase ends, so the frames of one group commit (an
   * envelope burst, a sender's results) leave in one write system call instead of one each. One immediate uncorks
   * every socket corked in the phase (not one timer and closure per connection).
   */
  private cork(): void {
    if (this.corked) return;
    const raw = this.raw;
    if (!raw) return;
    this.corked = true;
    raw.cork();
    corkedConnections.push(this);
    if (corkedConnections.length === 1) setImmediate(uncorkAll);
  }

  /** Lets the writes held since {@link cork} go (called once per corked phase, by {@link uncorkAll}). */
  uncork(): void {
    this.corked = false;
    this.raw?.uncork();
  }

  private get raw(): Socket | undefined {
    return (this.socket as unknown as { _socket?: Socket })._socket;
  }

  /**
   * Resolves true once less than the high-water mark waits in the buffer (at once if that is already so), false if
   * the connection closed meanwhile. A peer that never reads is dropped by the heartbeat ({@link stalled}).
   */
  async waitWritable(): Promise<boolean> {
    while (this.open && this.socket.bufferedAmount > WEBSOCKET_HIGH_WATER_BYTES) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.bufferedAtLastRound = undefined;
    return this.open;
  }

  /**
   * The buffer drained (progress, even if writers fill it again before the next heartbeat round), or the connection
   * closed: wake the waiting writers (they re-check).
   */
  wake(): void {
    this.bufferedAtLastRound = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Called once per heartbeat round: true when a writer has been waiting since the previous round and the buffer
   * did not shrink in between (the peer reads nothing, even if it still sends).
   */
  stalled(): boolean {
    if (this.waiters.length === 0) {
      this.bufferedAtLastRound = undefined;
      return false;
    }
    const buffered = this.socket.bufferedAmount;
    const stalled = this.bufferedAtLastRound !== undefined && buffered >= this.bufferedAtLastRound;
    this.bufferedAtLastRound = buffered;
    return stalled;
  }

  /**
   * A live envelope, committed to the database: written now when the connection is live and its buffer has room,
   * otherwise noted by guid and sent later, in order, by the WebSocket service. False when this connection cannot
   * take it (not authenticated, closed, or too far behind: then it is closed and drains again on reconnect).
   */
  deliver(guid: string, text: string): boolean {
    switch (this.state) {
      case 'live':
        if (this.socket.bufferedAmount <= WEBSOCKET_HIGH_WATER_BYTES) {
          this.send(text);
          return true;
        }
        this.state = 'catching-up';
        this.pending.push(guid);
        this.handlers.onBehind(this);
        return true;
      case 'draining':
      case 'catching-up':
        if (this.pending.length >= MAX_PENDING_ENVELOPES) {
          this.close(1013, 'reader too slow');
          return false;
        }
        this.pending.push(guid);
        return true;
      case 'authenticating':
      case 'closed':
        return false;
    }
  }

  startDraining(): void {
    this.state = 'draining';
    this.pending = [];
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Up to `max` noted live envelopes, oldest first, removed from the list. */
  takePending(max: number): string[] {
    return this.pending.splice(0, max);
  }

  /**
   * Switches to live delivery when no noted envelope is left (synchronously, so none can slip in between); false
   * when some arrived meanwhile and must be sent first.
   */
  goLive(): boolean {
    if (this.state !== 'draining' && this.state !== 'catching-up') return false;
    if (this.pending.length) return false;
    this.state = 'live';
    return true;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.markClosed();
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  terminate(): void {
    this.markClosed();
    this.socket.terminate();
  }

  /** The socket closed (either side): forget what was pending and release waiting writers. */
  markClosed(): void {
    this.state = 'closed';
    if (this.authTimer) clearTimeout(this.authTimer);
    this.pending = [];
    this.wake();
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
    const connection = new WebSocketConnection(socket, handlers);
    this.all.add(connection);
    /** The kernel took everything buffered: writers waiting for room may go on. */
    (socket as unknown as { _socket?: Socket })._socket?.on('drain', () => connection.wake());
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
    /**
     * `ws` closes a socket whose frame it cannot read (too large, bad UTF-8, protocol errors) with a code but no
     * reason; listening first, we close it the same way with one (ws's own close then finds it closing already).
     */
    (
      socket as unknown as { _receiver?: { prependListener(event: 'error', cb: (e: { code?: string }) => void): void } }
    )._receiver?.prependListener('error', (error) => {
      const [code, reason] = FRAME_ERRORS[error.code ?? ''] ?? [1002, 'malformed frame'];
      connection.close(code, reason);
    });
    socket.on('close', () => {
      connection.markClosed();
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

  /** Every authenticated connection of this instance (a snapshot). */
  authenticated(): WebSocketConnection[] {
    return [...this.connections.values()];
  }

  /**
   * Pings every connection each `intervalMs`. A connection silent for a whole round is terminated (`heartbeat`), and
   * so is one that read nothing for a whole round while envelopes waited for room in its buffer (`stalled`): a peer
   * that keeps sending but never reads would otherwise hold its drain forever.
   */
  startHeartbeat(
    intervalMs: number,
    onDead: (connection: WebSocketConnection, reason: 'heartbeat' | 'stalled') => void,
  ): void {
    this.heartbeat = setInterval(() => {
      for (const connection of this.all) {
        const reason = !connection.alive ? 'heartbeat' : connection.stalled() ? 'stalled' : undefined;
        if (reason) {
          onDead(connection, reason);
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
