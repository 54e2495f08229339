/**
 * Retention: envelopes nobody acknowledged within `ENVELOPE_TTL` are deleted by a repeatable job, and devices idle
 * past `IDLE_DEVICE_AFTER` are counted into the metrics for the operator — never deleted automatically, since a
 * device that comes back after a long trip must still find its account. The same job removes shared payloads
 * (multi-recipient ciphertexts) that no envelope row references any more. Nothing else is purged here.
 */
import { Injectable } from '@nestjs/common';

import { OnJob } from '../decorators.js';
import { JobName } from '../enum.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MailboxRepository } from '../repositories/mailbox.repository.js';
import { DeliveryMetricsRepository } from '../repositories/delivery-metrics.repository.js';

@Injectable()
export class RetentionService {
  constructor(
    private readonly config: ConfigRepository,
    private readonly mailbox: MailboxRepository,
    private readonly metrics: DeliveryMetricsRepository,
    private readonly logger: LoggingRepository,
    private readonly clock: Clock,
  ) {}

  @OnJob(JobName.PurgeExpiredEnvelopes)
  async handlePurge(): Promise<void> {
    await this.purgeExpired(this.clock.now());
  }

  @OnJob(JobName.ReportIdleDevices)
  async handleReportIdle(): Promise<void> {
    await this.reportIdle(this.clock.now());
  }

  /** Deletes envelopes accepted more than `ENVELOPE_TTL` before `now`; returns how many. */
  async purgeExpired(now: number): Promise<number> {
    const purged = await this.mailbox.purgeAcceptedBefore(now - this.config.config.delivery.envelopeTtlMs);
    if (purged > 0) {
      this.metrics.envelopesExpired.inc(purged);
      this.logger.info('expired envelopes purged', { count: purged });
    }
    /** Expired rows took their shared payloads with them (trigger); this catches the ones concurrent deletes left. */
    const orphans = await this.mailbox.purgeOrphanPayloads();
    if (orphans > 0) this.logger.info('orphaned shared payloads purged', { count: orphans });
    return purged;
  }

  async reportIdle(now: number): Promise<{ devices: number; envelopes: number }> {
    const idle = await this.mailbox.idleDevices(new Date(now - this.config.config.delivery.idleDeviceAfterMs));
    this.metrics.idleDevices.set(idle.devices);
    this.metrics.idleDeviceEnvelopes.set(idle.envelopes);
    return idle;
  }
}
