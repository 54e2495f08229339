/**
 * The Nest module of the API: repositories (infrastructure), services (rules), controllers and the WebSocket
 * gateway, plus the global auth guard, rate-limit guard and error filter. Built from an already validated
 * configuration so tests can boot several servers in one process.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import type { Agent } from 'node:https';
import type { DestinationStream } from 'pino';

import { attachmentProviders } from './attachment.providers.js';
import { AccountController } from './controllers/account.controller.js';
import { AttachmentController } from './controllers/attachment.controller.js';
import { CertificateController } from './controllers/certificate.controller.js';
import { DeviceController } from './controllers/device.controller.js';
import { KeysController } from './controllers/keys.controller.js';
import { MessageController } from './controllers/message.controller.js';
import { OrganizationController } from './controllers/organization.controller.js';
import { OrganizationAdminController } from './controllers/organization-admin.controller.js';
import { ProfileController } from './controllers/profile.controller.js';
import { PasswordController } from './controllers/password.controller.js';
import { SsoController } from './controllers/sso.controller.js';
import { ProvisioningController } from './controllers/provisioning.controller.js';
import { ProvisioningGatewayController } from './controllers/provisioning.gateway.js';
import { PushController } from './controllers/push.controller.js';
import { SystemController } from './controllers/system.controller.js';
import { WebSocketGatewayController } from './controllers/websocket.gateway.js';
import { deliveryProviders, INSTANCE_ID, REDIS } from './delivery.providers.js';
import { AuthGuard } from './middleware/auth.guard.js';
import { WebSocketClientAddress } from './middleware/client-address.js';
import { ErrorFilter } from './middleware/error.filter.js';
import { RateLimitGuard } from './middleware/rate-limit.guard.js';
import { OidcRepository } from './repositories/oidc.repository.js';
import { SsoRepository } from './repositories/sso.repository.js';
import { AccountRepository } from './repositories/account.repository.js';
import { Clock, SystemClock } from './repositories/clock.repository.js';
import { ConfigRepository } from './repositories/config.repository.js';
import { CryptoRepository } from './repositories/crypto.repository.js';
import { DatabaseRepository } from './repositories/database.repository.js';
import { DeviceRepository } from './repositories/device.repository.js';
import { EnvelopeRepository } from './repositories/envelope.repository.js';
import { LoggingRepository } from './repositories/logging.repository.js';
import { MetricsListenerRepository } from './repositories/metrics-listener.repository.js';
import { MetricsRepository } from './repositories/metrics.repository.js';
import { AdminSocketRepository } from './repositories/admin-socket.repository.js';
import { OrganizationRepository } from './repositories/organization.repository.js';
import { OpaqueRepository } from './repositories/opaque.repository.js';
import {
  InProcessPasswordLoginRepository,
  PasswordLoginRepository,
  RedisPasswordLoginRepository,
} from './repositories/password-login.repository.js';
import { PasswordRepository } from './repositories/password.repository.js';
import { PreKeyRepository } from './repositories/prekey.repository.js';
import { ProfileRepository } from './repositories/profile.repository.js';
import {
  InProcessProvisioningRepository,
  ProvisioningRepository,
  RedisProvisioningRepository,
} from './repositories/provisioning.repository.js';
import type { RedisRepository } from './repositories/redis.repository.js';
import { RateLimitRepository } from './repositories/rate-limit.repository.js';
import { TrustRootRepository } from './repositories/trust-root.repository.js';
import { WebSocketRepository } from './repositories/websocket.repository.js';
import { AccountDeletionService } from './services/account-deletion.service.js';
import { AccountService } from './services/account.service.js';
import { AdminSocketService } from './services/admin-socket.service.js';
import { AuditService } from './services/audit.service.js';
import { OrganizationService } from './services/organization.service.js';
import { OrganizationAdminService } from './services/organization-admin.service.js';
import { SsoService } from './services/sso.service.js';
import { AuthThrottleService } from './services/auth-throttle.service.js';
import { AuthService } from './services/auth.service.js';
import { CertificateService } from './services/certificate.service.js';
import { DeliveryService } from './services/delivery.service.js';
import { DeviceService } from './services/device.service.js';
import { MessageService } from './services/message.service.js';
import { PreKeyService } from './services/prekey.service.js';
import { ProfileService } from './services/profile.service.js';
import { PasswordService } from './services/password.service.js';
import { ProvisioningService } from './services/provisioning.service.js';
import { RevocationService } from './services/revocation.service.js';
import { SystemService } from './services/system.service.js';
import { WebSocketService } from './services/websocket.service.js';

export type AppModuleOptions = {
  config: ConfigRepository;
  logDestination?: DestinationStream;
  /** HTTPS agent for Web Push requests (tests: one trusting a local push service). */
  pushAgent?: Agent;
  /** In-memory PGlite only: the data directory image it starts from (tests: one already migrated). */
  pgliteImage?: Blob;
};

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [DiscoveryModule],
      controllers: [
        AccountController,
        KeysController,
        MessageController,
        DeviceController,
        SystemController,
        PushController,
        AttachmentController,
        ProfileController,
        ProvisioningController,
        CertificateController,
        OrganizationController,
        OrganizationAdminController,
        PasswordController,
        SsoController,
      ],
      providers: [
        { provide: ConfigRepository, useValue: options.config },
        { provide: Clock, useClass: SystemClock },
        { provide: LoggingRepository, useValue: new LoggingRepository(options.config, options.logDestination) },
        {
          provide: DatabaseRepository,
          useFactory: async (config: ConfigRepository) => {
            const db = DatabaseRepository.create(config, options.pgliteImage);
            await db.init();
            return db;
          },
          inject: [ConfigRepository],
        },
        {
          provide: CryptoRepository,
          useFactory: async () => {
            const crypto = new CryptoRepository();
            await crypto.init();
            return crypto;
          },
        },
        MetricsRepository,
        MetricsListenerRepository,
        RateLimitRepository,
        AccountRepository,
        DeviceRepository,
        OidcRepository,
        SsoRepository,
        SsoService,
        PreKeyRepository,
        EnvelopeRepository,
        ProfileRepository,
        WebSocketRepository,
        OrganizationRepository,
        AdminSocketRepository,
        AuditService,
        OrganizationService,
        OrganizationAdminService,
        AdminSocketService,
        AuthThrottleService,
        AuthService,
        PreKeyService,
        TrustRootRepository,
        CertificateService,
        AccountService,
        ProfileService,
        AccountDeletionService,
        DeliveryService,
        MessageService,
        DeviceService,
        SystemService,
        WebSocketService,
        RevocationService,
        ProvisioningService,
        PasswordService,
        PasswordRepository,
        {
          provide: OpaqueRepository,
          useFactory: async (config: ConfigRepository) => {
            const opaque = new OpaqueRepository(config);
            await opaque.init();
            return opaque;
          },
          inject: [ConfigRepository],
        },
        {
          provide: PasswordLoginRepository,
          useFactory: (redis: RedisRepository | null) =>
            redis ? new RedisPasswordLoginRepository(redis) : new InProcessPasswordLoginRepository(),
          inject: [REDIS],
        },
        {
          provide: ProvisioningRepository,
          useFactory: (id: string, redis: RedisRepository | null) =>
            redis ? new RedisProvisioningRepository(id, redis) : new InProcessProvisioningRepository(id),
          inject: [INSTANCE_ID, REDIS],
        },
        ...deliveryProviders({ role: 'api', pushAgent: options.pushAgent }),
        ...attachmentProviders(),
        WebSocketClientAddress,
        WebSocketGatewayController,
        ProvisioningGatewayController,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
    };
  }
}
