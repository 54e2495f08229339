/**
 * The rules of attachment storage. An upload (tus) must declare its length up front, at most `ATTACHMENT_MAX_BYTES`
 * (`413 attachment_too_large`), and fit in the account's quota `ATTACHMENT_QUOTA_BYTES`, which counts unfinished
 * uploads by their declared length (`507 attachment_quota`); its id is 192 random bits, reserved before tus writes a
 * byte. Only the uploading device may resume (HEAD/PATCH) an upload or delete it unfinished; once finished, any
 * device of its account may delete it. Any authenticated device may download a finished, unexpired attachment by id
 * (the id is the capability, carried inside an end-to-end encrypted message), whole or by one HTTP range. A
 * repeatable job deletes attachments `ATTACHMENT_TTL` after they were finished and uploads left unfinished for
 * `ATTACHMENT_ABANDON_AFTER`. Ids are capabilities: they are never logged. This service does not parse tus itself
 * (the store repository's tus engine does) and never reads the bytes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

import { Injectable } from '@nestjs/common';
import { ErrorCode } from '@cove/protocol';

import { OnJob } from '../decorators.js';
import { JobName } from '../enum.js';
import { AttachmentMetricsRepository } from '../repositories/attachment-metrics.repository.js';
import { AttachmentStoreRepository, type ByteRange } from '../repositories/attachment-store.repository.js';
import { AttachmentRepository, type AttachmentRecord } from '../repositories/attachment.repository.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { ApiError } from './api-error.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { RetentionService } from './retention.service.js';

/** 24 random bytes (192 bits): unguessable however many attachments exist; 32 base64url characters. */
const ID_BYTES = 24;
export const ATTACHMENT_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;
/** Rows purged per query: bounded work per statement, repeated until nothing is left. */
const PURGE_BATCH = 100;
/** The tus protocol version the server speaks (`Tus-Resumable`). */
const TUS_VERSION = '1.0.0';

/** A refusal inside a tus hook: tus answers it with this status and plain-text body. */
class TusRefusal extends Error {
  override readonly name = 'TusRefusal';
  constructor(
    readonly status_code: number,
    readonly body: string,
  ) {
    super(body);
  }
}

/** What a download answers: a status, headers, and for 200/206 the range to stream. */
export type RangeDecision = { status: 200 | 206; range: ByteRange } | { status: 416 };

/**
 * Interprets a `Range` header against a `size`-byte file (RFC 9110 §14): one `bytes=` range (`a-b`, `a-`, `-n`)
 * gives 206, an unsatisfiable one 416; anything else (absent, several ranges, another unit, malformed) is ignored
 * and the whole file is sent, as the RFC allows.
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  const whole: RangeDecision = { status: 200, range: { start: 0, end: size - 1 } };
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return whole;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return whole;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { status: 416 };
    return { status: 206, range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (last !== '' && end < start) return whole;
  if (start >= size) return { status: 416 };
  return { status: 206, range: { start, end: Math.min(end, size - 1) } };
}

@Injectable()
export class AttachmentService {
  constructor(
    private readonly config: ConfigRepository,
    private readonly attachments: AttachmentRepository,
    private readonly store: AttachmentStoreRepository,
    private readonly metrics: AttachmentMetricsRepository,
    private readonly logger: LoggingRepository,
    private readonly clock: Clock,
    private readonly retention: RetentionService,
  ) {}

  private get limits(): ConfigRepository['config']['attachments'] {
    return this.config.config.attachments;
  }

  /** tus creation (`POST`): checks the declared length and the quota, reserves an id, then lets tus create it. */
  async create(device: AuthenticatedDevice, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = req.headers['upload-length'];
    if (
      req.headers['upload-defer-length'] !== undefined ||
      typeof declared !== 'string' ||
      !/^\d{1,16}$/.test(declared)
    ) {
      this.metrics.uploads.inc({ outcome: 'no_length' });
      throw new ApiError(400, ErrorCode.InvalidRequest, 'Upload-Length is required (deferred length is not supported)');
    }
    const size = Number(declared);
    if (size === 0) throw new ApiError(400, ErrorCode.InvalidRequest, 'an attachment has at least one byte');
    if (size > this.limits.maxBytes) {
      this.metrics.uploads.inc({ outcome: 'too_large' });
      throw new ApiError(413, ErrorCode.AttachmentTooLarge, `attachments are at most ${this.limits.maxBytes} bytes`, {
        maxBytes: this.limits.maxBytes,
      });
    }
    const id = randomBytes(ID_BYTES).toString('base64url');
    const outcome = await this.attachments.reserve(
      { id, accountId: device.accountId, deviceId: device.deviceId, size, createdAt: new Date(this.clock.now()) },
      this.limits.quotaBytes,
    );
    if (!outcome.reserved) {
      this.metrics.uploads.inc({ outcome: 'quota' });
      throw new ApiError(507, ErrorCode.AttachmentQuota, 'the account has no room for this attachment', {
        quotaBytes: this.limits.quotaBytes,
        usedBytes: outcome.usedBytes,
      });
    }
    this.metrics.uploads.inc({ outcome: 'created' });
    let created = false;
    try {
      await this.store.handleTus(req, res, { newId: id, onFinished: (done) => this.finished(done) });
      created = res.statusCode < 400;
    } finally {
      /** tus refused or failed the creation (e.g. no `Tus-Resumable`): release the reservation at once. */
      if (!created) await this.discard(id);
    }
  }

  /** tus `HEAD` (offset) and `PATCH` (more bytes) on the caller's own upload. */
  async resume(device: AuthenticatedDevice, id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const row = await this.ownUpload(device, id);
    /** A HEAD on an upload whose bytes all arrived but whose finishing failed finishes it first. */
    const finishedNow =
      !row.completedAt && req.method === 'HEAD'
        ? await this.store.finishIfWhole(id, row.size, (done) => this.finished(done)).catch(() => false)
        : false;
    if (row.completedAt || finishedNow) {
      /** Finished (and perhaps no longer staged): the offset is the whole length; more bytes do not fit. */
      res.setHeader('Tus-Resumable', TUS_VERSION);
      res.setHeader('Upload-Offset', String(row.size));
      res.setHeader('Upload-Length', String(row.size));
      res.setHeader('Cache-Control', 'no-store');
      if (req.method === 'HEAD') {
        res.statusCode = 200;
        res.end();
        return;
      }
      throw new ApiError(409, ErrorCode.InvalidRequest, 'the upload is already complete');
    }
    await this.store.handleTus(req, res, { onFinished: (done) => this.finished(done) });
  }

  /**
   * Deletes one of the caller's uploads, finished or not, and frees its quota. A finished upload may also be deleted
   * by another device of the same account (the new device that imported a history archive its sibling uploaded);
   * an unfinished one only by the device uploading it.
   */
  async remove(device: AuthenticatedDevice, id: string): Promise<void> {
    const row = ATTACHMENT_ID_PATTERN.test(id) ? await this.attachments.find(id) : null;
    const mayDelete =
      row !== null &&
      row.accountId === device.accountId &&
      (row.deviceId === device.deviceId || row.completedAt !== null);
    /** Someone else's upload answers exactly like a missing one. */
    if (!mayDelete) throw this.notFound();
    await this.discard(id);
  }

  /**
   * Deletes every upload of a deleted account, blob then row. A blob the store fails to delete keeps its row, so the
   * expiry job retries it; returns how many were removed.
   */
  async removeAccount(accountId: string): Promise<number> {
    let removed = 0;
    for (const id of await this.attachments.idsOfAccount(accountId)) {
      try {
        await this.discard(id);
        removed += 1;
      } catch (error) {
        this.logger.warn('attachment of a deleted account not deleted', {
          kind: error instanceof Error ? error.name : 'unknown',
        });
      }
    }
    return removed;
  }

  /** Streams a finished, unexpired attachment (whole or one range) to `res`. */
  async download(id: string, rangeHeader: string | undefined, res: ServerResponse): Promise<void> {
    const row = ATTACHMENT_ID_PATTERN.test(id) ? await this.attachments.find(id) : null;
    const { attachmentTtlMs } = await this.retention.ttls();
    if (!row?.completedAt || row.completedAt.getTime() + attachmentTtlMs <= this.clock.now()) throw this.notFound();
    const decision = decideRange(rangeHeader, row.size);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Accept-Ranges', 'bytes');
    if (decision.status === 416) {
      this.metrics.downloads.inc({ status: '416' });
      res.setHeader('Content-Range', `bytes */${row.size}`);
      throw new ApiError(416, ErrorCode.InvalidRequest, 'the range is outside the attachment');
    }
    const { start, end } = decision.range;
    let stream;
    try {
      stream = await this.store.open(id, decision.range);
    } catch {
      /** The row says finished but the bytes are gone (deleted out of band): as if it never existed. */
      throw this.notFound();
    }
    res.statusCode = decision.status;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Disposition', 'attachment');
    res.setHeader('Content-Length', String(end - start + 1));
    if (decision.status === 206) res.setHeader('Content-Range', `bytes ${start}-${end}/${row.size}`);
    this.metrics.downloads.inc({ status: String(decision.status) });
    this.metrics.bytesServed.inc(end - start + 1);
    try {
      await pipeline(stream, res);
    } catch {
      /** The downloader went away mid-stream; nothing to answer. */
    }
  }

  @OnJob(JobName.PurgeAttachments)
  async handlePurge(): Promise<void> {
    await this.purge(this.clock.now());
  }

  /** Deletes attachments finished more than the attachment TTL (`ATTACHMENT_TTL` or the admins' override) and uploads abandoned for `ATTACHMENT_ABANDON_AFTER`. */
  async purge(now: number): Promise<{ expired: number; abandoned: number }> {
    const counts = { expired: 0, abandoned: 0 };
    const finishedBefore = new Date(now - (await this.retention.ttls()).attachmentTtlMs);
    const abandonedBefore = new Date(now - this.limits.abandonAfterMs);
    for (;;) {
      const rows = await this.attachments.listPurgeable(finishedBefore, abandonedBefore, PURGE_BATCH);
      let removed = 0;
      for (const row of rows) {
        try {
          await this.store.remove(row.id);
        } catch (error) {
          /** The row stays, so the next run tries again; no blob is ever left without its row. */
          this.logger.warn('attachment blob not deleted', { kind: error instanceof Error ? error.name : 'unknown' });
          continue;
        }
        await this.attachments.remove(row.id);
        removed += 1;
        const reason = row.completedAt ? 'expired' : 'abandoned';
        counts[reason] += 1;
        this.metrics.purged.inc({ reason });
      }
      if (rows.length < PURGE_BATCH || removed === 0) break;
    }
    counts.abandoned += await this.sweepOrphans(abandonedBefore);
    if (counts.expired + counts.abandoned > 0) this.logger.info('attachments purged', counts);
    return counts;
  }

  /**
   * Deletes this process's staged or stored files older than `before` that no row accounts for (left by a crash
   * between tus writing and the row's deletion, or rows purged by another instance); returns how many.
   */
  private async sweepOrphans(before: Date): Promise<number> {
    let removed = 0;
    const candidates = (await this.store.listLocal(before)).filter((id) => ATTACHMENT_ID_PATTERN.test(id));
    for (let i = 0; i < candidates.length; i += PURGE_BATCH) {
      const batch = candidates.slice(i, i + PURGE_BATCH);
      const known = new Set(await this.attachments.existing(batch));
      for (const id of batch.filter((candidate) => !known.has(candidate))) {
        await this.store.removeLocal(id);
        removed += 1;
        this.metrics.purged.inc({ reason: 'orphaned' });
      }
    }
    return removed;
  }

  private async finished(id: string): Promise<void> {
    const completed = await this.attachments.complete(id, new Date(this.clock.now()));
    const row = await this.attachments.find(id);
    if (!completed) {
      if (row?.completedAt) return;
      /** Deleted while the last bytes arrived: do not keep bytes nobody accounts for. */
      await this.store.remove(id);
      throw new TusRefusal(404, 'upload no longer exists');
    }
    this.metrics.uploads.inc({ outcome: 'completed' });
    this.metrics.bytesStored.inc(row?.size ?? 0);
  }

  private async ownUpload(device: AuthenticatedDevice, id: string): Promise<AttachmentRecord> {
    const row = ATTACHMENT_ID_PATTERN.test(id) ? await this.attachments.find(id) : null;
    /** Someone else's upload answers exactly like a missing one. */
    if (!row || row.accountId !== device.accountId || row.deviceId !== device.deviceId) throw this.notFound();
    return row;
  }

  private async discard(id: string): Promise<void> {
    await this.store.remove(id);
    await this.attachments.remove(id);
  }

  private notFound(): ApiError {
    return new ApiError(404, ErrorCode.NotFound, 'no such attachment');
  }
}
