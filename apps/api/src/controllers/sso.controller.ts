/**
 * Single sign-on routes (`REGISTRATION=sso`), all without device credentials: `GET /v1/sso/authorize` sends a browser
 * to the identity provider, `GET /v1/sso/callback` takes it back and redirects to the PWA with the outcome in the URL
 * fragment, `POST /v1/sso/device` and `POST /v1/sso/device/token` run the command line's device authorization grant.
 * The rules are the SSO service's.
 */
import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { SsoDevicePollRequest, type SsoDeviceStartResponse, type SsoGrantResponse } from '@cove/protocol';
import type { Request, Response } from 'express';

import { Public } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import { SsoService } from '../services/sso.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/sso')
export class SsoController {
  constructor(private readonly sso: SsoService) {}

  @Get('authorize')
  @HttpCode(302)
  @Public()
  @RateLimit('ssoStart')
  async authorize(@Res() res: Response): Promise<void> {
    const url = await this.sso.startWeb();
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, url);
  }

  @Get('callback')
  @HttpCode(303)
  @Public()
  @RateLimit('ssoPoll')
  async callback(@Req() req: Request, @Res() res: Response): Promise<void> {
    const query = new URL(req.originalUrl, 'http://callback').searchParams;
    const { redirect } = await this.sso.finishWeb(query);
    res.setHeader('Cache-Control', 'no-store');
    // The token travels in the fragment: never sent to a server, never in a Referer or an access log.
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.redirect(303, redirect);
  }

  @Post('device')
  @Public()
  @HttpCode(200)
  @RateLimit('ssoStart')
  startDevice(): Promise<SsoDeviceStartResponse> {
    return this.sso.startDevice();
  }

  @Post('device/token')
  @Public()
  @HttpCode(200)
  @RateLimit('ssoPoll')
  pollDevice(@Body(new ZodPipe(SsoDevicePollRequest)) body: SsoDevicePollRequest): Promise<SsoGrantResponse> {
    return this.sso.pollDevice(body.handle);
  }
}
