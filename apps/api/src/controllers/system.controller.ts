/**
 * Public system routes: server info, OpenAPI document, liveness, readiness, and the WebSocket ticket
 * (authenticated). None of them reveals anything about users. Prometheus metrics are not here: they are served on
 * their own listener (`repositories/metrics-listener.repository.ts`), never on the public port.
 */
import { Controller, Get, Header, HttpCode, Post, Res } from '@nestjs/common';
import type { InfoResponse, WebSocketTicketResponse } from '@cove/protocol';

import { CurrentDevice, Public } from '../middleware/auth.guard.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { AuthService } from '../services/auth.service.js';
import { OrganizationService } from '../services/organization.service.js';
import { SystemService } from '../services/system.service.js';
import { RateLimit } from './rate-limits.js';

type Response = { status(code: number): Response; send(body: unknown): void };

@Controller()
export class SystemController {
  constructor(
    private readonly system: SystemService,
    private readonly auth: AuthService,
    private readonly organization: OrganizationService,
  ) {}

  @Get('v1/info')
  @Public()
  async info(): Promise<InfoResponse> {
    return { ...this.system.info(), organizationKey: await this.organization.organizationKey() };
  }

  @Get('v1/openapi.json')
  @Public()
  openapi(): Record<string, unknown> {
    return this.system.openapi();
  }

  @Post('v1/websocket/ticket')
  ticket(@CurrentDevice() device: AuthenticatedDevice): Promise<WebSocketTicketResponse> {
    return this.auth.issueTicket(device);
  }

  @Get('healthz')
  @Public()
  @RateLimit(null)
  @Header('Cache-Control', 'no-store')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Public()
  @RateLimit(null)
  @HttpCode(200)
  async ready(@Res() response: Response): Promise<void> {
    const ok = await this.system.ready();
    response.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable' });
  }
}
