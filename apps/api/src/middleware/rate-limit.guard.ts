/**
 * Global guard (after authentication) applying the route's rate limit, keyed per requester — the authenticated
 * device, else the client address (`req.ip` under `TRUST_PROXY`; IPv6 per /64) — and, on routes with an `:accountId` target (prekey bundles, sends), per
 * (requester, target), so nobody can drain another user's prekeys. A refusal is `429 rate_limited` with
 * `Retry-After`. Disabled with `RATE_LIMITS=off`.
 */
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode } from '@cove/protocol';

import { RATE_LIMIT_KEY } from '../controllers/rate-limits.js';
import type { RateLimitName } from '../rate-limits.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { ApiError } from '../services/api-error.js';
import { rateLimitAddressKey } from '../utils/client-address.js';
import type { AuthenticatedRequest } from './auth.guard.js';

type Request = AuthenticatedRequest & { ip?: string; params?: Record<string, string> };
type Response = { setHeader(name: string, value: string): void };

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimitRepository,
    private readonly config: ConfigRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http' || !this.config.config.rateLimits) return true;
    const name = this.reflector.get<RateLimitName | null | undefined>(RATE_LIMIT_KEY, context.getHandler());
    if (name === null) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const requester = request.device
      ? `${request.device.accountId}.${request.device.deviceId}`
      : `ip:${rateLimitAddressKey(request.ip ?? '')}`;
    /** The guard runs before the pipes: canonicalize the target here, or another spelling would start a new count. */
    const target = request.params?.accountId?.toLowerCase();
    const key = `${context.getClass().name}.${context.getHandler().name}:${requester}${target ? `>${target}` : ''}`;
    const verdict = await this.limits.consume(name ?? 'default', key);
    if (verdict.allowed) return true;
    http.getResponse<Response>().setHeader('Retry-After', String(verdict.retryAfterSeconds));
    throw new ApiError(429, ErrorCode.RateLimited, 'too many requests, retry later');
  }
}
