/** Server information, readiness and the OpenAPI document; nothing here touches user data. */
import { Injectable } from '@nestjs/common';
import {
  buildOpenApiDocument,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_HTTP_BODY_BYTES,
  MAX_MULTI_RECIPIENT_ACCOUNTS,
  MAX_MULTI_RECIPIENT_DEVICES,
  MAX_PREKEYS_PER_UPLOAD,
  MAX_SEND_CONTENT_BYTES,
  MAX_STORED_PREKEYS,
  MAX_WEBSOCKET_FRAME_BYTES,
  type InfoResponse,
} from '@cove/protocol';

import { ConfigRepository } from '../repositories/config.repository.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { CertificateService } from './certificate.service.js';

/** Set by the Web Push layer once VAPID keys exist; null until then. */
export type VapidKeyProvider = { publicKey(): string | null };

@Injectable()
export class SystemService {
  private document: Record<string, unknown> | undefined;
  private vapid: VapidKeyProvider | undefined;

  constructor(
    private readonly config: ConfigRepository,
    private readonly db: DatabaseRepository,
    private readonly certificates: CertificateService,
  ) {}

  setVapidKeyProvider(provider: VapidKeyProvider): void {
    this.vapid = provider;
  }

  info(): InfoResponse {
    const c = this.config.config;
    return {
      name: c.serverName,
      version: c.version,
      registration: c.registration,
      directory: c.directory,
      ...(c.sso ? { sso: { name: c.sso.name } } : {}),
      vapidPublicKey: this.vapid?.publicKey() ?? null,
      ...(this.certificates.trustRootPublicKey()
        ? { sealedSenderTrustRoot: this.certificates.trustRootPublicKey() }
        : {}),
      limits: {
        maxDevicesPerAccount: c.maxDevices,
        maxEnvelopeContentBytes: MAX_ENVELOPE_CONTENT_BYTES,
        maxSendContentBytes: MAX_SEND_CONTENT_BYTES,
        maxHttpBodyBytes: MAX_HTTP_BODY_BYTES,
        maxWebSocketFrameBytes: MAX_WEBSOCKET_FRAME_BYTES,
        maxStoredPreKeys: MAX_STORED_PREKEYS,
        maxPreKeysPerUpload: MAX_PREKEYS_PER_UPLOAD,
        maxMultiRecipientAccounts: MAX_MULTI_RECIPIENT_ACCOUNTS,
        maxMultiRecipientDevices: MAX_MULTI_RECIPIENT_DEVICES,
        maxAttachmentBytes: this.config.config.attachments.maxBytes,
        attachmentQuotaBytes: this.config.config.attachments.quotaBytes,
      },
    };
  }

  openapi(): Record<string, unknown> {
    this.document ??= buildOpenApiDocument(this.config.config.version);
    return this.document;
  }

  ready(): Promise<boolean> {
    return this.db.isReachable();
  }
}
