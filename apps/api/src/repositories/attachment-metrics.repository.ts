/**
 * Metrics of attachment storage, registered on the server's Prometheus registry: uploads by outcome, bytes stored
 * and served, downloads, purges by reason. Labels are outcomes and reasons only: never ids, accounts or sizes of
 * single files.
 */
import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';

import { MetricsRepository } from './metrics.repository.js';

@Injectable()
export class AttachmentMetricsRepository {
  readonly uploads: Counter<'outcome'>;
  readonly bytesStored: Counter;
  readonly downloads: Counter<'status'>;
  readonly bytesServed: Counter;
  readonly purged: Counter<'reason'>;

  constructor(metrics: MetricsRepository) {
    const registers = [metrics.registry];
    this.uploads = new Counter({
      name: 'cove_attachment_uploads_total',
      help: 'Attachment uploads by outcome (created, completed, too_large, quota, no_length)',
      labelNames: ['outcome'],
      registers,
    });
    this.bytesStored = new Counter({
      name: 'cove_attachment_stored_bytes_total',
      help: 'Bytes of finished attachment uploads',
      registers,
    });
    this.downloads = new Counter({
      name: 'cove_attachment_downloads_total',
      help: 'Attachment downloads answered, by status (200, 206, 416)',
      labelNames: ['status'],
      registers,
    });
    this.bytesServed = new Counter({
      name: 'cove_attachment_served_bytes_total',
      help: 'Attachment bytes sent to downloaders (as requested, before any disconnect)',
      registers,
    });
    this.purged = new Counter({
      name: 'cove_attachments_purged_total',
      help: 'Attachments deleted by the purge job, by reason (expired, abandoned, orphaned)',
      labelNames: ['reason'],
      registers,
    });
  }
}
