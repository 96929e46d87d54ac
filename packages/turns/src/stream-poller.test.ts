import { createRedis, type RedisClient } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { entryIds, streamFollowerContract } from './stream-followers.contract.ts';
import { StreamPoller } from './stream-poller.ts';

streamFollowerContract('StreamPoller', (ns) => {
  const client: RedisClient = createRedis({ url: redisUrl() }, { role: 'worker', name: `${ns}:poller` });
  return {
    follower: new StreamPoller({ redis: client, intervalMs: 20 }),
    connectionName: `${ns}:poller`,
    cleanup: () => client.disconnect(),
  };
});

describe('StreamPoller (real Redis)', () => {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  afterAll(() => redis.quit());

  it('reads a stream longer than one batch to its end without waiting an interval per batch', async () => {
    const slow = new StreamPoller({ redis, intervalMs: 1000, count: 10 });
    const key = `${freshNamespace()}:long`;
    for (let i = 0; i < 35; i++) await redis.xadd(key, '*', 'n', String(i));
    const got: string[] = [];
    slow.follow(key, '0', (e) => got.push(...entryIds(e)));
    await expect.poll(() => got.length, { timeout: 500, interval: 10 }).toBe(35);
    slow.close();
  });

  it('reports a round that failed, and keeps polling', async () => {
    const errors: Error[] = [];
    const failing = createRedis({ url: 'redis://127.0.0.1:1' }, { role: 'producer', lazy: true });
    failing.on('error', () => {});
    const broken = new StreamPoller({ redis: failing, intervalMs: 20, onError: (e) => errors.push(e) });
    broken.follow(`${freshNamespace()}:s`, '0', () => {});
    await expect.poll(() => errors.length).toBeGreaterThan(1);
    broken.close();
    failing.disconnect();
  });
});
