/**
 * Accepting, listing and acknowledging envelopes. A send is accepted only when it addresses exactly the recipient's
 * current devices (all of them, or for a send to oneself all the other ones) with their current registration ids
 * (the rule of `device-coverage.ts`: checked by the storing statement, explained here with the same function), and
 * every destination device's queue has room for it (`MAX_QUEUED_ENVELOPES`, `MAX_QUEUED_BYTES`; else `507
 * queue_full`); then every envelope is stored in one statement before the answer (all or none). Concurrent sends
 * and acks are group-committed: one checking INSERT per batch of sends, one DELETE per batch of acks. The
 * same method serves `PUT /v1/messages` and the WebSocket `send` frame, so the send rate limits (per sender device,
 * per sender and recipient) cover both. Multi-recipient (group) sends — `PUT /v1/messages/multi` and `send-multi` —
 * follow the same rule for every recipient account at once, store their one ciphertext once, and have their own
 * group-commit lane. Refusals are thrown as `ApiError`s. Content stays opaque; nothing here
 * decrypts.
 *
 * Sealed sender: a send without credentials (`sendUnidentified`, `sendSealedMulti`) is authorized by the recipient's
 * unidentified access key (compared in constant time; or the recipient accepts sealed messages from anyone), limited
 * per client address and per recipient, and stored and delivered as `unidentified-sender` envelopes with no source
 * account or device: the server never learns the sender. A sealed multi-recipient send is libsignal's
 * SealedSenderMultiRecipientMessage, whose recipients and devices the server reads (the only parsing done here) and
 * whose per-recipient parts it cuts with `@cove/crypto`: the shared ciphertext is stored once, each device row holds
 * its recipient's 49-byte header.
 */
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { SealedSenderMultiRecipientMessage } from '@cove/crypto';
import {
  ENVELOPE_PAGE_SIZE,
  ErrorCode,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_MULTI_RECIPIENT_ACCOUNTS,
  MAX_MULTI_RECIPIENT_DEVICES,
  MAX_SEND_CONTENT_BYTES,
  UNIDENTIFIED_ACCESS_KEY_BYTES,
  type Envelope,
  type EnvelopeListResponse,
  type EnvelopeType,
  type MultiRecipient,
  type SendMessagesRequest,
  type SendMessagesResponse,
  type SendMultiRequest,
  type SendMultiResponse,
  type SendSealedMultiRequest,
} from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { type Bytes, SqlState, sqlState } from '../repositories/database.repository.js';
import { DeviceRepository, type DeviceMap } from '../repositories/device.repository.js';
import {
  EnvelopeRepository,
  envelopeKey,
  type CheckedEnvelopeRow,
  type EnvelopeKey,
  type MultiSendRow,
  type MultiTargetRow,
  type QueueCaps,
  type StoredEnvelope,
} from '../repositories/envelope.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { Batcher, type Settle } from '../utils/batcher.js';
import { ApiError } from './api-error.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { DeliveryService, type DeliveryTarget, type SharedDeliveryDevice } from './delivery.service.js';
import { OrganizationService } from './organization.service.js';
import { coverageRefusal, deviceCoverage, multiCoverageRefusal } from './device-coverage.js';
import { toEnvelope } from './envelope.mapper.js';

/** What one send of a group commit came to: stored (the answer) or refused (thrown to its submitter). */
export type SendOutcome = SendMessagesResponse | ApiError;

/** `sender` is null for a sealed (unidentified) send: nothing of it names or checks a sending device. */
type SendRequest = { sender: AuthenticatedDevice | null; destination: string; message: SendMessagesRequest };

/** What one multi-recipient send of a group commit came to. */
type MultiOutcome = SendMultiResponse | ApiError;

/** A multi-recipient send as the group commit sees it; `type` may be `unidentified-sender` (a sealed v2 send). */
type MultiMessage = Omit<SendMultiRequest, 'type'> & { type: EnvelopeType };

/**
 * `sender` null: a sealed v2 send, whose `message.content` is the shared ciphertext and `own` each recipient
 * account's header (delivered before it).
 */
type MultiRequest = { sender: AuthenticatedDevice | null; message: MultiMessage; own?: ReadonlyMap<string, Bytes> };

/** Who sent a request without credentials: its claimed access key (header value) and its client address key. */
export type UnidentifiedSender = { accessKey: string; address: string };

/** The part of a sealed v2 message that differs per recipient: the version byte, C (32 bytes) and AT (16 bytes). */
const SEALED_V2_RECIPIENT_HEADER_BYTES = 1 + 32 + 16;

/** The refusal of a send without credentials whose access key does not open the recipient(s). */
const accessDenied = (): ApiError =>
  new ApiError(401, ErrorCode.UnidentifiedAccessDenied, 'the unidentified access key does not match the recipient');

/** An envelope's sender fields: absent for a sealed send (never null on the wire). */
const sourceOf = (sender: AuthenticatedDevice | null): Pick<Envelope, 'sourceAccountId' | 'sourceDeviceId'> =>
  sender ? { sourceAccountId: sender.accountId, sourceDeviceId: sender.deviceId } : {};

/**
 * A 1:1 send's envelope as it goes out live, keys in {@link toEnvelope}'s order (the sender's fields absent for a
 * sealed send), built without spreading a partial object (one envelope per delivered message).
 */
function wireEnvelope(
  guid: string,
  type: EnvelopeType,
  sender: AuthenticatedDevice | null,
  timestamp: number,
  serverTimestamp: number,
  content: string,
): Envelope {
  return sender
    ? {
        guid,
        type,
        sourceAccountId: sender.accountId,
        sourceDeviceId: sender.deviceId,
        timestamp,
        serverTimestamp,
        content,
      }
    : { guid, type, timestamp, serverTimestamp, content };
}

/** Recipient devices of a multi-recipient send (its weight in a group commit). */
const deviceCount = (message: Pick<SendMultiRequest, 'recipients'>): number =>
  message.recipients.reduce((n, r) => n + r.devices.length, 0);

/** The message of a send refused because its own device was removed (`401 unauthorized`; a socket is then closed). */
export const SENDER_REMOVED = 'this device was removed from its account';

/** Sends per group commit: at most 6 envelopes each, so one INSERT has at most ~1,500 rows (15,000 parameters). */
const MAX_SENDS_PER_BATCH = 256;
/** Multi-recipient sends per group commit: many small group messages share a statement. */
const MAX_MULTI_SENDS_PER_BATCH = 64;
/**
 * Target devices per multi-recipient group commit: one send to the largest group (6,000 devices) fits alone, while
 * the statement's row set stays a few hundred kilobytes of parameters (they travel as joined arrays).
 */
const MAX_MULTI_DEVICES_PER_BATCH = 6000;
/** Acks per group commit. */
const MAX_ACKS_PER_BATCH = 1000;
/**
 * Send batches in flight at once, each on its own connection: sends arriving while batches commit start the next
 * one as soon as a connection is free. One recipient's sends are never in two batches at once (the batcher's key),
 * so they are stored and delivered in acceptance order and each statement's queue-cap check sees every earlier
 * send to that recipient; other recipients' sends overlap. With {@link ACK_CONCURRENCY} this stays within the
 * default pool of 10 connections (the delivery benchmark runs with 8).
 */
const SEND_CONCURRENCY = 4;
/** Ack deletes need no order; two batches in flight overlap their round trips. */
const ACK_CONCURRENCY = 2;
/**
 * How long an acknowledgement batch waits for more before its delete starts. Nobody waits on an ack frame's delete
 * (it only frees queue room, and an envelope acknowledged but not yet deleted is at worst delivered again on a
 * reconnect, which clients drop as a duplicate), so at moderate rates a few milliseconds turn many small deletes into
 * one: PostgreSQL's cost per delete statement and commit is mostly fixed, and its wake-ups compete with sends for the
 * CPU. Small against a reconnect; a full batch ({@link MAX_ACKS_PER_BATCH}) starts at once.
 */
const ACK_LINGER_MS = 20;

/** Bytes a standard base64 string decodes to. */
function base64Size(text: string): number {
  return (text.length * 3) / 4 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
}

/** The refusal of an identified send carrying sealed envelopes. */
const identifiedSealed = (): ApiError =>
  new ApiError(400, ErrorCode.InvalidRequest, 'sealed (unidentified-sender) envelopes go without credentials');

/** Why a 1:1 send is refused before storage (sizes, a device addressed twice), or null. */
function sizeRefusal(message: SendMessagesRequest): ApiError | null {
  let total = 0;
  for (const m of message.messages) {
    const size = base64Size(m.content);
    if (size > MAX_ENVELOPE_CONTENT_BYTES) {
      return new ApiError(
        413,
        ErrorCode.PayloadTooLarge,
        `an envelope is larger than ${MAX_ENVELOPE_CONTENT_BYTES} bytes`,
      );
    }
    total += size;
  }
  if (total > MAX_SEND_CONTENT_BYTES) {
    return new ApiError(413, ErrorCode.PayloadTooLarge, `a send is larger than ${MAX_SEND_CONTENT_BYTES} bytes`);
  }
  // At most a few devices per send (the schema's bound): pairwise, without an array and a set per send.
  const messages = message.messages;
  for (let i = 1; i < messages.length; i++) {
    const id = (messages[i] as SendMessagesRequest['messages'][number]).destinationDeviceId;
    for (let j = 0; j < i; j++) {
      if ((messages[j] as SendMessagesRequest['messages'][number]).destinationDeviceId === id) {
        return new ApiError(400, ErrorCode.InvalidRequest, 'a destination device appears twice');
      }
    }
  }
  return null;
}

/** The outcome of an acknowledgement nobody waits for. */
const IGNORED: Settle<boolean> = { resolve: () => undefined, reject: () => undefined };

/** A send's group-commit outcome as its answer, or its refusal thrown. */
function storedOrThrow(outcome: SendOutcome): SendMessagesResponse {
  if (outcome instanceof ApiError) throw outcome;
  return outcome;
}

/** Skipped devices (`accountId.deviceId` keys) as the `queueFull` list of a multi-recipient answer, by account id. */
function queueFullList(skipped: Set<string>): Array<{ accountId: string; fullDevices: number[] }> {
  const byAccount = new Map<string, number[]>();
  for (const key of skipped) {
    const dot = key.lastIndexOf('.');
    const accountId = key.slice(0, dot);
    byAccount.set(accountId, [...(byAccount.get(accountId) ?? []), Number(key.slice(dot + 1))]);
  }
  return [...byAccount]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([accountId, ids]) => ({ accountId, fullDevices: ids.sort((a, b) => a - b) }));
}

/**
 * The batcher's key of a recipient: its account id's hex digits, lower-case, so that every spelling PostgreSQL
 * reads as the same uuid (case, hyphens, braces) is one key and cannot slip two batches past one queue cap.
 */
function recipientKey(accountId: string): string {
  return accountId.toLowerCase().replace(/[^0-9a-f]/g, '');
}

@Injectable()
export class MessageService implements OnModuleDestroy {
  private readonly sends: Batcher<SendRequest, SendOutcome>;
  /**
   * One lane for every multi-recipient send: a send reaches many recipients (so it cannot keep to one recipient's
   * key), and one batch in flight keeps acceptance order among them.
   */
  private readonly multiSends: Batcher<MultiRequest, MultiOutcome>;
  private readonly acks: Batcher<EnvelopeKey, boolean>;
  private readonly caps: QueueCaps;
  private readonly rateLimits: boolean;

  constructor(
    config: ConfigRepository,
    private readonly limits: RateLimitRepository,
    private readonly envelopes: EnvelopeRepository,
    private readonly devices: DeviceRepository,
    private readonly accounts: AccountRepository,
    private readonly delivery: DeliveryService,
    private readonly crypto: CryptoRepository,
    private readonly metrics: MetricsRepository,
    private readonly clock: Clock,
    private readonly organization: OrganizationService,
  ) {
    this.caps = { envelopes: config.config.maxQueuedEnvelopes, bytes: config.config.maxQueuedBytes };
    this.rateLimits = config.config.rateLimits;
    this.sends = new Batcher<SendRequest, SendOutcome>((items) => this.acceptBatch(items), {
      maxBatch: MAX_SENDS_PER_BATCH,
      concurrency: SEND_CONCURRENCY,
      keyOf: (request) => recipientKey(request.destination),
      onBatch: (n, seconds) => {
        this.metrics.groupCommitBatch.observe({ operation: 'send' }, n);
        this.metrics.groupCommitDuration.observe({ operation: 'send' }, seconds);
      },
    });
    this.multiSends = new Batcher<MultiRequest, MultiOutcome>((items) => this.acceptMultiBatch(items), {
      maxBatch: MAX_MULTI_SENDS_PER_BATCH,
      weight: (item) => deviceCount(item.message),
      maxWeight: MAX_MULTI_DEVICES_PER_BATCH,
      concurrency: 1,
      onBatch: (n, seconds) => {
        this.metrics.groupCommitBatch.observe({ operation: 'send-multi' }, n);
        this.metrics.groupCommitDuration.observe({ operation: 'send-multi' }, seconds);
      },
    });
    this.acks = new Batcher((items) => this.deleteBatch(items), {
      maxBatch: MAX_ACKS_PER_BATCH,
      concurrency: ACK_CONCURRENCY,
      lingerMs: ACK_LINGER_MS,
      onBatch: (n, seconds) => {
        this.metrics.groupCommitBatch.observe({ operation: 'ack' }, n);
        this.metrics.groupCommitDuration.observe({ operation: 'ack' }, seconds);
      },
    });
  }

  /**
   * Applies the send rate limits, validates sizes, then stores (group-committed) and delivers; resolves once durably
   * stored, or throws the refusal as an {@link ApiError} (`429`, `413`, `400`, `404`, `409`, `410`, `401`, `507`,
   * `503`).
   */
  send(sender: AuthenticatedDevice, destination: string, message: SendMessagesRequest): Promise<SendMessagesResponse> {
    // The hot path (no limits configured, e.g. a benchmark; no notice): no promise beyond the group commit's own.
    if (!this.rateLimits && message.notice !== true) {
      if (message.messages.some((m) => m.type === 'unidentified-sender')) return Promise.reject(identifiedSealed());
      return this.submitSend(sender, destination, message);
    }
    return this.sendChecked(sender, destination, message);
  }

  /**
   * {@link send} for the WebSocket hot path: `reply` is told the outcome instead of a promise (no promise or closure
   * per send when no rate limit applies). `resolve` gets the stored answer or the send's refusal as an
   * {@link ApiError} (an outcome, not thrown); `reject` a failure of the whole group commit (e.g. the database).
   */
  sendTo(
    sender: AuthenticatedDevice,
    destination: string,
    message: SendMessagesRequest,
    reply: Settle<SendOutcome>,
  ): void {
    if (!this.rateLimits && message.notice !== true) {
      if (message.messages.some((m) => m.type === 'unidentified-sender')) return reply.resolve(identifiedSealed());
      const refusal = sizeRefusal(message);
      if (refusal) return reply.resolve(refusal);
      return this.sends.enqueue({ sender, destination, message }, reply);
    }
    this.sendChecked(sender, destination, message).then(
      (response) => reply.resolve(response),
      (error: unknown) => (error instanceof ApiError ? reply.resolve(error) : reply.reject(error)),
    );
  }

  /** {@link send} with its rate limits and the notice check, which wait for Redis or the database. */
  private async sendChecked(
    sender: AuthenticatedDevice,
    destination: string,
    message: SendMessagesRequest,
  ): Promise<SendMessagesResponse> {
    if (message.messages.some((m) => m.type === 'unidentified-sender')) throw identifiedSealed();
    if (this.rateLimits) await this.rateLimit(sender, destination);
    // Organization notices: only an admin or the owner may mark a send as one (clients check the certificate too).
    if (message.notice === true && !(await this.organization.maySendNotices(sender.accountId))) {
      this.metrics.sendsRefused.inc({ reason: 'notice_not_admin' });
      throw new ApiError(403, ErrorCode.AdminRequired, 'only administrators send organization notices');
    }
    const response = await this.submitSend(sender, destination, message);
    if (message.notice === true) this.metrics.noticesAccepted.inc({ path: 'direct' });
    return response;
  }

  /**
   * A send without credentials (sealed sender) to `destination`: every envelope `unidentified-sender`, the access key
   * the recipient's (or the recipient open to anyone), else `401 unidentified_access_denied`; `404` for an unknown
   * account. Limited per client address and per recipient; then stored with no sender, like {@link send}.
   */
  async sendUnidentified(
    from: UnidentifiedSender,
    destination: string,
    message: SendMessagesRequest,
  ): Promise<SendMessagesResponse> {
    if (message.messages.some((m) => m.type !== 'unidentified-sender')) {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'a send without credentials carries unidentified-sender only');
    }
    if (message.notice === true) {
      throw new ApiError(403, ErrorCode.AdminRequired, 'organization notices are sent identified, by an administrator');
    }
    await this.rateLimitUnidentified(from, [destination], 0);
    const access = await this.accounts.unidentifiedAccess([destination]);
    const recipient = access.get(destination);
    if (!recipient) {
      this.metrics.sendsRefused.inc({ reason: 'not_found' });
      throw new ApiError(404, ErrorCode.NotFound, 'no such account');
    }
    const presented = this.accessKeyBytes(from.accessKey);
    const allowed =
      recipient.unrestricted ||
      (presented !== null && recipient.accessKey !== null && this.crypto.equal(presented, recipient.accessKey));
    if (!allowed) {
      this.metrics.sendsRefused.inc({ reason: 'unidentified_access_denied' });
      throw accessDenied();
    }
    return this.submitSend(null, destination, message);
  }

  /** Sizes, duplicates, then the group commit: the common part of identified and sealed 1:1 sends. */
  private submitSend(
    sender: AuthenticatedDevice | null,
    destination: string,
    message: SendMessagesRequest,
  ): Promise<SendMessagesResponse> {
    const refusal = sizeRefusal(message);
    if (refusal) return Promise.reject(refusal);
    return this.sends.submit({ sender, destination, message }).then(storedOrThrow);
  }

  /**
   * A multi-recipient send (`PUT /v1/messages/multi`, the `send-multi` frame): one ciphertext for every addressed
   * device of every recipient account. Applies the send rate limits (once per request, once per recipient account,
   * and the recipient devices against `sendDevices`), then checks every recipient in one statement that stores the
   * ciphertext once with a row per device, or nothing (`404`, `409`, `410` listing every failing recipient, `401` when
   * the sender was removed); full device queues are skipped and reported. An `online` send is checked the same way,
   * stored nowhere and handed only to connected devices. Schema checks (duplicates, counts, sizes of the base64) come
   * before: the controller's and the socket's validation.
   */
  async sendMulti(sender: AuthenticatedDevice, message: SendMultiRequest): Promise<SendMultiResponse> {
    await this.rateLimitMulti(sender, message);
    // Organization notices: the same check as a 1:1 notice (an admin or the owner; clients check the certificate too).
    if (message.notice === true && !(await this.organization.maySendNotices(sender.accountId))) {
      this.metrics.sendsRefused.inc({ reason: 'notice_not_admin' });
      throw new ApiError(403, ErrorCode.AdminRequired, 'only administrators send organization notices');
    }
    if (base64Size(message.content) > MAX_ENVELOPE_CONTENT_BYTES) {
      throw new ApiError(
        413,
        ErrorCode.PayloadTooLarge,
        `an envelope is larger than ${MAX_ENVELOPE_CONTENT_BYTES} bytes`,
      );
    }
    const outcome = await this.multiSends.submit({ sender, message });
    if (outcome instanceof ApiError) throw outcome;
    if (message.notice === true) this.metrics.noticesAccepted.inc({ path: 'multi' });
    return outcome;
  }

  /**
   * A sealed multi-recipient send (`PUT /v1/messages/multi` without credentials): `content` is libsignal's
   * SealedSenderMultiRecipientMessage. Its recipients (ACIs only) and their devices and registration ids are read
   * from it (`400` when it does not parse, `413` beyond the multi-recipient limits); unknown accounts are `404`; the
   * access key must be the XOR of every recipient's key (a recipient open to anyone and without a key adds nothing),
   * else `401 unidentified_access_denied`. Then it is checked and stored like {@link sendMulti}, with no sender:
   * each device gets its recipient's part (`unidentified-sender`).
   */
  async sendSealedMulti(from: UnidentifiedSender, message: SendSealedMultiRequest): Promise<SendMultiResponse> {
    if (message.notice === true) {
      throw new ApiError(403, ErrorCode.AdminRequired, 'organization notices are sent identified, by an administrator');
    }
    let parsed: SealedSenderMultiRecipientMessage;
    try {
      parsed = new SealedSenderMultiRecipientMessage(Buffer.from(message.content, 'base64'));
    } catch {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'content is not a sealed sender multi-recipient message');
    }
    const byServiceId = parsed.recipientsByServiceIdString();
    const entries = Object.entries(byServiceId);
    if (!entries.length) throw new ApiError(400, ErrorCode.InvalidRequest, 'the message has no recipient');
    const recipients: MultiRecipient[] = [];
    let deviceTotal = 0;
    for (const [serviceId, r] of entries) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(serviceId)) {
        throw new ApiError(400, ErrorCode.InvalidRequest, 'recipients must be account ids (ACIs)');
      }
      if (r.deviceIds.length > MAX_DEVICES_PER_ACCOUNT) {
        throw new ApiError(400, ErrorCode.InvalidRequest, 'a recipient has more devices than an account may have');
      }
      deviceTotal += r.deviceIds.length;
      recipients.push({
        accountId: serviceId,
        devices: r.deviceIds.map((deviceId, i) => ({ deviceId, registrationId: r.registrationIds[i] ?? 0 })),
      });
    }
    if (recipients.length > MAX_MULTI_RECIPIENT_ACCOUNTS || deviceTotal > MAX_MULTI_RECIPIENT_DEVICES) {
      throw new ApiError(413, ErrorCode.PayloadTooLarge, 'more recipients than one multi-recipient send may have');
    }
    const accountIds = recipients.map((r) => r.accountId);
    await this.rateLimitUnidentified(from, accountIds, deviceTotal);
    const access = await this.accounts.unidentifiedAccess(accountIds);
    const unknown = accountIds.filter((id) => !access.has(id));
    if (unknown.length) {
      this.metrics.sendsRefused.inc({ reason: 'not_found' });
      throw new ApiError(404, ErrorCode.NotFound, 'no such account', {
        accounts: unknown.map((accountId) => ({ accountId })),
      });
    }
    const combined = new Uint8Array(UNIDENTIFIED_ACCESS_KEY_BYTES);
    let keyed = true;
    for (const id of accountIds) {
      const recipient = access.get(id);
      if (recipient?.accessKey?.length === UNIDENTIFIED_ACCESS_KEY_BYTES) {
        recipient.accessKey.forEach((byte, i) => (combined[i] = (combined[i] as number) ^ byte));
      } else if (!recipient?.unrestricted) keyed = false;
    }
    const presented = this.accessKeyBytes(from.accessKey);
    if (!keyed || presented === null || !this.crypto.equal(presented, combined)) {
      this.metrics.sendsRefused.inc({ reason: 'unidentified_access_denied' });
      throw accessDenied();
    }
    const own = new Map<string, Bytes>();
    let shared: Uint8Array | undefined;
    for (const [serviceId, r] of entries) {
      const part = parsed.messageForRecipient(r);
      own.set(serviceId, new Uint8Array(part.subarray(0, SEALED_V2_RECIPIENT_HEADER_BYTES)));
      shared ??= part.subarray(SEALED_V2_RECIPIENT_HEADER_BYTES);
    }
    const content = shared ?? new Uint8Array();
    if (content.byteLength > MAX_ENVELOPE_CONTENT_BYTES) {
      throw new ApiError(
        413,
        ErrorCode.PayloadTooLarge,
        `an envelope is larger than ${MAX_ENVELOPE_CONTENT_BYTES} bytes`,
      );
    }
    const outcome = await this.multiSends.submit({
      sender: null,
      own,
      message: {
        type: 'unidentified-sender',
        content: Buffer.from(content).toString('base64'),
        timestamp: message.timestamp,
        ...(message.urgent === undefined ? {} : { urgent: message.urgent }),
        ...(message.online === undefined ? {} : { online: message.online }),
        recipients,
      },
    });
    if (outcome instanceof ApiError) throw outcome;
    return outcome;
  }

  /** The presented access key's bytes; null when it is not base64 of exactly 16 bytes. */
  private accessKeyBytes(header: string): Uint8Array | null {
    if (!/^[A-Za-z0-9+/]{22}==$/.test(header)) return null;
    return new Uint8Array(Buffer.from(header, 'base64'));
  }

  /**
   * The send limits of a send without credentials, keyed by the client address where an identified send uses its
   * device (`send`, `sendToRecipient` per recipient, `sendDevices` for a multi-recipient send's devices), plus
   * `sealedToRecipient` per recipient account from every address together. `429 rate_limited` with `retryAfter`.
   */
  private async rateLimitUnidentified(from: UnidentifiedSender, recipients: string[], devices: number): Promise<void> {
    if (!this.rateLimits) return;
    const key = `ip:${from.address}`;
    const verdicts = await Promise.all([
      this.limits.consume('send', key),
      ...(devices ? [this.limits.consume('sendDevices', key, devices)] : []),
      ...recipients.map((r) => this.limits.consume('sendToRecipient', `${key}>${r.toLowerCase()}`)),
      ...recipients.map((r) => this.limits.consume('sealedToRecipient', r.toLowerCase())),
    ]);
    const retryAfter = Math.max(0, ...verdicts.map((v) => (v.allowed ? 0 : v.retryAfterSeconds)));
    if (!retryAfter) return;
    this.metrics.sendsRefused.inc({ reason: 'rate_limited' });
    throw new ApiError(429, ErrorCode.RateLimited, 'too many sends, retry later', { retryAfter });
  }

  /** Deletes one envelope of the caller; `404 not_found` when it is not the caller's (or already gone). */
  async acknowledge(device: AuthenticatedDevice, guid: string): Promise<void> {
    if (!(await this.ack(device, guid)))
      throw new ApiError(404, ErrorCode.NotFound, 'no such envelope for this device');
  }

  /**
   * One limiter for every send, whichever transport carried it: per sender device and per (sender device, recipient
   * account), keyed on the canonical (lower-case) ids so that no spelling of an id starts a fresh count. `429
   * rate_limited` with `retryAfter` (seconds; HTTP also sends it as `Retry-After`).
   */
  private async rateLimit(sender: AuthenticatedDevice, destination: string): Promise<void> {
    if (!this.rateLimits) return;
    const from = `${sender.accountId.toLowerCase()}.${sender.deviceId}`;
    const verdicts = await Promise.all([
      this.limits.consume('send', from),
      this.limits.consume('sendToRecipient', `${from}>${destination.toLowerCase()}`),
    ]);
    const retryAfter = Math.max(0, ...verdicts.map((v) => (v.allowed ? 0 : v.retryAfterSeconds)));
    if (!retryAfter) return;
    this.metrics.sendsRefused.inc({ reason: 'rate_limited' });
    throw new ApiError(429, ErrorCode.RateLimited, 'too many sends, retry later', { retryAfter });
  }

  /**
   * The send limits for a multi-recipient send, all counted before any verdict (as for a 1:1 send): the request once
   * per sender device, once per (sender device, recipient account) — a group message is one message to each member —
   * and its recipient devices against the fan-out limit. `429 rate_limited` with the longest `retryAfter`.
   */
  private async rateLimitMulti(sender: AuthenticatedDevice, message: SendMultiRequest): Promise<void> {
    if (!this.rateLimits) return;
    const from = `${sender.accountId.toLowerCase()}.${sender.deviceId}`;
    const verdicts = await Promise.all([
      this.limits.consume('send', from),
      this.limits.consume('sendDevices', from, deviceCount(message)),
      ...message.recipients.map((r) => this.limits.consume('sendToRecipient', `${from}>${r.accountId.toLowerCase()}`)),
    ]);
    const retryAfter = Math.max(0, ...verdicts.map((v) => (v.allowed ? 0 : v.retryAfterSeconds)));
    if (!retryAfter) return;
    this.metrics.sendsRefused.inc({ reason: 'rate_limited' });
    throw new ApiError(429, ErrorCode.RateLimited, 'too many sends, retry later', { retryAfter });
  }

  /**
   * Stores a batch of multi-recipient sends in one statement (`EnvelopeRepository.insertMulti`), works out the
   * refusal of each refused send from fresh device lists (every recipient named), and hands the stored envelopes —
   * or, for an online send, the addressed devices — to delivery.
   */
  private async acceptMultiBatch(requests: MultiRequest[], retry = true): Promise<MultiOutcome[]> {
    const serverTimestamp = this.clock.now();
    const sends: MultiSendRow[] = [];
    const targets: MultiTargetRow[] = [];
    requests.forEach((request, index) => {
      const m = request.message;
      sends.push({
        request: index,
        type: m.type,
        sourceAccountId: request.sender?.accountId ?? null,
        sourceDeviceId: request.sender?.deviceId ?? null,
        timestamp: m.timestamp,
        serverTimestamp,
        urgent: m.urgent ?? true,
        store: !m.online,
        content: Buffer.from(m.content, 'base64'),
      });
      for (const r of m.recipients) {
        for (const d of r.devices) {
          const own = request.own?.get(r.accountId);
          targets.push({
            request: index,
            guid: this.crypto.envelopeId(),
            accountId: r.accountId,
            deviceId: d.deviceId,
            registrationId: d.registrationId,
            ...(own ? { own } : {}),
          });
        }
      }
    });
    let outcome: Awaited<ReturnType<EnvelopeRepository['insertMulti']>>;
    try {
      outcome = await this.envelopes.insertMulti(sends, targets, this.caps);
    } catch (error) {
      // A device was removed between the check and the insert: re-check each send on its own, in order.
      if (retry && sqlState(error) === SqlState.ForeignKeyViolation) {
        const redone: MultiOutcome[] = [];
        for (const request of requests) redone.push(...(await this.acceptMultiBatch([request], requests.length > 1)));
        return redone;
      }
      throw error;
    }
    const { refused, senderGone, full } = outcome;
    let deviceMap: DeviceMap = new Map();
    if (refused.size) {
      const accounts = requests
        .filter((_, i) => refused.has(i))
        .flatMap((r) => r.message.recipients.map((x) => x.accountId));
      deviceMap = await this.devices.deviceMap([...new Set(accounts)]);
    }
    const results: MultiOutcome[] = [];
    for (const [index, request] of requests.entries()) {
      if (senderGone.has(index)) {
        this.metrics.sendsRefused.inc({ reason: 'sender_removed' });
        results.push(new ApiError(401, ErrorCode.Unauthorized, SENDER_REMOVED));
        continue;
      }
      if (refused.has(index)) {
        const refusal = multiCoverageRefusal(deviceMap, request.message.recipients, request.sender);
        if (refusal) this.metrics.sendsRefused.inc({ reason: refusal.code });
        // The devices changed since the statement ran (e.g. one was just linked): answer as of now, or retry once.
        const again = refusal ?? (retry ? (await this.acceptMultiBatch([request], false))[0] : undefined);
        results.push(again ?? new ApiError(503, ErrorCode.Unavailable, 'the devices changed during the send; retry'));
        continue;
      }
      const skipped = full.get(index) ?? new Set<string>();
      const devices: SharedDeliveryDevice[] = targets
        .filter((t) => t.request === index && !skipped.has(`${t.accountId}.${t.deviceId}`))
        .map(({ accountId, deviceId, guid }) => ({ accountId, deviceId, guid }));
      const online = request.message.online ?? false;
      if (!online) this.metrics.envelopesAccepted.inc(devices.length);
      if (skipped.size) this.metrics.sendsRefused.inc({ reason: 'queue_full' }, skipped.size);
      const envelope = {
        type: request.message.type,
        ...sourceOf(request.sender),
        timestamp: request.message.timestamp,
        serverTimestamp,
        content: request.message.content,
      };
      if (!request.own) this.delivery.deliverShared({ envelope, devices, online });
      else {
        // Sealed v2: each recipient account's devices share its own header before the shared ciphertext.
        const shared = Buffer.from(request.message.content, 'base64');
        for (const [accountId, own] of request.own) {
          const ofAccount = devices.filter((d) => d.accountId === accountId);
          if (!ofAccount.length) continue;
          const content = Buffer.concat([own, shared]).toString('base64');
          this.delivery.deliverShared({ envelope: { ...envelope, content }, devices: ofAccount, online });
        }
      }
      const response: SendMultiResponse = { serverTimestamp, stored: online ? 0 : devices.length };
      if (skipped.size) response.queueFull = queueFullList(skipped);
      results.push(response);
    }
    return results;
  }

  /**
   * Why storage refused a send, as of `devices` (the destination's current devices): `404` for an account with none,
   * else the {@link coverageRefusal} of the rule; null when the send covers them exactly (they changed meanwhile).
   */
  private check(request: SendRequest, devices: Map<number, number> | undefined): ApiError | null {
    if (!devices || devices.size === 0) {
      this.metrics.sendsRefused.inc({ reason: 'not_found' });
      return new ApiError(404, ErrorCode.NotFound, 'no such account');
    }
    const addressed = request.message.messages.map((m) => ({
      deviceId: m.destinationDeviceId,
      registrationId: m.destinationRegistrationId,
    }));
    const refusal = coverageRefusal(
      deviceCoverage(devices, addressed, {
        toSelf: request.destination === request.sender?.accountId,
        sourceDeviceId: request.sender?.deviceId ?? 0,
      }),
    );
    if (refusal) this.metrics.sendsRefused.inc({ reason: refusal.code });
    return refusal;
  }

  /**
   * Stores a batch of sends in one statement that also checks each send against the current devices, then works
   * out the refusal of each skipped send from the device lists (rare: a client with stale knowledge).
   */
  private async acceptBatch(requests: SendRequest[], retry = true): Promise<SendOutcome[]> {
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
          sourceAccountId: request.sender?.accountId ?? null,
          sourceDeviceId: request.sender?.deviceId ?? null,
          timestamp: request.message.timestamp,
          serverTimestamp,
          urgent: request.message.urgent ?? true,
          content: Buffer.from(m.content, 'base64'),
        });
        own.push({
          accountId: request.destination,
          deviceId: m.destinationDeviceId,
          guid,
          envelope: wireEnvelope(guid, m.type, request.sender, request.message.timestamp, serverTimestamp, m.content),
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
        const redone: SendOutcome[] = [];
        for (const request of requests) redone.push(...(await this.acceptBatch([request], requests.length > 1)));
        return redone;
      }
      throw error;
    }
    const results: SendOutcome[] = requests.map((request, index) => {
      if (senderGone.has(index)) {
        this.metrics.sendsRefused.inc({ reason: 'sender_removed' });
        return new ApiError(401, ErrorCode.Unauthorized, SENDER_REMOVED);
      }
      const fullDevices = full.get(index);
      if (!fullDevices) return { serverTimestamp };
      this.metrics.sendsRefused.inc({ reason: 'queue_full' });
      return new ApiError(
        507,
        ErrorCode.QueueFull,
        'a recipient device has too many undelivered envelopes; retry later',
        {
          accountId: request.destination,
          fullDevices,
        },
      );
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
        results[index] =
          again ?? new ApiError(503, ErrorCode.Unavailable, 'the devices changed during the send; retry');
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

  /**
   * {@link ack} for a caller that awaits nothing (a socket's `ack` frame, answered by no frame): no promise per
   * envelope, and a failed delete is ignored (the envelope stays queued and is delivered again).
   */
  ackUnanswered(device: AuthenticatedDevice, guid: string): void {
    this.acks.enqueue({ accountId: device.accountId, deviceId: device.deviceId, guid }, IGNORED);
  }

  private async deleteBatch(keys: EnvelopeKey[]): Promise<boolean[]> {
    const deleted = await this.envelopes.delete(keys);
    this.metrics.envelopesAcknowledged.inc(deleted.size);
    return keys.map((k) => deleted.has(envelopeKey(k)));
  }

  /** Waits for pending batches on shutdown. */
  async onModuleDestroy(): Promise<void> {
    for (let i = 0; i < 100 && (this.sends.backlog || this.multiSends.backlog || this.acks.backlog); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
