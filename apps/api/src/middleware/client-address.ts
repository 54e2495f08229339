/**
 * The client address of a request, as rate limits and authentication throttling see it: Express's `req.ip` for HTTP
 * (which applies `TRUST_PROXY` to `X-Forwarded-For`), the very same rule applied to a WebSocket upgrade request
 * ({@link ClientAddressResolver}), and {@link addressKey}, which folds an IPv6 client into its /64 and an IPv4-mapped
 * IPv6 address into plain IPv4 so that one client has one key. It decides nothing about what the address may do.
 */
import type { IncomingMessage } from 'node:http';

import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

@Injectable()
export class ClientAddressResolver {
  constructor(private readonly host: HttpAdapterHost) {}

  /**
   * The address of a WebSocket upgrade request, computed by Express's own `req.ip` (so whatever `trust proxy` the
   * HTTP side uses applies here too) on a view of the request that shares its headers and socket.
   */
  of(request: IncomingMessage): string | undefined {
    const express = this.host.httpAdapter?.getInstance<{ request?: object } | undefined>();
    if (!express?.request) return request.socket.remoteAddress;
    const view = Object.create(express.request, {
      headers: { value: request.headers },
      socket: { value: request.socket },
      connection: { value: request.socket },
    }) as { ip?: string };
    return view.ip ?? request.socket.remoteAddress;
  }
}

/** IPv6 groups that name one subscriber: providers hand each customer a /64 (RFC 6177), so it is one client. */
const IPV6_CLIENT_GROUPS = 4;

/**
 * One key per client: an IPv4 address as is (`::ffff:` mapping removed), an IPv6 address as its /64 prefix
 * (`2001:db8:1:2::/64`), zone ids dropped. Undefined stays undefined (no address known).
 */
export function addressKey(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const plain = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(plain);
  if (mapped) return mapped[1];
  if (!plain.includes(':')) return plain;
  const [head = '', tail] = plain.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  const groups = [...left, ...zeros, ...right].slice(0, IPV6_CLIENT_GROUPS);
  return `${groups.map((g) => Number.parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}
