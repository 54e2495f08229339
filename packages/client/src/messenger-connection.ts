/**
 * The messenger's use of the server connection: opens the socket layer (connection.ts) with the account's
 * credentials and wires it to the inbox and outbox — envelopes into the inbox and acks back, `queue-empty` once the
 * inbox drained, and on every `ready` the outbox retried, the expiry sweep run and scheduled every minute while
 * connected, and prekey upkeep run. It turns connection states into `connection` events and into the outcome of
 * `connect()` (resolved on ready; rejected on an unauthorized, replaced, removed or stopped connection, or, with
 * `failFast`, when the first attempt cannot reach the server), and fetches pending envelopes over HTTP for callers
 * without a socket. It does not frame, authenticate, ping or back off (connection.ts does), decrypt or store (the
 * inbox does), or run the upkeep itself (the facade hands it in).
 */
import { ServerConnection } from './connection.js';
import { EXPIRY_SWEEP_INTERVAL_MS } from './constants.js';
import type { MessengerContext } from './context.js';
import { emit } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import type { ConnectionState } from './events.js';
import type { Inbox, InboxResult } from './inbox.js';
import type { Outbox } from './outbox.js';
import type { Platform, TimerHandle } from './platform.js';
import { sweepExpired } from './sweeps.js';

/** What the connection needs from the facade: its prekey upkeep, and whether the messenger was closed for good. */
export type ConnectionHooks = {
  upkeep(): Promise<unknown>;
  isClosed(): boolean;
};

/** The account's parts the connection drives; they exist once an account was registered or opened. */
export type ConnectionParts = { ctx: MessengerContext; inbox: Inbox; outbox: Outbox };

type ReadyWaiter = { resolve: () => void; reject: (error: Error) => void; failFast: boolean };

export class MessengerConnection {
  private connection: ServerConnection | null = null;
  private partsValue: ConnectionParts | null = null;
  private sweepTimer: TimerHandle | null = null;
  private queueEmptyWaiters: (() => void)[] = [];
  private readyWaiters: ReadyWaiter[] = [];

  constructor(
    private readonly platform: Platform,
    private readonly hooks: ConnectionHooks,
  ) {}

  /** Hands in the account's parts (on open or after registration). */
  attach(parts: ConnectionParts): void {
    this.partsValue = parts;
  }

  private get parts(): ConnectionParts {
    if (!this.partsValue) throw new ClientError(ClientErrorCode.NotRegistered, 'no account here: register first');
    return this.partsValue;
  }

  /** The socket layer while a connection is kept (the outbox and typing send over it when it is ready). */
  get socket(): ServerConnection | null {
    return this.connection;
  }

  get state(): ConnectionState {
    return this.connection?.currentState ?? 'stopped';
  }

  /**
   * Opens the live connection (reconnecting until `disconnect`); resolves once the server said `ready`. With
   * `failFast`, a first attempt that cannot reach the server rejects with `server_unreachable` (and stops) instead
   * of waiting for the server to come back.
   */
  async connect(options: { failFast?: boolean } = {}): Promise<void> {
    const { ctx, inbox, outbox } = this.parts;
    outbox.resume();
    if (!this.connection) {
      this.connection = new ServerConnection(
        ctx.api.webSocketUrl,
        { accountId: ctx.account.accountId, deviceId: ctx.account.deviceId, secret: ctx.account.secret },
        this.platform.sockets,
        this.platform.clock,
        this.platform.logger,
        {
          onEnvelope: (envelope) => {
            void inbox
              .handle(envelope, (guid) => {
                this.connection?.ack([guid]);
              })
              .catch((error: unknown) =>
                this.platform.logger.error('envelope processing failed', {
                  error: error instanceof Error ? error.name : 'unknown',
                }),
              );
          },
          onQueueEmpty: () => {
            void inbox.drain().then(() => {
              emit(ctx, { type: 'queue-empty' });
              const waiters = this.queueEmptyWaiters;
              this.queueEmptyWaiters = [];
              for (const resolve of waiters) resolve();
            });
          },
          onReady: () => {
            const waiters = this.readyWaiters;
            this.readyWaiters = [];
            for (const waiter of waiters) waiter.resolve();
            outbox.retryNow();
            void sweepExpired(ctx).then(
              () => this.scheduleSweep(),
              () => this.scheduleSweep(),
            );
            void this.hooks.upkeep().catch((error: unknown) =>
              this.platform.logger.warn('prekey upkeep failed', {
                error: error instanceof Error ? error.message : 'unknown',
              }),
            );
          },
          onState: (state) => this.onConnectionState(state),
        },
        this.platform.random,
      );
    }
    if (this.connection.isReady) return;
    const readyPromise = new Promise<void>((resolve, reject) =>
      this.readyWaiters.push({ resolve, reject, failFast: options.failFast ?? false }),
    );
    this.connection.start();
    await readyPromise;
  }

  private onConnectionState(state: ConnectionState): void {
    const { ctx } = this.parts;
    emit(ctx, { type: 'connection', state });
    if (state === 'offline' && this.readyWaiters.some((w) => w.failFast)) {
      const failing = this.readyWaiters.filter((w) => w.failFast);
      this.readyWaiters = this.readyWaiters.filter((w) => !w.failFast);
      if (this.readyWaiters.length === 0) {
        this.connection?.stop();
        this.connection = null;
      }
      const error = new ClientError(
        ClientErrorCode.ServerUnreachable,
        `cannot reach the server at ${ctx.account.serverUrl}`,
      );
      for (const waiter of failing) waiter.reject(error);
      return;
    }
    if (state === 'unauthorized' || state === 'replaced' || state === 'removed' || state === 'stopped') {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      const error =
        state === 'unauthorized'
          ? new ClientError(ClientErrorCode.Unauthorized, "the server rejected this device's credentials")
          : new ClientError(ClientErrorCode.ServerError, `connection ${state}`);
      for (const waiter of waiters) waiter.reject(error);
    }
  }

  /** Reconnects at once instead of waiting out the backoff (the network or the user came back); see connection.ts. */
  reconnectNow(): void {
    this.connection?.reconnectNow();
  }

  /** Resolves at the next `queue-empty` (all stored envelopes delivered and processed). */
  waitForQueueEmpty(): Promise<void> {
    return new Promise((resolve) => this.queueEmptyWaiters.push(resolve));
  }

  /** Closes the live connection and waits for in-flight work; queued sends stay in the outbox. */
  async disconnect(): Promise<void> {
    if (this.sweepTimer) this.platform.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    this.connection?.stop();
    this.connection = null;
    this.partsValue?.outbox.stop();
    await this.partsValue?.inbox.drain();
    await this.partsValue?.outbox.idle();
  }

  /**
   * Fetches and processes pending envelopes over HTTP (no socket: a service worker woken by a push, a cron job),
   * acknowledging each after it is stored, then sends the resulting receipts; returns what happened to each.
   */
  async fetchPending(): Promise<InboxResult[]> {
    const { ctx, inbox, outbox } = this.parts;
    const { api } = ctx;
    const results: InboxResult[] = [];
    for (;;) {
      const page = await api.fetchEnvelopes();
      for (const envelope of page.envelopes)
        results.push(await inbox.handle(envelope, (guid) => api.acknowledge(guid)));
      if (!page.more || page.envelopes.length === 0) break;
    }
    // Delivery receipts (and re-sends) for what was just stored go out now: the caller may be a short-lived worker.
    if (results.some((r) => r !== 'duplicate')) await outbox.flush();
    return results;
  }

  /** The expiry sweep again in a minute, while connected and not closed. */
  private scheduleSweep(): void {
    if (this.sweepTimer || this.hooks.isClosed()) return;
    this.sweepTimer = this.platform.clock.setTimeout(() => {
      this.sweepTimer = null;
      if (!this.connection) return;
      const { ctx } = this.parts;
      void sweepExpired(ctx)
        .catch((error: unknown) =>
          this.platform.logger.warn('expiry sweep failed', { error: error instanceof Error ? error.name : 'unknown' }),
        )
        .then(() => this.scheduleSweep());
    }, EXPIRY_SWEEP_INTERVAL_MS);
  }
}
