/**
 * The client address behind reverse proxies, with forged `X-Forwarded-For` headers: a hop count takes the entry
 * that many hops from the right, a proxy list walks from the right past trusted proxies only, and nothing a client
 * writes to the left of what our proxies appended is ever used. Addresses get one spelling and IPv6 is keyed by /64.
 */
import { describe, expect, it } from '@jest/globals';

import {
  ClientAddressResolver,
  normalizeAddress,
  parseTrustProxy,
  rateLimitAddressKey,
} from '../../src/utils/client-address.js';

const resolver = (setting: string) => new ClientAddressResolver(parseTrustProxy(setting));

describe(ClientAddressResolver.name, () => {
  it('should ignore X-Forwarded-For entirely when TRUST_PROXY is off', () => {
    for (const setting of ['off', 'false', '0']) {
      expect(resolver(setting).resolve('203.0.113.9', '1.1.1.1, 2.2.2.2')).toBe('203.0.113.9');
    }
  });

  it('should take the entry one hop from the right for on and 1, whatever a client prepends', () => {
    for (const setting of ['on', 'true', '1']) {
      const r = resolver(setting);
      expect(r.resolve('10.0.0.2', '198.51.100.7')).toBe('198.51.100.7');
      expect(r.resolve('10.0.0.2', '6.6.6.6, 7.7.7.7, 198.51.100.7')).toBe('198.51.100.7');
      expect(r.resolve('10.0.0.2', ['6.6.6.6', '198.51.100.7'])).toBe('198.51.100.7');
      // No header: the peer itself.
      expect(r.resolve('10.0.0.2', undefined)).toBe('10.0.0.2');
    }
  });

  it('should take the entry n hops from the right for a hop count', () => {
    const header = 'forged-by-client, 6.6.6.6, 198.51.100.7, 10.0.0.1';
    expect(resolver('2').resolve('10.0.0.2', header)).toBe('198.51.100.7');
    expect(resolver('3').resolve('10.0.0.2', header)).toBe('6.6.6.6');
    // Fewer entries than hops: the leftmost readable one (a misconfiguration, never a crash).
    expect(resolver('5').resolve('10.0.0.2', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('should walk a proxy list from the right, skipping trusted proxies only', () => {
    const r = resolver('127.0.0.1, 10.0.0.0/8, fd00::/8');
    expect(r.resolve('127.0.0.1', '6.6.6.6, 198.51.100.7, 10.1.2.3')).toBe('198.51.100.7');
    expect(r.resolve('127.0.0.1', '6.6.6.6, 198.51.100.7, fd00::5, 10.1.2.3')).toBe('198.51.100.7');
    // A trusted-looking address left of an untrusted one is the client's own writing: never reached.
    expect(r.resolve('127.0.0.1', '10.9.9.9, 198.51.100.7')).toBe('198.51.100.7');
    // A peer that is not a listed proxy: its header is not believed at all.
    expect(r.resolve('203.0.113.9', '198.51.100.7')).toBe('203.0.113.9');
    // Every hop trusted: the leftmost entry.
    expect(r.resolve('127.0.0.1', '10.0.0.7, 10.0.0.8')).toBe('10.0.0.7');
  });

  it('should stop at an unreadable entry instead of using it', () => {
    const r = resolver('2');
    expect(r.resolve('10.0.0.2', '198.51.100.7, not-an-address')).toBe('10.0.0.2');
    expect(r.resolve('10.0.0.2', '6.6.6.6, , 198.51.100.7')).toBe('198.51.100.7');
    expect(resolver('1').resolve(undefined, '198.51.100.7')).toBe('unknown');
  });

  it('should read the ports and brackets proxies write and IPv4-mapped peers', () => {
    const r = resolver('1');
    expect(r.resolve('::ffff:127.0.0.1', '198.51.100.7:5060')).toBe('198.51.100.7');
    expect(r.resolve('::ffff:127.0.0.1', '[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(resolver('::ffff:127.0.0.0/104').resolve('127.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
    expect(resolver('127.0.0.1').resolve('::ffff:127.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('should refuse settings that are neither off, on, a hop count nor a proxy list', () => {
    for (const bad of ['17', 'yes', '10.0.0.0/33', '10.0.0.0/8/1', 'fd00::/129', 'example.com', '[::1]', '1.2.3']) {
      expect(() => parseTrustProxy(bad)).toThrow(Error);
    }
    expect(parseTrustProxy('16')).toEqual({ kind: 'hops', hops: 16 });
    expect(parseTrustProxy('on')).toEqual({ kind: 'hops', hops: 1 });
  });
});

describe(normalizeAddress.name, () => {
  it('should give every address one spelling', () => {
    expect(normalizeAddress('::FFFF:198.51.100.7')).toBe('198.51.100.7');
    expect(normalizeAddress('::ffff:c633:6407')).toBe('198.51.100.7');
    expect(normalizeAddress('2001:0DB8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(normalizeAddress('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2:3:4:5:6');
    expect(normalizeAddress('::')).toBe('::');
    expect(normalizeAddress('64:ff9b::192.0.2.33')).toBe('64:ff9b::c000:221');
    for (const bad of ['', 'x', '1.2.3', '1.2.3.4.5', '::g', '[1.2.3.4]x'])
      expect(normalizeAddress(bad)).toBeUndefined();
  });
});

describe(rateLimitAddressKey.name, () => {
  it('should key IPv4 by address and IPv6 by /64, whatever the spelling', () => {
    expect(rateLimitAddressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(rateLimitAddressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    const key = rateLimitAddressKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:DB8:0001:0002::abcd', '[2001:db8:1:2::9]:80'])
      expect(rateLimitAddressKey(same)).toBe(key);
    expect(rateLimitAddressKey('2001:db8:1:2:3:4:5:6%eth0')).toBe(key);
    expect(rateLimitAddressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(rateLimitAddressKey('2001:db8:1:3::1')).not.toBe(key);
    expect(rateLimitAddressKey('2001:db8::1')).toBe('2001:db8::/64');
    expect(rateLimitAddressKey('garbage')).toBe('unknown');
  });
});
