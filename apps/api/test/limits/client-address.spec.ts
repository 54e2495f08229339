/** One key per client for rate limits and the authentication throttle: IPv4 as is, IPv6 by its /64. */
import { describe, expect, it } from '@jest/globals';

import { addressKey } from '../../src/middleware/client-address.js';

describe(addressKey.name, () => {
  it('should keep IPv4 addresses and unwrap IPv4-mapped IPv6 ones', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('should fold every address of one IPv6 /64 into one key, whatever its spelling', () => {
    const key = '2001:db8:1:2::/64';
    expect(addressKey('2001:db8:1:2::1')).toBe(key);
    expect(addressKey('2001:0DB8:0001:0002:ffff:eeee:dddd:cccc')).toBe(key);
    expect(addressKey('2001:db8:1:2:3:4:5:6%eth0')).toBe(key);
    expect(addressKey('2001:db8:1:3::1')).not.toBe(key);
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });

  it('should leave an unknown address unknown', () => {
    expect(addressKey(undefined)).toBeUndefined();
    expect(addressKey('')).toBeUndefined();
  });
});
