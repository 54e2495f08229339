/**
 * The attachment uploader: puts the blobs of queued attachment messages on the server, apart from the outbox pass,
 * so that a large upload never holds up the texts, receipts and other messages queued behind it (to the same
 * conversation or to others). Uploads run one at a time, in the order the messages were written, under their own
 * lock (one uploader across tabs and processes); each resumes from the server's offset, and an upload the server
 * could not be asked for when the file was sent is created here. While an entry's uploads are unfinished, its
 * `attempts`/`nextAttemptAt` are the uploader's backoff; when they are done they are reset and the outbox is kicked
 * to send the message. The message itself stays where it was written in the sender's history; its recipient sees
 * it when it arrives, after any text sent during the upload. It does not encrypt or send messages (outbox.ts) and
 * decides nothing about failures: the outbox's rules (permanent or retried, give up after a day) apply.
 */
import { CoalescedPasses } from '../coalesced-passes.js';
import type { MessengerContext } from '../context.js';
import { UPLOAD_LOCK, peerLock } from '../context.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { TimerHandle } from '../platform.js';
import type { OutboxEntry } from '../tables.js';
import { hasPendingUploads, runUploads } from './attachment-service.js';

export type UploadQueueHooks = {
  /** An entry's uploads are all on the server: its message can be sent. */
  uploaded(): void;
  /**
   * An upload failed: the outbox marks the message failed (returning null) or reschedules the entry with backoff
   * (returning when it is due).
   */
  failed(entry: OutboxEntry, error: unknown): Promise<number | null>;
};

export class UploadQueue {
  private readonly passes: CoalescedPasses;
  private timer: TimerHandle | null = null;
  private stopped = false;
  /** The first pass after a start (or a reconnect) ignores backoff, as the outbox does. */
  private ignoreBackoff = true;
  /** Entries whose uploads this queue finished (drain() asks whether a run made a message sendable). */
  completed = 0;

  constructor(
    private readonly ctx: MessengerContext,
    private readonly hooks: UploadQueueHooks,
  ) {
    this.passes = new CoalescedPasses(
      ctx.platform.locks,
      UPLOAD_LOCK,
      () => this.pass(),
      () => this.stopped,
    );
  }

  /** Starts a pass soon (coalesced with a running one). */
  kick(): void {
    if (this.stopped) return;
    void this.flush().catch((error: unknown) => {
      this.ctx.platform.logger.warn('upload pass failed', { name: error instanceof Error ? error.name : 'unknown' });
    });
  }

  /** Runs passes until no upload is due now; resolves when done. */
  flush(): Promise<void> {
    return this.passes.run();
  }

  /** Resolves when no pass is running. */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  /** Stops between pieces (a piece in flight finishes; its offset is committed); uploads resume on the next start. */
  stop(): void {
    this.stopped = true;
    if (this.timer) this.ctx.platform.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  resume(): void {
    this.stopped = false;
  }

  /** Makes every waiting upload due now (after a reconnect). */
  retryNow(): void {
    this.ignoreBackoff = true;
    this.kick();
  }

  private async pass(): Promise<void> {
    const { storage, clock } = this.ctx.platform;
    const ignoreBackoff = this.ignoreBackoff;
    this.ignoreBackoff = false;
    const entries = (await storage.list('outbox')).filter(({ value }) => hasPendingUploads(value));
    let nextDue = Infinity;
    for (const { value: entry } of entries) {
      if (this.stopped) return;
      if (entry.nextAttemptAt > clock.now() && !ignoreBackoff) {
        nextDue = Math.min(nextDue, entry.nextAttemptAt);
        continue;
      }
      try {
        const outcome = await runUploads(this.ctx, entry, () => this.stopped);
        if (outcome === 'stopped') return;
        if (outcome === 'uploaded') {
          await this.markUploaded(entry);
          this.completed += 1;
          this.hooks.uploaded();
        }
      } catch (error) {
        const due = await this.hooks.failed(entry, error);
        if (due !== null) nextDue = Math.min(nextDue, due);
        // Every other upload would meet the same unreachable server: wait for the backoff (or a reconnect).
        if (error instanceof ClientError && error.code === ClientErrorCode.ServerUnreachable) break;
      }
    }
    if (this.timer) clock.clearTimeout(this.timer);
    this.timer = null;
    if (nextDue !== Infinity && !this.stopped) {
      this.timer = clock.setTimeout(
        () => {
          this.timer = null;
          this.kick();
        },
        Math.max(0, nextDue - clock.now()),
      );
    }
  }

  /** The uploader's backoff is over: the outbox sends the entry at once, with a fresh count of attempts. */
  private async markUploaded(entry: OutboxEntry): Promise<void> {
    const { storage, clock } = this.ctx.platform;
    await this.ctx.platform.locks.withLock(peerLock(entry.destination), async () => {
      const current = await storage.get('outbox', entry.id);
      if (!current) return;
      await storage.commit([
        {
          op: 'put',
          table: 'outbox',
          key: entry.id,
          value: { ...current, attempts: 0, nextAttemptAt: clock.now(), lastError: null },
        },
      ]);
    });
  }
}
