/**
 * Metrics of push, cross-instance delivery and retention, registered on the server's Prometheus registry (served at
 * `/metrics` with the others). Labels are low-cardinality outcomes and kinds: never ids, endpoints or content.
 */
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';

import { MetricsRepository } from './metrics.repository.js';

@Injectable()
export class DeliveryMetricsRepository {
  readonly pushes: Counter<'outcome'>;
  readonly pushSendDuration: Histogram;
  readonly pushSubscriptionChanges: Counter<'change'>;
  readonly routed: Counter<'route'>;
  readonly busGaps: Counter;
  readonly envelopesExpired: Counter;
  readonly idleDevices: Gauge;
  readonly idleDeviceEnvelopes: Gauge;
  readonly jobFailures: Counter<'job' | 'final'>;

  constructor(metrics: MetricsRepository) {
    const registers = [metrics.registry];
    this.pushes = new Counter({
      name: 'cove_push_total',
      help: 'Push jobs by outcome (sent, coalesced, retry, gone, refused, disallowed)',
      labelNames: ['outcome'],
      registers,
    });
    this.pushSendDuration = new Histogram({
      name: 'cove_push_send_duration_seconds',
      help: 'Time for the push service to answer a push request',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.pushSubscriptionChanges = new Counter({
      name: 'cove_push_subscription_changes_total',
      help: 'Push subscriptions stored, removed by their device, or dropped after 404/410',
      labelNames: ['change'],
      registers,
    });
    this.routed = new Counter({
      name: 'cove_envelopes_routed_total',
      help: 'Accepted envelopes by route: local socket, another instance, or offline (push)',
      labelNames: ['route'],
      registers,
    });
    this.busGaps = new Counter({
      name: 'cove_bus_resubscriptions_total',
      help: 'Times the cross-instance bus reconnected (live delivery resynchronised)',
      registers,
    });
    this.envelopesExpired = new Counter({
      name: 'cove_envelopes_expired_total',
      help: 'Envelopes deleted unacknowledged after ENVELOPE_TTL',
      registers,
    });
    this.idleDevices = new Gauge({
      name: 'cove_idle_devices',
      help: 'Devices not seen for IDLE_DEVICE_AFTER (reported, never deleted)',
      registers,
    });
    this.idleDeviceEnvelopes = new Gauge({
      name: 'cove_idle_device_envelopes',
      help: 'Envelopes waiting for idle devices',
      registers,
    });
    this.jobFailures = new Counter({
      name: 'cove_job_failures_total',
      help: 'Failed job attempts by job, and whether the failure was final',
      labelNames: ['job', 'final'],
      registers,
    });
  }
}
