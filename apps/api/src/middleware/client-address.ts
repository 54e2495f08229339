/**
 * The client address of a WebSocket upgrade request, under the same `TRUST_PROXY` rule that gives HTTP requests their
 * `req.ip` (one resolver, `utils/client-address.ts`), so rate limits and the authentication throttle see one address
 * per client on both transports. It decides nothing about what the address may do.
 */
import type { IncomingMessage } from 'node:http';

import { Injectable } from '@nestjs/common';

import { ConfigRepository } from '../repositories/config.repository.js';
import { ClientAddressResolver } from '../utils/client-address.js';

@Injectable()
export class WebSocketClientAddress {
  private readonly resolver: ClientAddressResolver;

  constructor(config: ConfigRepository) {
    this.resolver = new ClientAddressResolver(config.config.trustProxy);
  }

  /** The client's address: the socket's peer, or what trusted proxies say it was. */
  of(request: IncomingMessage): string {
    return this.resolver.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']);
  }
}
