import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { TurnEvents } from './events.ts';
import { compareStreamIds, type StreamEntry } from './stream-followers.ts';
import { StreamReader } from './stream-reader.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

const ids = (entries: StreamEntry[]) => entries.map(([id]) => id);

describe('StreamReader (real Redis)', () => {
  let ns: string;
  let conn: Redis;
  let reader: StreamReader;
  beforeEach(() => {
    ns = freshNamespace();
    conn = new Redis(redisUrl(), {
      connectionName: `${ns}:reader`,
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: false,
    });
    reader = new StreamReader({ connection: conn, control: redis, blockMs: 10_000 });
  });
  afterEach(() => {
    reader.close();
    conn.disconnect();
  });

  it('orders stream ids', () => {
    expect(compareStreamIds('0', '1-0')).toBeLessThan(0);
    expect(compareStreamIds('10-1', '9-5')).toBeGreaterThan(0);
    expect(compareStreamIds('5-2', '5-10')).toBeLessThan(0);
    expect(compareStreamIds('5-2', '5-2')).toBe(0);
  });

  it('follows many streams over its one connection, each follower in order from its own position', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `${ns}:s${i}`);
    const seen = new Map<string, string[]>();
    const stops = keys.map((k) =>
      reader.follow(k, '0', (e) => seen.set(k, [...(seen.get(k) ?? []), ...ids(e)])),
    );
    const added = new Map<string, string[]>();
    for (let round = 0; round < 3; round++)
      for (const k of keys)
        added.set(k, [...(added.get(k) ?? []), (await redis.xadd(k, '*', 'n', String(round)))!]);
    await expect.poll(() => keys.map((k) => seen.get(k)?.length ?? 0)).toEqual(keys.map(() => 3));
    for (const k of keys) expect(seen.get(k)).toEqual(added.get(k));
    // A second follower of the same stream from its middle gets only what comes after.
    const late: string[] = [];
    const stopLate = reader.follow(keys[0]!, added.get(keys[0]!)![1]!, (e) => late.push(...ids(e)));
    await expect.poll(() => late).toEqual([added.get(keys[0]!)![2]]);
    for (const stop of [...stops, stopLate]) stop();
    expect(reader.streams).toBe(0);
    const names = (await redis.client('LIST')) as string;
    expect(names.split('\n').filter((l) => l.includes(`name=${ns}:reader`))).toHaveLength(1);
  });

  it('lets a stream followed while a read blocks join at once, not after the block', async () => {
    const got: string[] = [];
    reader.follow(`${ns}:first`, '$', () => {});
    await new Promise((r) => setTimeout(r, 100)); // the read now blocks for 10 s on `first` alone
    reader.follow(`${ns}:second`, '0', (e) => got.push(...ids(e)));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const id = await redis.xadd(`${ns}:second`, '*', 'n', '1');
    await expect.poll(() => got, { timeout: 2000, interval: 5 }).toEqual([id]);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('never calls a follower again once it stopped following', async () => {
    const got: string[] = [];
    const stop = reader.follow(`${ns}:s`, '0', (e) => got.push(...ids(e)));
    const first = await redis.xadd(`${ns}:s`, '*', 'n', '1');
    await expect.poll(() => got).toEqual([first]);
    stop();
    expect(reader.streams).toBe(0);
    await redis.xadd(`${ns}:s`, '*', 'n', '2');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([first]);
  });

  it('keeps its followers across a lost connection', async () => {
    const got: string[] = [];
    reader.follow(`${ns}:s`, '0', (e) => got.push(...ids(e)));
    const a = await redis.xadd(`${ns}:s`, '*', 'n', '1');
    await expect.poll(() => got).toEqual([a]);
    const killed = ((await redis.client('LIST')) as string)
      .split('\n')
      .find((l) => l.includes(`name=${ns}:reader`))
      ?.match(/id=(\d+)/)?.[1];
    expect(killed).toBeDefined();
    await redis.client('KILL', 'ID', killed!);
    const b = await redis.xadd(`${ns}:s`, '*', 'n', '2');
    await expect.poll(() => got, { timeout: 5000 }).toEqual([a, b]);
  });
});

describe('TurnEvents.tail (real Redis)', () => {
  let ns: string;
  let conn: Redis;
  let reader: StreamReader;
  let events: TurnEvents;
  beforeEach(() => {
    ns = freshNamespace();
    conn = new Redis(redisUrl(), { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false });
    reader = new StreamReader({ connection: conn, control: redis });
    events = new TurnEvents({ redis, namespace: ns, reader });
  });
  afterEach(() => {
    reader.close();
    conn.disconnect();
  });

  it('yields what is there, then what comes, in order, with keep-alives between, and ends at done', async () => {
    await events.publish('ann', 't1', { type: 'status', status: 'running', attempt: 1 });
    const items: string[] = [];
    const tailed = (async () => {
      for await (const item of events.tail('ann', 't1', { keepAliveMs: 60 }))
        items.push(item.kind === 'event' ? item.event.type : 'keep-alive');
    })();
    await expect.poll(() => items).toEqual(['status']);
    await expect.poll(() => items.includes('keep-alive')).toBe(true);
    await events.publish('ann', 't1', { type: 'token', text: 'Hel' });
    await events.publish('ann', 't1', { type: 'token', text: 'lo' });
    await events.publish('ann', 't1', { type: 'done', status: 'completed', reply: 'Hello' });
    await tailed;
    expect(items.filter((i) => i !== 'keep-alive')).toEqual(['status', 'token', 'token', 'done']);
    expect(reader.streams).toBe(0);
    // Resuming after an event gives what followed it, and a finished turn ends at once.
    const all = await events.read('ann', 't1', '0');
    const resumed: string[] = [];
    for await (const item of events.tail('ann', 't1', { after: all[1]!.id }))
      if (item.kind === 'event') resumed.push(item.id);
    expect(resumed).toEqual(all.slice(2).map((e) => e.id));
  });

  it('ends at once when its signal aborts, and lets go of the stream', async () => {
    const abort = new AbortController();
    let ended = 0;
    const tailed = (async () => {
      for await (const _ of events.tail('ann', 't2', { signal: abort.signal })) {
        // nothing comes
      }
      ended = Date.now();
    })();
    await expect.poll(() => reader.streams).toBe(1);
    const aborted = Date.now();
    abort.abort();
    await tailed;
    expect(ended - aborted).toBeLessThan(50);
    expect(reader.streams).toBe(0);
  });
});
