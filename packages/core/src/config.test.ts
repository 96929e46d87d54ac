import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('configuration', () => {
  it('has timeouts and limits for the HTTP server by default', () => {
    expect(loadConfig({})).toMatchObject({
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 60_000,
      HTTP_IDLE_TIMEOUT_MS: 600_000,
      TRUST_PROXY: 'loopback,linklocal,uniquelocal',
      RATE_LIMIT_IP_PER_SECOND: 5,
      RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE: 5,
      JWT_CLOCK_SKEW_SECONDS: 60,
      JWT_MAX_LIFETIME_SECONDS: 86_400,
    });
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.7' }).TRUST_PROXY).toBe('10.0.0.0/8, 192.0.2.7');
  });

  it('refuses timeouts that contradict each other, naming the variable', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS \(4000\)/,
    );
    expect(() => loadConfig({ HTTP_IDLE_TIMEOUT_MS: '60000' })).toThrow(
      /HTTP_IDLE_TIMEOUT_MS: must be 0 or longer than CHAT_COMPLETION_TIMEOUT_MS \(120000\)/,
    );
    expect(loadConfig({ HTTP_IDLE_TIMEOUT_MS: '0' }).HTTP_IDLE_TIMEOUT_MS).toBe(0);
    for (const bad of ['every proxy', 'loopbak', '10.0.0.0/33', '10.0.0.1,'])
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY: use true, false/);
    expect(loadConfig({ TRUST_PROXY: 'fd00::/8,127.0.0.1' }).TRUST_PROXY).toBe('fd00::/8,127.0.0.1');
  });

  it('reads HOT_STATE_TTL as seconds or with a unit, 7 days by default, and names a bad value', () => {
    expect(loadConfig({}).HOT_STATE_TTL).toBe(7 * 86_400);
    expect(loadConfig({ HOT_STATE_TTL: '90' }).HOT_STATE_TTL).toBe(90);
    expect(loadConfig({ HOT_STATE_TTL: '30m' }).HOT_STATE_TTL).toBe(1800);
    expect(loadConfig({ HOT_STATE_TTL: '12h' }).HOT_STATE_TTL).toBe(43_200);
    expect(loadConfig({ HOT_STATE_TTL: '2d' }).HOT_STATE_TTL).toBe(172_800);
    for (const bad of ['7 days', '-1', '1.5h', 'd', '0', '400d'])
      expect(() => loadConfig({ HOT_STATE_TTL: bad }), bad).toThrow(/HOT_STATE_TTL/);
  });

  it('leaves the worker count to the autoscaler unless WORKERS is set, and keeps min within max', () => {
    expect(loadConfig({}).WORKERS).toBeUndefined();
    expect(loadConfig({ WORKERS: '3' }).WORKERS).toBe(3);
    expect(() => loadConfig({ AUTOSCALE_MIN_WORKERS: '5', AUTOSCALE_MAX_WORKERS: '4' })).toThrow(
      /AUTOSCALE_MIN_WORKERS: must not exceed AUTOSCALE_MAX_WORKERS \(4\)/,
    );
  });

  it('reads REDIS_CLUSTER_NODES as host:port or redis[s]:// entries and names a bad one', () => {
    expect(loadConfig({}).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.5:7000,redis-0.redis:6379 ,[fd00::1]:7001' }),
    ).toMatchObject({
      REDIS_CLUSTER_NODES: {
        nodes: [
          { host: '10.0.0.5', port: 7000 },
          { host: 'redis-0.redis', port: 6379 },
          { host: 'fd00::1', port: 7001 },
        ],
        tls: false,
      },
    });
    expect(
      loadConfig({
        REDIS_CLUSTER_NODES: 'rediss://fleet:p%40ss@a.example:7000,rediss://fleet:p%40ss@b.example',
      }).REDIS_CLUSTER_NODES,
    ).toEqual({
      nodes: [
        { host: 'a.example', port: 7000 },
        { host: 'b.example', port: 6379 },
      ],
      username: 'fleet',
      password: 'p@ss',
      tls: true,
    });
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.5:7000,10.0.0.6' })).toThrow(
      /REDIS_CLUSTER_NODES: "10.0.0.6" is not host:port with a port of 1-65535 \(e.g. 10.0.0.5:6379\) or a redis:\/\/ or rediss:\/\/ URL of a node \(got "10.0.0.5:7000,10.0.0.6"\)/,
    );
    // Entries disagreeing on TLS or credentials are refused, and a password never reaches the message.
    const mixed = () => loadConfig({ REDIS_CLUSTER_NODES: 'rediss://:secret@a:7000,b:7001' });
    expect(mixed).toThrow(/REDIS_CLUSTER_NODES: every entry must have the same scheme/);
    expect(mixed).toThrow(/\(got "rediss:\/\/\*\*\*@a:7000,b:7001"\)/);
    for (const bad of ['redis://10.0.0.5:7000/1', '10.0.0.5:0', '10.0.0.5:70000', ':7000', ',', 'http://a:1'])
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: bad }), bad).toThrow(/REDIS_CLUSTER_NODES: /);
  });
});
