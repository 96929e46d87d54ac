import { createRedis, type RedisClient } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { TurnEvents } from './events.ts';
import type { StreamEntry } from './stream-followers.ts';
import { StreamPoller } from './stream-poller.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

const ids = (entries: StreamEntry[]) => entries.map(([id]) => id);

describe('StreamPoller (real Redis)', () => {
  let ns: string;
  let client: RedisClient;
  let poller: StreamPoller;
  const errors: Error[] = [];
  beforeEach(() => {
    ns = freshNamespace();
    client = createRedis({ url: redisUrl() }, { role: 'worker', name: `${ns}:poller` });
    poller = new StreamPoller({ redis: client, intervalMs: 20, onError: (e) => errors.push(e) });
  });
  afterEach(() => {
    poller.close();
    client.disconnect();
  });

  it('follows many streams without a connection of its own, each follower in order from its own position', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `${ns}:{s${i}}`);
    const seen = new Map<string, string[]>();
    const stops = keys.map((k) =>
      poller.follow(k, '0', (e) => seen.set(k, [...(seen.get(k) ?? []), ...ids(e)])),
    );
    const added = new Map<string, string[]>();
    for (let round = 0; round < 3; round++)
      for (const k of keys)
        added.set(k, [...(added.get(k) ?? []), (await redis.xadd(k, '*', 'n', String(round)))!]);
    await expect.poll(() => keys.map((k) => seen.get(k)?.length ?? 0)).toEqual(keys.map(() => 3));
    for (const k of keys) expect(seen.get(k)).toEqual(added.get(k));
    const late: string[] = [];
    const stopLate = poller.follow(keys[0]!, added.get(keys[0]!)![1]!, (e) => late.push(...ids(e)));
    await expect.poll(() => late).toEqual([added.get(keys[0]!)![2]]);
    for (const stop of [...stops, stopLate]) stop();
    expect(poller.streams).toBe(0);
    const names = (await redis.client('LIST')) as string;
    expect(names.split('\n').filter((l) => l.includes(`name=${ns}:poller`))).toHaveLength(1);
  });

  it('reads a stream longer than one batch to its end without waiting an interval per batch', async () => {
    const slow = new StreamPoller({ redis: client, intervalMs: 1000, count: 10 });
    const key = `${ns}:long`;
    for (let i = 0; i < 35; i++) await redis.xadd(key, '*', 'n', String(i));
    const got: string[] = [];
    slow.follow(key, '0', (e) => got.push(...ids(e)));
    await expect.poll(() => got.length, { timeout: 500, interval: 10 }).toBe(35);
    slow.close();
  });

  it('never calls a follower again once it stopped following', async () => {
    const got: string[] = [];
    const stop = poller.follow(`${ns}:s`, '0', (e) => got.push(...ids(e)));
    const first = await redis.xadd(`${ns}:s`, '*', 'n', '1');
    await expect.poll(() => got).toEqual([first]);
    stop();
    expect(poller.streams).toBe(0);
    await redis.xadd(`${ns}:s`, '*', 'n', '2');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([first]);
  });

  it('keeps its followers across a lost connection, reporting the failed round', async () => {
    const got: string[] = [];
    poller.follow(`${ns}:s`, '0', (e) => got.push(...ids(e)));
    const a = await redis.xadd(`${ns}:s`, '*', 'n', '1');
    await expect.poll(() => got).toEqual([a]);
    errors.length = 0;
    const failing = createRedis({ url: 'redis://127.0.0.1:1' }, { role: 'producer', lazy: true });
    failing.on('error', () => {});
    const broken = new StreamPoller({ redis: failing, intervalMs: 20, onError: (e) => errors.push(e) });
    broken.follow(`${ns}:s`, '0', () => {});
    await expect.poll(() => errors.length).toBeGreaterThan(0);
    broken.close();
    failing.disconnect();
    const killed = ((await redis.client('LIST')) as string)
      .split('\n')
      .find((l) => l.includes(`name=${ns}:poller`))
      ?.match(/id=(\d+)/)?.[1];
    expect(killed).toBeDefined();
    await redis.client('KILL', 'ID', killed!);
    const b = await redis.xadd(`${ns}:s`, '*', 'n', '2');
    await expect.poll(() => got, { timeout: 5000 }).toEqual([a, b]);
  });

  it('serves TurnEvents.tail from what is there to done', async () => {
    const events = new TurnEvents({ redis: client, namespace: ns, reader: poller });
    await events.publish('ann', 't1', { type: 'status', status: 'running', attempt: 1 });
    const items: string[] = [];
    const tailed = (async () => {
      for await (const item of events.tail('ann', 't1', { keepAliveMs: 60 }))
        items.push(item.kind === 'event' ? item.event.type : 'keep-alive');
    })();
    await expect.poll(() => poller.streams).toBe(1);
    await events.publish('ann', 't1', { type: 'token', text: 'Hi' });
    await events.publish('ann', 't1', { type: 'done', status: 'completed', reply: 'Hi' });
    await tailed;
    expect(items.filter((i) => i !== 'keep-alive')).toEqual(['status', 'token', 'done']);
    expect(poller.streams).toBe(0);
  });
});
