/**
 * Rate limits (`@nestjs/throttler`), keyed per requester — the authenticated device, else the client address — and,
 * on routes with an `:accountId` target (prekey bundles, sends), per (requester, target), so nobody can drain
 * another user's prekeys. Disabled as a whole with `RATE_LIMITS=off`. Limits per route are set with `@Throttle`.
 */
import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard } from '@nestjs/throttler';
import { ErrorCode } from '@cove/protocol';

import { ApiError } from '../services/api-error.js';
import type { AuthenticatedRequest } from './auth.guard.js';

type Request = AuthenticatedRequest & { ip?: string; params?: Record<string, string> };

@Injectable()
export class CoveThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as Request;
    const requester = request.device
      ? `${request.device.accountId}.${request.device.deviceId}`
      : `ip:${request.ip ?? ''}`;
    const target = request.params?.accountId;
    return Promise.resolve(target ? `${requester}>${target}` : requester);
  }

  protected override throwThrottlingException(): Promise<void> {
    throw new ApiError(429, ErrorCode.RateLimited, 'too many requests, retry later');
  }

  override canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return Promise.resolve(true);
    return super.canActivate(context).catch((error: unknown) => {
      if (error instanceof ThrottlerException) throw new ApiError(429, ErrorCode.RateLimited, 'too many requests');
      throw error;
    });
  }
}
