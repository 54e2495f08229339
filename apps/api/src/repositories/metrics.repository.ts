/**
 * Prometheus metrics (prom-client) on a registry owned by this server instance, served at `/metrics` by the
 * metrics listener (not the public port). Labels are
 * low-cardinality (route patterns, statuses, kinds): never account ids, device ids or anything from a message.
 */
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

@Injectable()
export class MetricsRepository {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'cove_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'cove_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly envelopesAccepted = new Counter({
    name: 'cove_envelopes_accepted_total',
    help: 'Envelopes durably stored',
    registers: [this.registry],
  });
  readonly sendsRefused = new Counter({
    name: 'cove_sends_refused_total',
    help: 'Sends refused by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Organization notice requests accepted: `multi` (one sender-key send to every member) or `direct` (1:1). */
  readonly noticesAccepted = new Counter({
    name: 'cove_notices_accepted_total',
    help: 'Organization notice sends accepted, by path (multi-recipient or direct)',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });
  readonly envelopesDelivered = new Counter({
    name: 'cove_envelopes_delivered_total',
    help: 'Envelopes written to a live WebSocket',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });
  readonly envelopesAcknowledged = new Counter({
    name: 'cove_envelopes_acknowledged_total',
    help: 'Envelopes deleted after acknowledgement',
    registers: [this.registry],
  });
  readonly groupCommitBatch = new Histogram({
    name: 'cove_group_commit_batch_size',
    help: 'Operations per group-committed statement',
    labelNames: ['operation'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });
  readonly groupCommitDuration = new Histogram({
    name: 'cove_group_commit_seconds',
    help: 'Time to write one group-committed batch',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly preKeysClaimed = new Counter({
    name: 'cove_prekeys_claimed_total',
    help: 'Prekeys handed out in bundles, by kind (ec, kyber, kyber_last_resort)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly webSocketConnections = new Gauge({
    name: 'cove_websocket_connections',
    help: 'Authenticated WebSocket connections on this instance',
    registers: [this.registry],
  });
  readonly authRefused = new Counter({
    name: 'cove_auth_refused_total',
    help: 'Authentication attempts refused while rate limits are on: invalid credentials, or throttled (locked out)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly provisioningChannels = new Counter({
    name: 'cove_provisioning_channels_total',
    help: 'Provisioning channels opened, delivered and expired',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly webSocketClosed = new Counter({
    name: 'cove_websocket_closed_total',
    help: 'WebSocket connections closed by the server, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cove_' });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
