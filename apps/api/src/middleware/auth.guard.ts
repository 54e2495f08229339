/**
 * Global guard: every route requires device credentials unless marked `@Public()`. On success the device is on
 * `request.device` (read it with `@CurrentDevice()`). It authorizes nothing beyond "this is that device".
 */
import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { AuthService, type AuthenticatedDevice } from '../services/auth.service.js';

const PUBLIC = 'cove:public';

/** Marks a route that needs no credentials. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

export type AuthenticatedRequest = {
  headers: Record<string, string | undefined>;
  /** The client address as Express computes it (`TRUST_PROXY`), for the failed-authentication throttle. */
  ip?: string;
  device?: AuthenticatedDevice;
};

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
    request.device = await this.auth.authenticateHeader(request.headers.authorization, request.ip);
    return true;
  }
}
