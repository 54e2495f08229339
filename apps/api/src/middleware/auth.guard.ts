/**
 * Global guard: every route requires device credentials unless marked `@Public()`. On success the device is on
 * `request.device` (read it with `@CurrentDevice()`). It authorizes nothing beyond "this is that device". A route
 * marked `@AllowUnidentified()` (sealed-sender sends) also takes a request with no credentials that carries an
 * `Unidentified-Access-Key` header: it passes with no device, and the service checks the key against the recipient
 * (read it with `@UnidentifiedAccess()`). Credentials and an access key together are refused (`400`): a sealed send
 * must not name its sender.
 */
import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { ErrorCode } from '@cove/protocol';

import { ApiError } from '../services/api-error.js';
import { AuthService, type AuthenticatedDevice } from '../services/auth.service.js';
import type { UnidentifiedSender } from '../services/message.service.js';
import { rateLimitAddressKey } from '../utils/client-address.js';

const PUBLIC = 'cove:public';
const UNIDENTIFIED = 'cove:unidentified';

/** The header of a send without credentials (sealed sender): the recipient's unidentified access key, base64. */
export const UNIDENTIFIED_ACCESS_HEADER = 'unidentified-access-key';

/** Marks a route that needs no credentials. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

export type AuthenticatedRequest = {
  headers: Record<string, string | undefined>;
  /** The client address as Express computes it (`TRUST_PROXY`), for the failed-authentication throttle. */
  ip?: string;
  device?: AuthenticatedDevice;
};

/** Marks a route that also accepts a send without credentials, authorized by `Unidentified-Access-Key`. */
export const AllowUnidentified = (): MethodDecorator => SetMetadata(UNIDENTIFIED, true);

/** The authenticated device of the request, or undefined on an unidentified (sealed-sender) request. */
export const OptionalDevice = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthenticatedDevice | undefined =>
    context.switchToHttp().getRequest<AuthenticatedRequest>().device,
);

/**
 * The access key and client address (rate-limit key: IPv6 per /64) of an unidentified request; undefined when the
 * request carries credentials.
 */
export const UnidentifiedAccess = createParamDecorator(
  (_: unknown, context: ExecutionContext): UnidentifiedSender | undefined => {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const accessKey = request.headers[UNIDENTIFIED_ACCESS_HEADER];
    if (request.device || accessKey === undefined) return undefined;
    return { accessKey, address: rateLimitAddressKey(request.ip ?? '') };
  },
);

/** The authenticated device of the request. */
export const CurrentDevice = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedDevice => {
  const device = context.switchToHttp().getRequest<AuthenticatedRequest>().device;
  if (!device) throw new Error('CurrentDevice used on a public route');
  return device;
});

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.headers[UNIDENTIFIED_ACCESS_HEADER] !== undefined) {
      if (!this.reflector.get<boolean | undefined>(UNIDENTIFIED, context.getHandler())) {
        throw new ApiError(400, ErrorCode.InvalidRequest, 'this route does not take Unidentified-Access-Key');
      }
      if (request.headers.authorization !== undefined) {
        throw new ApiError(400, ErrorCode.InvalidRequest, 'send credentials or Unidentified-Access-Key, not both');
      }
      return true;
    }
    request.device = await this.auth.authenticateHeader(request.headers.authorization, request.ip);
    return true;
  }
}
