import { describe, expect, it } from 'vitest';
import { trustProxy } from './trust-proxy.ts';

describe('TRUST_PROXY', () => {
  it('trusts the listed networks only', () => {
    const trust = trustProxy('loopback,linklocal,uniquelocal');
    for (const a of ['127.0.0.1', '::1', '10.1.2.3', '192.168.0.9', '172.16.5.5', 'fd00::1'])
      expect(trust(a, 0), a).toBe(true);
    for (const a of ['203.0.113.7', '8.8.8.8', '2001:db8::1']) expect(trust(a, 0), a).toBe(false);
    expect(trustProxy('203.0.113.0/24')('203.0.113.7', 0)).toBe(true);
    expect(trustProxy('true')('8.8.8.8', 3)).toBe(true);
    expect(trustProxy('false')('127.0.0.1', 0)).toBe(false);
    expect(() => trustProxy('not-an-address')).toThrow();
  });
});
