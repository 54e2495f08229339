/**
 * The providers of attachment storage, shared by the API module (uploads, downloads) and the worker module (the
 * purge job): the database rows, the byte store `ATTACHMENT_STORE` selects (disk or S3), its metrics and the
 * attachment service. The store is created and closed here, once per process.
 */
import type { OnApplicationShutdown, Provider } from '@nestjs/common';

import { AttachmentMetricsRepository } from './repositories/attachment-metrics.repository.js';
import { AttachmentStoreRepository, createAttachmentStore } from './repositories/attachment-store.repository.js';
import { AttachmentRepository } from './repositories/attachment.repository.js';
import { ConfigRepository } from './repositories/config.repository.js';
import { AttachmentService } from './services/attachment.service.js';

/** Closes the store's connections (S3) when the application stops. */
class AttachmentStoreLifecycle implements OnApplicationShutdown {
  constructor(private readonly store: AttachmentStoreRepository) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

export function attachmentProviders(): Provider[] {
  return [
    {
      provide: AttachmentStoreRepository,
      useFactory: async (config: ConfigRepository) => {
        const store = createAttachmentStore(config.config.dataDir, config.config.attachments);
        await store.init();
        return store;
      },
      inject: [ConfigRepository],
    },
    {
      provide: AttachmentStoreLifecycle,
      useFactory: (store: AttachmentStoreRepository) => new AttachmentStoreLifecycle(store),
      inject: [AttachmentStoreRepository],
    },
    AttachmentRepository,
    AttachmentMetricsRepository,
    AttachmentService,
  ];
}
