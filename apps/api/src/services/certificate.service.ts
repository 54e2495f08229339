/**
 * Sealed sender's certificates on the server: the trust root (from `TrustRootRepository`) certifies a server key
 * (`ServerCertificate`, key id `SEALED_SENDER_SERVER_KEY_ID`), and the server key signs short-lived sender certificates
 * (`SenderCertificate`: account id as a UUID string, device id, the account's identity key, expiry) for the caller's
 * own device only. The server key is derived from the trust root and the key id (HKDF), so every instance sharing the
 * trust root signs with the same key, and changing the id rotates it (certificates signed earlier embed their server
 * certificate and stay valid until they expire). The trust root's public key is published in `/v1/info`. It does not
 * validate certificates (receivers do) and never logs or returns a private key.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { PrivateKey, PublicKey, SenderCertificate, ServerCertificate, hkdf, ready } from '@cove/crypto';
import { ErrorCode, type SenderCertificateResponse } from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { TrustRootRepository } from '../repositories/trust-root.repository.js';
import { ApiError } from './api-error.js';
import type { AuthenticatedDevice } from './auth.service.js';

/** HKDF label of the server key: binds the derived key to this one use of the trust root. */
const SERVER_KEY_LABEL = new TextEncoder().encode('Cove sealed sender server key');

type Signer = { trustRoot: PublicKey; serverCertificate: ServerCertificate; serverKey: PrivateKey };

@Injectable()
export class CertificateService implements OnModuleInit {
  private signer: Signer | undefined;

  constructor(
    private readonly trustRoots: TrustRootRepository,
    private readonly accounts: AccountRepository,
    private readonly config: ConfigRepository,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.load();
  }

  private async load(): Promise<Signer> {
    if (this.signer) return this.signer;
    await ready();
    const rootBytes = await this.trustRoots.privateKey();
    const root = PrivateKey.deserialize(rootBytes);
    const keyId = this.config.config.sealedSender.serverKeyId;
    const info = new Uint8Array(4);
    new DataView(info.buffer).setUint32(0, keyId);
    const serverKey = PrivateKey.deserialize(hkdf(32, rootBytes, SERVER_KEY_LABEL, info));
    this.signer = {
      trustRoot: root.getPublicKey(),
      serverCertificate: ServerCertificate.new(keyId, serverKey.getPublicKey(), root),
      serverKey,
    };
    return this.signer;
  }

  /** The trust root's public key (0x05 + 32 bytes), base64, as `/v1/info` publishes it. */
  trustRootPublicKey(): string | undefined {
    return this.signer ? Buffer.from(this.signer.trustRoot.serialize()).toString('base64') : undefined;
  }

  /** A sender certificate for the calling device, expiring after `SEALED_SENDER_CERTIFICATE_LIFETIME`. */
  async senderCertificate(device: AuthenticatedDevice): Promise<SenderCertificateResponse> {
    const signer = await this.load();
    const identityKey = await this.accounts.identityKey(device.accountId);
    if (!identityKey) throw new ApiError(401, ErrorCode.Unauthorized, 'this account no longer exists');
    const expiresAt = this.clock.now() + this.config.config.sealedSender.certificateLifetimeMs;
    const certificate = SenderCertificate.new(
      device.accountId,
      null,
      device.deviceId,
      PublicKey.deserialize(identityKey),
      expiresAt,
      signer.serverCertificate,
      signer.serverKey,
    );
    return { certificate: Buffer.from(certificate.serialize()).toString('base64'), expiresAt };
  }
}
