/**
 * Rate limits by client address behind reverse proxies, through the running server with forged `X-Forwarded-For`
 * headers: a client prepending addresses of its choice still lands on the key of the address our proxy appended
 * (hop count, `on`, or a proxy list); IPv6 clients share one key per /64 and IPv4-mapped spellings are the same
 * client; with `TRUST_PROXY=off` the header is ignored. The registration limit (30 per address per hour) is the
 * probe: refused bodies count too, since the limit runs before validation.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, describe, expect, it } from '@jest/globals';

import { RATE_LIMITS } from '../../src/rate-limits.js';
import { ConfigError, parseConfig } from '../../src/repositories/config.repository.js';
import { request, startServer, type TestServer } from '../support/harness.js';

const LIMIT = RATE_LIMITS.registration.limit;

/** An address a client could put anywhere in its own header. */
const forged = () => `${1 + ((randomBytes(1)[0] ?? 0) % 220)}.${randomBytes(3).join('.')}`;

/** Status of one registration attempt (an empty body: 400 when allowed, 429 when limited). */
const attempt = async (server: TestServer, forwardedFor?: string): Promise<number> =>
  (await request(server, 'POST', '/v1/accounts', {}, forwardedFor ? { 'x-forwarded-for': forwardedFor } : {})).status;

/** Uses up the limit of whoever `header()` resolves to, then returns the status of one more attempt. */
async function exhaust(server: TestServer, header: () => string): Promise<{ allowed: number[]; next: number }> {
  const allowed: number[] = [];
  for (let i = 0; i < LIMIT; i++) allowed.push(await attempt(server, header()));
  return { allowed, next: await attempt(server, header()) };
}

describe('client addresses behind proxies', () => {
  const servers: TestServer[] = [];
  const start = async (trustProxy: string) => {
    const server = await startServer('postgres', { RATE_LIMITS: 'on', TRUST_PROXY: trustProxy });
    servers.push(server);
    return server;
  };

  afterAll(async () => {
    for (const server of servers) await server.close();
  }, 60_000);

  it.each(['on', '1'])(
    'should key TRUST_PROXY=%s by the entry our proxy appended, not by what the client prepended',
    async (setting) => {
      const server = await start(setting);
      const { allowed, next } = await exhaust(server, () => `${forged()}, ${forged()}, 198.51.100.7`);
      expect(allowed.every((s) => s === 400)).toBe(true);
      expect(next).toBe(429);
      // Another client behind the same proxy, and the proxy's own requests, are not affected.
      expect(await attempt(server, `198.51.100.7, 198.51.100.8`)).toBe(400);
      expect(await attempt(server)).toBe(400);
    },
    60_000,
  );

  it('should take the address n hops from the right with TRUST_PROXY=2', async () => {
    const server = await start('2');
    const { next } = await exhaust(server, () => `${forged()}, 198.51.100.7, ${forged()}`);
    expect(next).toBe(429);
    expect(await attempt(server, `198.51.100.7, 198.51.100.8, 10.0.0.1`)).toBe(400);
  }, 60_000);

  it('should walk past listed proxies only', async () => {
    const server = await start('127.0.0.1,10.0.0.0/8');
    const { next } = await exhaust(server, () => `${forged()}, 198.51.100.7, 10.${randomBytes(3).join('.')}`);
    expect(next).toBe(429);
    // An address outside the list stops the walk even when a listed one stands left of it.
    expect(await attempt(server, `10.0.0.1, 198.51.100.8`)).toBe(400);
  }, 60_000);

  it('should key IPv6 clients by /64 and read IPv4-mapped addresses as IPv4', async () => {
    const server = await start('on');
    const inNetwork = () => `2001:db8:1:2:${randomBytes(8).toString('hex').match(/.{4}/g)?.join(':')}`;
    const { next } = await exhaust(server, inNetwork);
    expect(next).toBe(429);
    expect(await attempt(server, '2001:DB8:0001:0002::1')).toBe(429);
    expect(await attempt(server, '2001:db8:1:3::1')).toBe(400);

    const mapped = await exhaust(server, () => '198.51.100.9');
    expect(mapped.next).toBe(429);
    expect(await attempt(server, '::ffff:198.51.100.9')).toBe(429);
    expect(await attempt(server, '[::ffff:c633:6409]:443')).toBe(429);
  }, 60_000);

  it('should ignore X-Forwarded-For with TRUST_PROXY=off', async () => {
    const server = await start('off');
    const { next } = await exhaust(server, () => forged());
    expect(next).toBe(429);
  }, 60_000);

  it('should refuse to start on a TRUST_PROXY that is neither off, on, a hop count nor a proxy list', () => {
    for (const bad of ['10.0.0.0/99', 'all', '99']) {
      expect(() => parseConfig({ TRUST_PROXY: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY/);
    }
  });
});
