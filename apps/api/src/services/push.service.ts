/**
 * Web Push rules: which subscriptions are acceptable (https, on the push-service allow-list: no request forgery
 * towards arbitrary hosts), and when a device is woken. A device without a live connection anywhere that has
 * envelopes waiting gets one wake-up; further envelopes do not push again until the device has connected or fetched
 * its queue — except an urgent envelope after a non-urgent wake-up, and new envelopes after `PUSH_RENOTIFY_AFTER`
 * (picked up by the periodic sweep, which also repairs wake-ups lost while the job queue was unreachable).
 *
 * The payload is the fixed-size layout of `@cove/protocol` (the oldest waiting envelope when it fits, otherwise a
 * bare wake-up). Transient push-service failures are retried by the job queue with backoff; 404/410 drop the
 * subscription. Logs carry ids and statuses only, never endpoints or payloads.
 */
import { Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { encodePushPayload, ErrorCode, type PushSubscriptionRequest } from '@cove/protocol';

import { OnJob } from '../decorators.js';
import { JobName } from '../enum.js';
import { PermanentJobError, RetryableJobError, type DeviceRef } from '../jobs.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { JobRepository } from '../repositories/job.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MailboxRepository } from '../repositories/mailbox.repository.js';
import { DeliveryMetricsRepository } from '../repositories/delivery-metrics.repository.js';
import { PresenceRepository } from '../repositories/presence.repository.js';
import { PushSubscriptionRepository } from '../repositories/push-subscription.repository.js';
import { WebPushRepository, type PushUrgency } from '../repositories/web-push.repository.js';
import { ApiError } from './api-error.js';
import { DeviceRemoved } from './auth.service.js';
import { toEnvelope } from './envelope.mapper.js';
import { SystemService } from './system.service.js';

/**
 * Push-service TTLs: an urgent wake-up is kept up to a week for a phone that is off (capped by the envelope
 * lifetime: waking a device for envelopes already purged is pointless); a non-urgent one (receipts, sync) is worth
 * an hour, after which the device will have connected on its own or a newer push supersedes it.
 */
const URGENT_TTL_S = 7 * 24 * 3600;
const NORMAL_TTL_S = 3600;
/**
 * One topic for every wake-up: a push service holding an undelivered wake-up for a sleeping device replaces it with
 * the newer one instead of queueing both (RFC 8030 §5.4). Constant, so it tells the service nothing.
 */
const WAKE_TOPIC = 'cove-wake';
/** The sweep only considers envelopes older than this, leaving fresh ones to the job queued at acceptance. */
const SWEEP_GRACE_MS = 30_000;
/** Devices queued per sweep run; the rest wait for the next run. */
const SWEEP_BATCH = 1_000;

@Injectable()
export class PushService implements OnModuleInit {
  constructor(
    private readonly config: ConfigRepository,
    private readonly subscriptions: PushSubscriptionRepository,
    private readonly mailbox: MailboxRepository,
    private readonly presence: PresenceRepository,
    private readonly webPush: WebPushRepository,
    private readonly jobs: JobRepository,
    private readonly metrics: DeliveryMetricsRepository,
    private readonly logger: LoggingRepository,
    private readonly clock: Clock,
    @Optional() private readonly system?: SystemService,
  ) {}

  /** Publishes the VAPID public key in `GET /v1/info` (the worker process has no HTTP API). */
  onModuleInit(): void {
    this.system?.setVapidKeyProvider({ publicKey: () => this.webPush.publicKey });
  }

  get vapidPublicKey(): string {
    return this.webPush.publicKey;
  }

  /** Stores the device's subscription after checking its endpoint; throws `400 invalid_request` otherwise. */
  async subscribe(device: DeviceRef, body: PushSubscriptionRequest): Promise<void> {
    if (!this.isAllowedEndpoint(body.endpoint)) {
      throw new ApiError(
        400,
        ErrorCode.InvalidRequest,
        'the endpoint must be an https URL of a push service this server allows',
      );
    }
    if (
      !(await this.subscriptions.upsert(
        device.accountId,
        device.deviceId,
        body.endpoint,
        body.keys.p256dh,
        body.keys.auth,
      ))
    ) {
      throw new DeviceRemoved();
    }
    this.metrics.pushSubscriptionChanges.inc({ change: 'subscribed' });
  }

  /** Returns whether a subscription was removed. */
  async unsubscribe(device: DeviceRef): Promise<boolean> {
    const removed = await this.subscriptions.remove(device.accountId, device.deviceId);
    if (removed) this.metrics.pushSubscriptionChanges.inc({ change: 'unsubscribed' });
    return removed;
  }

  /**
   * https, no credentials, host equal to an allowed suffix or a subdomain of one, and that entry's port: 443 (an
   * explicit `:443` or none) unless the entry names another (`PUSH_ALLOWED_HOSTS=push.test:8443`, test services).
   */
  isAllowedEndpoint(endpoint: string): boolean {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return false;
    }
    if (url.protocol !== 'https:' || url.username || url.password) return false;
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    /** The URL parser drops a port equal to the scheme's default, so `:443` and no port both read as ''. */
    const port = url.port === '' ? 443 : Number(url.port);
    return this.config.config.delivery.pushAllowedHosts.some(
      (allowed) => port === allowed.port && (host === allowed.host || host.endsWith(`.${allowed.host}`)),
    );
  }

  /** The device has shown up (connected, or fetched its queue): its next envelope may wake it again. */
  async seen(device: DeviceRef): Promise<void> {
    await this.subscriptions.clearWoken(device.accountId, device.deviceId);
  }

  /** Queues a wake-up for devices that have no live connection (coalesced per device by the job queue). */
  async wake(devices: DeviceRef[]): Promise<void> {
    await this.jobs.queueAll(devices.map((data) => ({ name: JobName.PushDevice, data })));
  }

  @OnJob(JobName.PushDevice)
  async handlePushDevice(device: DeviceRef): Promise<void> {
    const started = this.clock.now();
    const { accountId, deviceId } = device;
    const key = `${accountId}.${deviceId}`;
    /** One database statement and one presence lookup, side by side: this is the latency path of a wake-up. */
    const [context, owners] = await Promise.all([
      this.mailbox.wakeContext(accountId, deviceId),
      this.presence.lookup([key]),
    ]);
    if (!context || owners.get(key)) return;
    const { subscription, pending, oldest } = context;
    if (pending.count === 0 || pending.newestAt === null) return;
    const urgent = pending.newestUrgentAt !== null;
    if (subscription.wokenAt) {
      const woken = subscription.wokenAt.getTime();
      const escalate = !subscription.wokenUrgent && (pending.newestUrgentAt ?? 0) > woken;
      const renotify = pending.newestAt > woken && started - woken >= this.config.config.delivery.pushRenotifyAfterMs;
      if (!escalate && !renotify) {
        this.metrics.pushes.inc({ outcome: 'coalesced' });
        return;
      }
    }
    if (!this.isAllowedEndpoint(subscription.endpoint)) {
      /** The allow-list shrank since the device subscribed: never send there. */
      await this.subscriptions.removeEndpoint(accountId, deviceId, subscription.endpoint);
      this.metrics.pushes.inc({ outcome: 'disallowed' });
      return;
    }
    const payload = encodePushPayload(
      oldest
        ? { kind: 'envelope', pending: pending.count, envelope: toEnvelope(oldest) }
        : { kind: 'wake', pending: pending.count },
    );
    const urgency: PushUrgency = urgent ? 'high' : 'low';
    const ttlSeconds = urgent
      ? Math.min(URGENT_TTL_S, Math.floor(this.config.config.delivery.envelopeTtlMs / 1000))
      : NORMAL_TTL_S;
    const sendStarted = process.hrtime.bigint();
    const outcome = await this.webPush.send(
      { endpoint: subscription.endpoint, p256dh: subscription.p256dh, auth: subscription.auth },
      payload,
      { ttlSeconds, urgency, topic: WAKE_TOPIC },
    );
    this.metrics.pushSendDuration.observe(Number(process.hrtime.bigint() - sendStarted) / 1e9);
    this.metrics.pushes.inc({ outcome: outcome.kind });
    switch (outcome.kind) {
      case 'sent':
        await this.subscriptions.markWoken(accountId, deviceId, new Date(this.clock.now()), urgent);
        return;
      case 'gone':
        await this.subscriptions.removeEndpoint(accountId, deviceId, subscription.endpoint);
        this.metrics.pushSubscriptionChanges.inc({ change: 'expired' });
        this.logger.info('push subscription expired', { accountId, deviceId, status: outcome.status });
        return;
      case 'retry':
        throw new RetryableJobError(`push service answered ${outcome.status ?? 'nothing'}`, outcome.retryAfterMs);
      case 'refused':
        this.logger.warn('push refused by the push service', { accountId, deviceId, status: outcome.status });
        throw new PermanentJobError(`push service refused with ${outcome.status}`);
    }
  }

  @OnJob(JobName.PushSweep)
  async handleSweep(): Promise<void> {
    const now = this.clock.now();
    const devices = await this.mailbox.awaitingWake(
      now - SWEEP_GRACE_MS,
      new Date(now - this.config.config.delivery.pushRenotifyAfterMs),
      SWEEP_BATCH,
    );
    if (devices.length) await this.wake(devices);
  }
}
