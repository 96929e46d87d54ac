import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { TurnEvents } from './events.ts';
import type { StreamEntry, StreamFollower } from './stream-followers.ts';

/** A follower under test, reading over a connection named `connectionName` (the one the test kills). */
export interface FollowerBackend {
  follower: StreamFollower;
  connectionName: string;
  /** Closes what the backend opened besides the follower. */
  cleanup(): void;
}

export const entryIds = (entries: StreamEntry[]) => entries.map(([id]) => id);

/**
 * The StreamFollower contract: every implementation must pass it, against a real Redis. Covers
 * following many streams from their own positions over one connection, never calling a follower
 * that stopped, riding out a lost connection, and serving `TurnEvents.tail` from start to done.
 */
export function streamFollowerContract(name: string, open: (ns: string) => FollowerBackend) {
  describe(`StreamFollower contract: ${name} (real Redis)`, () => {
    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    afterAll(() => redis.quit());
    let ns: string;
    let backend: FollowerBackend;
    let follower: StreamFollower;
    beforeEach(() => {
      ns = freshNamespace();
      backend = open(ns);
      follower = backend.follower;
    });
    afterEach(() => {
      follower.close();
      backend.cleanup();
    });

    const connectionId = async () =>
      ((await redis.client('LIST')) as string)
        .split('\n')
        .filter((l) => l.includes(`name=${backend.connectionName}`))
        .map((l) => l.match(/id=(\d+)/)?.[1]);

    it('follows many streams over one connection, each follower in order from its own position', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => `${ns}:{s${i}}`);
      const seen = new Map<string, string[]>();
      const stops = keys.map((k) =>
        follower.follow(k, '0', (e) => seen.set(k, [...(seen.get(k) ?? []), ...entryIds(e)])),
      );
      const added = new Map<string, string[]>();
      for (let round = 0; round < 3; round++)
        for (const k of keys)
          added.set(k, [...(added.get(k) ?? []), (await redis.xadd(k, '*', 'n', String(round)))!]);
      await expect.poll(() => keys.map((k) => seen.get(k)?.length ?? 0)).toEqual(keys.map(() => 3));
      for (const k of keys) expect(seen.get(k)).toEqual(added.get(k));
      // A second follower of the same stream from its middle gets only what comes after.
      const late: string[] = [];
      const stopLate = follower.follow(keys[0]!, added.get(keys[0]!)![1]!, (e) => late.push(...entryIds(e)));
      await expect.poll(() => late).toEqual([added.get(keys[0]!)![2]]);
      for (const stop of [...stops, stopLate]) stop();
      expect(follower.streams).toBe(0);
      expect(await connectionId()).toHaveLength(1);
    });

    it('never calls a follower again once it stopped following', async () => {
      const got: string[] = [];
      const stop = follower.follow(`${ns}:s`, '0', (e) => got.push(...entryIds(e)));
      const first = await redis.xadd(`${ns}:s`, '*', 'n', '1');
      await expect.poll(() => got).toEqual([first]);
      stop();
      expect(follower.streams).toBe(0);
      await redis.xadd(`${ns}:s`, '*', 'n', '2');
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual([first]);
    });

    it('keeps its followers across a lost connection', async () => {
      const got: string[] = [];
      follower.follow(`${ns}:s`, '0', (e) => got.push(...entryIds(e)));
      const a = await redis.xadd(`${ns}:s`, '*', 'n', '1');
      await expect.poll(() => got).toEqual([a]);
      const [killed] = await connectionId();
      expect(killed).toBeDefined();
      await redis.client('KILL', 'ID', killed!);
      const b = await redis.xadd(`${ns}:s`, '*', 'n', '2');
      await expect.poll(() => got, { timeout: 5000 }).toEqual([a, b]);
    });

    it('serves TurnEvents.tail: what is there, then what comes, in order, with keep-alives between, to done', async () => {
      const events = new TurnEvents({ redis, namespace: ns, reader: follower });
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
      expect(follower.streams).toBe(0);
      // Resuming after an event gives what followed it, and a finished turn ends at once.
      const all = await events.read('ann', 't1', '0');
      const resumed: string[] = [];
      for await (const item of events.tail('ann', 't1', { after: all[1]!.id }))
        if (item.kind === 'event') resumed.push(item.id);
      expect(resumed).toEqual(all.slice(2).map((e) => e.id));
    });

    it('ends a tail at once when its signal aborts, and lets go of the stream', async () => {
      const events = new TurnEvents({ redis, namespace: ns, reader: follower });
      const abort = new AbortController();
      let ended = 0;
      const tailed = (async () => {
        for await (const _ of events.tail('ann', 't2', { signal: abort.signal })) {
          // nothing comes
        }
        ended = Date.now();
      })();
      await expect.poll(() => follower.streams).toBe(1);
      const aborted = Date.now();
      abort.abort();
      await tailed;
      expect(ended - aborted).toBeLessThan(50);
      expect(follower.streams).toBe(0);
    });
  });
}
