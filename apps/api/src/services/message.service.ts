/**
 * Accepting, listing and acknowledging envelopes. A send is accepted only when it addresses exactly the recipient's
 * current devices (all of them, or for a send to oneself all the other ones) with their current registration ids,
 * and every destination device's queue has room for it (`MAX_QUEUED_ENVELOPES`, `MAX_QUEUED_BYTES`; else `507
 * queue_full`); then every envelope is stored in one statement before the answer (all or none). Concurrent sends
 * and acks are group-committed: one device-list query and one INSERT per batch, one DELETE per batch of acks. The
 * same method serves `PUT /v1/messages` and the WebSocket `send` frame, so the send rate limits (per sender device,
 * per sender and recipient) cover both. Content stays opaque; nothing here decrypts.
 */
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import {
  ENVELOPE_PAGE_SIZE,
  ErrorCode,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_SEND_CONTENT_BYTES,
  type EnvelopeListResponse,
  type SendMessagesRequest,
} from '@cove/protocol';

import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { SqlState, sqlState } from '../repositories/database.repository.js';
import { DeviceRepository, type DeviceMap } from '../repositories/device.repository.js';
import {
  EnvelopeRepository,
  envelopeKey,
  type CheckedEnvelopeRow,
  type EnvelopeKey,
  type QueueCaps,
  type StoredEnvelope,
} from '../repositories/envelope.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { Batcher } from '../utils/batcher.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { DeliveryService, type DeliveryTarget } from './delivery.service.js';
import { toEnvelope } from './envelope.mapper.js';

/** The status and body `PUT /v1/messages` answers (also carried by a WebSocket `result` frame). */
export type SendResult = { status: number; body: Record<string, unknown> };

type SendRequest = { sender: AuthenticatedDevice; destination: string; message: SendMessagesRequest };

/** The message of a send refused because its own device was removed (`401 unauthorized`; a socket is then closed). */
export const SENDER_REMOVED = 'this device was removed from its account';

/** Sends per group commit: at most 6 envelopes each, so one INSERT has at most ~1,500 rows (15,000 parameters). */
const MAX_SENDS_PER_BATCH = 256;
/** Acks per group commit. */
const MAX_ACKS_PER_BATCH = 1000;
/**
 * Independent group-commit lanes. A recipient always maps to the same lane and a lane has one batch in flight, so
 * each recipient's envelopes are stored and delivered in acceptance order, while lanes overlap their round trips
 * (the database commits several batches per fsync). Below the default pool size of 10 connections.
 */
const SEND_LANES = 4;
/** Ack deletes need no order; two batches in flight overlap their round trips. */
const ACK_CONCURRENCY = 2;

/** A stable lane for an account id (its last hex digits). */
function laneOf(accountId: string, lanes: number): number {
  return Number.parseInt(accountId.slice(-4), 16) % lanes || 0;
}

const refusal = (status: number, error: string, message: string, extra: Record<string, unknown> = {}): SendResult => ({
  status,
  body: { error, message, ...extra },
});

@Injectable()
export class MessageService implements OnModuleDestroy {
  private readonly sends: Array<Batcher<SendRequest, SendResult>>;
  private readonly acks: Batcher<EnvelopeKey, boolean>;
  private readonly caps: QueueCaps;
  private readonly rateLimits: boolean;

  constructor(
    config: ConfigRepository,
    private readonly limits: RateLimitRepository,
    private readonly envelopes: EnvelopeRepository,
    private readonly devices: DeviceRepository,
    private readonly delivery: DeliveryService,
    private readonly crypto: CryptoRepository,
    private readonly metrics: MetricsRepository,
    private readonly clock: Clock,
  ) {
    this.caps = { envelopes: config.config.maxQueuedEnvelopes, bytes: config.config.maxQueuedBytes };
    this.rateLimits = config.config.rateLimits;
    this.sends = Array.from(
      { length: SEND_LANES },
      () =>
        new Batcher<SendRequest, SendResult>((items) => this.acceptBatch(items), {
          maxBatch: MAX_SENDS_PER_BATCH,
          concurrency: 1,
          onBatch: (n, seconds) => {
            this.metrics.groupCommitBatch.observe({ operation: 'send' }, n);
            this.metrics.groupCommitDuration.observe({ operation: 'send' }, seconds);
          },
        }),
    );
    this.acks = new Batcher((items) => this.deleteBatch(items), {
      maxBatch: MAX_ACKS_PER_BATCH,
      concurrency: ACK_CONCURRENCY,
      onBatch: (n, seconds) => {
        this.metrics.groupCommitBatch.observe({ operation: 'ack' }, n);
        this.metrics.groupCommitDuration.observe({ operation: 'ack' }, seconds);
      },
    });
  }

  /**
   * Applies the send rate limits, validates sizes, then stores (group-committed) and delivers; resolves once durably
   * stored or refused.
   */
  async send(sender: AuthenticatedDevice, destination: string, message: SendMessagesRequest): Promise<SendResult> {
    const limited = await this.rateLimit(sender, destination);
    if (limited) return limited;
    let total = 0;
    for (const m of message.messages) {
      const size = (m.content.length * 3) / 4 - (m.content.endsWith('==') ? 2 : m.content.endsWith('=') ? 1 : 0);
      if (size > MAX_ENVELOPE_CONTENT_BYTES) {
        return refusal(
          413,
          ErrorCode.PayloadTooLarge,
          `an envelope is larger than ${MAX_ENVELOPE_CONTENT_BYTES} bytes`,
        );
      }
      total += size;
    }
    if (total > MAX_SEND_CONTENT_BYTES) {
      return refusal(413, ErrorCode.PayloadTooLarge, `a send is larger than ${MAX_SEND_CONTENT_BYTES} bytes`);
    }
    const ids = message.messages.map((m) => m.destinationDeviceId);
    if (new Set(ids).size !== ids.length) {
      return refusal(400, ErrorCode.InvalidRequest, 'a destination device appears twice');
    }
    const lane = this.sends[laneOf(destination, SEND_LANES)] as Batcher<SendRequest, SendResult>;
    return lane.submit({ sender, destination, message });
  }

  /**
   * One limiter for every send, whichever transport carried it: per sender device and per (sender device, recipient
   * account), keyed on the canonical (lower-case) ids so that no spelling of an id starts a fresh count. `429
   * rate_limited` with `retryAfter` (seconds; HTTP also sends it as `Retry-After`).
   */
  private async rateLimit(sender: AuthenticatedDevice, destination: string): Promise<SendResult | null> {
    if (!this.rateLimits) return null;
    const from = `${sender.accountId.toLowerCase()}.${sender.deviceId}`;
    const verdicts = await Promise.all([
      this.limits.consume('send', from),
      this.limits.consume('sendToRecipient', `${from}>${destination.toLowerCase()}`),
    ]);
    const retryAfter = Math.max(0, ...verdicts.map((v) => (v.allowed ? 0 : v.retryAfterSeconds)));
    if (!retryAfter) return null;
    this.metrics.sendsRefused.inc({ reason: 'rate_limited' });
    return refusal(429, ErrorCode.RateLimited, 'too many sends, retry later', { retryAfter });
  }

  private check(request: SendRequest, devices: Map<number, number> | undefined): SendResult | null {
    if (!devices || devices.size === 0) {
      this.metrics.sendsRefused.inc({ reason: 'not_found' });
      return refusal(404, ErrorCode.NotFound, 'no such account');
    }
    const toSelf = request.destination === request.sender.accountId;
    const expected = [...devices.keys()].filter((id) => !(toSelf && id === request.sender.deviceId));
    const given = new Set(request.message.messages.map((m) => m.destinationDeviceId));
    const missingDevices = expected.filter((id) => !given.has(id)).sort((a, b) => a - b);
    const extraDevices = [...given].filter((id) => !expected.includes(id)).sort((a, b) => a - b);
    if (missingDevices.length || extraDevices.length) {
      this.metrics.sendsRefused.inc({ reason: 'mismatched_devices' });
      return refusal(409, ErrorCode.MismatchedDevices, 'the send does not cover exactly the current devices', {
        missingDevices,
        extraDevices,
      });
    }
    const staleDevices = request.message.messages
      .filter((m) => devices.get(m.destinationDeviceId) !== m.destinationRegistrationId)
      .map((m) => m.destinationDeviceId)
      .sort((a, b) => a - b);
    if (staleDevices.length) {
      this.metrics.sendsRefused.inc({ reason: 'stale_devices' });
      return refusal(410, ErrorCode.StaleDevices, 'registration ids changed', { staleDevices });
    }
    return null;
  }

  /**
   * Stores a batch of sends in one statement that also checks each send against the current devices, then works
   * out the refusal of each skipped send from the device lists (rare: a client with stale knowledge).
   */
  private async acceptBatch(requests: SendRequest[], retry = true): Promise<SendResult[]> {
    const serverTimestamp = this.clock.now();
    const rows: CheckedEnvelopeRow[] = [];
    const targets: DeliveryTarget[][] = [];
    requests.forEach((request, index) => {
      const own: DeliveryTarget[] = [];
      for (const m of request.message.messages) {
        const guid = this.crypto.envelopeId();
        rows.push({
          request: index,
          registrationId: m.destinationRegistrationId,
          guid,
          accountId: request.destination,
          deviceId: m.destinationDeviceId,
          type: m.type,
          sourceAccountId: request.sender.accountId,
          sourceDeviceId: request.sender.deviceId,
          timestamp: request.message.timestamp,
          serverTimestamp,
          urgent: request.message.urgent ?? true,
          content: Buffer.from(m.content, 'base64'),
        });
        own.push({
          accountId: request.destination,
          deviceId: m.destinationDeviceId,
          guid,
          envelope: {
            guid,
            type: m.type,
            sourceAccountId: request.sender.accountId,
            sourceDeviceId: request.sender.deviceId,
            timestamp: request.message.timestamp,
            serverTimestamp,
            content: m.content,
          },
        });
      }
      targets.push(own);
    });
    let refused: Set<number>;
    let full: Map<number, number[]>;
    let senderGone: Set<number>;
    try {
      ({ refused, full, senderGone } = await this.envelopes.insertChecked(rows, this.caps));
    } catch (error) {
      // A device was removed between the check and the insert: re-check each send on its own, in order.
      if (retry && sqlState(error) === SqlState.ForeignKeyViolation) {
        const redone: SendResult[] = [];
        for (const request of requests) redone.push(...(await this.acceptBatch([request], requests.length > 1)));
        return redone;
      }
      throw error;
    }
    const results: SendResult[] = requests.map((request, index) => {
      if (senderGone.has(index)) {
        this.metrics.sendsRefused.inc({ reason: 'sender_removed' });
        return refusal(401, ErrorCode.Unauthorized, SENDER_REMOVED);
      }
      const fullDevices = full.get(index);
      if (!fullDevices) return { status: 200, body: { serverTimestamp } };
      this.metrics.sendsRefused.inc({ reason: 'queue_full' });
      return refusal(507, ErrorCode.QueueFull, 'a recipient device has too many undelivered envelopes; retry later', {
        accountId: request.destination,
        fullDevices,
      });
    });
    if (refused.size) {
      const refusedRequests = requests.filter((_, i) => refused.has(i));
      const deviceMap: DeviceMap = await this.devices.deviceMap([
        ...new Set(refusedRequests.map((r) => r.destination)),
      ]);
      for (const index of refused) {
        const request = requests[index] as SendRequest;
        // The devices changed since the statement ran (e.g. one was just linked): answer as of now, or retry once.
        const now = this.check(request, deviceMap.get(request.destination));
        const again = now ?? (retry ? (await this.acceptBatch([request], false))[0] : undefined);
        results[index] = again ?? refusal(503, ErrorCode.Unavailable, 'the devices changed during the send; retry');
      }
    }
    const accepted = targets.filter((_, i) => !refused.has(i) && !full.has(i) && !senderGone.has(i)).flat();
    this.metrics.envelopesAccepted.inc(accepted.length);
    this.delivery.deliver(accepted);
    return results;
  }

  /** A page of the caller's stored envelopes, oldest first. */
  async list(device: AuthenticatedDevice, limit = ENVELOPE_PAGE_SIZE): Promise<EnvelopeListResponse> {
    const rows = await this.envelopes.page(device.accountId, device.deviceId, '0', limit + 1);
    /** A device fetching its queue (e.g. a service worker woken by a push) may be woken again by the next envelope. */
    this.delivery.seen(device);
    const more = rows.length > limit;
    return { envelopes: rows.slice(0, limit).map(toEnvelope), more };
  }

  /** Stored envelopes after `afterId`, at most `limit` and about `maxBytes` of content (for draining onto a socket). */
  async page(device: AuthenticatedDevice, afterId: string, limit: number, maxBytes: number): Promise<StoredEnvelope[]> {
    return this.envelopes.page(device.accountId, device.deviceId, afterId, limit, maxBytes);
  }

  /** The caller's envelopes among `guids` still stored, oldest first (live envelopes a socket could not take). */
  async byGuids(device: AuthenticatedDevice, guids: string[]): Promise<StoredEnvelope[]> {
    return this.envelopes.byGuids(device.accountId, device.deviceId, guids);
  }

  /** Deletes one envelope of the caller; false when it is not the caller's (or already gone). */
  ack(device: AuthenticatedDevice, guid: string): Promise<boolean> {
    return this.acks.submit({ accountId: device.accountId, deviceId: device.deviceId, guid });
  }

  private async deleteBatch(keys: EnvelopeKey[]): Promise<boolean[]> {
    const deleted = await this.envelopes.delete(keys);
    this.metrics.envelopesAcknowledged.inc(deleted.size);
    return keys.map((k) => deleted.has(envelopeKey(k)));
  }

  /** Waits for pending batches on shutdown. */
  async onModuleDestroy(): Promise<void> {
    for (let i = 0; i < 100 && (this.sends.some((b) => b.backlog) || this.acks.backlog); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
