import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { isHttps, trustProxy } from './trust-proxy.ts';

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

  it('sees https through a trusted proxy, whatever else the headers say, and never from a direct client', async () => {
    const trust = trustProxy('loopback,uniquelocal');
    const app = Fastify({ trustProxy: trust });
    app.get('/', async (req) => ({ https: isHttps(req, trust), ip: req.ip }));
    const ask = async (remoteAddress: string, headers: Record<string, string>) =>
      (await app.inject({ method: 'GET', url: '/', remoteAddress, headers })).json();
    expect(await ask('10.0.0.1', { 'x-forwarded-proto': 'https, http' })).toMatchObject({ https: true });
    expect(await ask('10.0.0.1', { forwarded: 'for=192.0.2.1;proto=https;by=10.0.0.1' })).toMatchObject({
      https: true,
    });
    expect(await ask('10.0.0.1', { 'x-forwarded-proto': 'http' })).toMatchObject({ https: false });
    expect(await ask('203.0.113.7', { 'x-forwarded-proto': 'https' })).toMatchObject({ https: false });
    expect(await ask('203.0.113.7', { 'x-forwarded-for': '10.0.0.9' })).toMatchObject({ ip: '203.0.113.7' });
    expect(await ask('10.0.0.1', { 'x-forwarded-for': '198.51.100.4' })).toMatchObject({
      ip: '198.51.100.4',
    });
    await app.close();
  });
});
