/**
 * Public system routes: server info, OpenAPI document, liveness, readiness, Prometheus metrics, and the WebSocket
 * ticket (authenticated). None of them reveals anything about users.
 */
import { Controller, Get, Header, HttpCode, Post, Res } from '@nestjs/common';
import type { InfoResponse, WebSocketTicketResponse } from '@cove/protocol';

import { CurrentDevice, Public } from '../middleware/auth.guard.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { AuthService } from '../services/auth.service.js';
import { SystemService } from '../services/system.service.js';
import { RateLimit } from './rate-limits.js';

type Response = { status(code: number): Response; type(t: string): Response; send(body: unknown): void };

@Controller()
export class SystemController {
  constructor(
    private readonly system: SystemService,
    private readonly auth: AuthService,
  ) {}

  @Get('v1/info')
  @Public()
  info(): InfoResponse {
    return this.system.info();
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

  @Get('metrics')
  @Public()
  @RateLimit(null)
  async metrics(@Res() response: Response): Promise<void> {
    const { contentType, body } = await this.system.metrics();
    response.status(200).type(contentType).send(body);
  }
}
