import { fairQueueKey, TURN_JOB_NAME } from '@agent-fleet/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { FAIR_QUANTUM, FairQueue, MAX_FAIR_PRIORITY, priorityOf } from './fair-queue.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('start-time fair queueing in a partition (fair Lua, real Redis)', () => {
  let ns: string;
  let fair: FairQueue;
  beforeEach(() => {
    ns = freshNamespace();
    // Nothing beyond the prompt until learned: a turn tagged at `prompt` tokens costs that.
    fair = new FairQueue({ redis, namespace: ns, turnTokens: 0 });
  });

  /** Tags `n` turns per tenant, interleaving the calls, and returns the tenants in priority order. */
  async function order(tenants: { name: string; n: number; cost: number; weight: number }[]) {
    const tagged: { tenant: string; start: number; seq: number }[] = [];
    let seq = 0;
    for (let i = 0; i < Math.max(...tenants.map((t) => t.n)); i++)
      for (const t of tenants)
        if (i < t.n)
          tagged.push({ tenant: t.name, ...(await fair.tag(0, t.name, t.cost, t.weight)), seq: seq++ });
    return tagged.sort((a, b) => a.start - b.start || a.seq - b.seq).map((t) => t.tenant);
  }

  it('serves backlogged tenants in proportion to their weights, in tokens', async () => {
    const served = (
      await order([
        { name: 'a', n: 300, cost: 100, weight: 3 },
        { name: 'b', n: 300, cost: 100, weight: 1 },
      ])
    ).slice(0, 200);
    const a = served.filter((t) => t === 'a').length;
    expect(a / (200 - a)).toBeCloseTo(3, 0);
    // Tokens, not turns: a tenant whose turns cost twice as much gets half as many of them.
    const byCost = (
      await order([
        { name: 'big', n: 300, cost: 200, weight: 1 },
        { name: 'small', n: 300, cost: 100, weight: 1 },
      ])
    ).slice(0, 150);
    expect(byCost.filter((t) => t === 'small').length).toBe(2 * byCost.filter((t) => t === 'big').length);
  });

  it('a tenant that arrives is tagged at the virtual time, ahead of a burst queued before it', async () => {
    for (let i = 0; i < 100; i++) await fair.tag(0, 'burst', 500, 1);
    // Ten of the burst's turns have started: the virtual time is the tenth's start tag.
    await fair.started(0, 9 * 500);
    const late = await fair.tag(0, 'late', 500, 1);
    expect(late.start).toBe(9 * 500);
    expect(late.priority).toBe(priorityOf(9 * 500, 0));
    // An idle tenant banks nothing: a turn that used nothing leaves its tenant's next turn at the
    // virtual time, not before it.
    await fair.correct(0, { tenant: 'late', start: late.start, cost: 500, weight: 1 }, 0);
    const next = await fair.tag(0, 'late', 500, 1);
    expect(next.start).toBe(9 * 500);
    // A turn that used more than estimated pushes its tenant's next turns back.
    await fair.correct(0, { tenant: 'late', ...next, weight: 1 }, 2500);
    expect((await fair.tag(0, 'late', 500, 1)).start).toBe(9 * 500 + 2500);
  });

  it('estimates a turn at its prompt plus what its tenant’s turns used beyond their prompts', async () => {
    const withDefault = new FairQueue({ redis, namespace: ns, turnTokens: 800 });
    // Nothing learned yet: the prompt plus the default.
    const first = await withDefault.tag(0, 'a', 50, 1);
    expect(first.cost).toBe(850);
    // a's turn used 450 tokens with a prompt of 50: a's next turns are estimated 400 beyond their
    // prompts, and so is a tenant not seen yet (the partition's average).
    await withDefault.correct(0, { tenant: 'a', ...first, prompt: 50, weight: 1 }, 450);
    expect((await withDefault.tag(0, 'a', 70, 1)).cost).toBe(470);
    expect((await withDefault.tag(0, 'b', 10, 1)).cost).toBe(410);
    // b's turns use more: its own estimate follows them (its first turn as it was, then a moving
    // average), a's stays, and the partition's moves a quarter of the way for a newcomer.
    await withDefault.correct(0, { tenant: 'b', start: 0, cost: 410, prompt: 10, weight: 1 }, 810);
    expect((await withDefault.tag(0, 'b', 10, 1)).cost).toBe(810);
    await withDefault.correct(0, { tenant: 'b', start: 0, cost: 810, prompt: 10, weight: 1 }, 410);
    expect((await withDefault.tag(0, 'b', 10, 1)).cost).toBe(10 + 800 - 0.25 * 400);
    expect((await withDefault.tag(0, 'a', 70, 1)).cost).toBe(470);
    // The partition's: 400, then 400 + (800 - 400) / 4 = 500, then 500 + (400 - 500) / 4 = 475.
    expect((await withDefault.tag(0, 'c', 10, 1)).cost).toBe(10 + 475);
    // The finish tag moved by the real tokens, not the estimate: a was charged 450, then 470.
    expect(Number(await redis.hget(fairQueueKey(ns, 0), 'f:a'))).toBe(450 + 470 + 470);
  });

  it('the virtual time only moves forward, and partitions keep their own', async () => {
    expect((await fair.started(0, 300)).virtualTime).toBe(300);
    expect((await fair.started(0, 100)).virtualTime).toBe(300);
    expect((await fair.started(1, 50)).virtualTime).toBe(50);
  });

  it('moves the priority base up once the virtual time nears the end of BullMQ’s priorities', async () => {
    const queue = new Queue('agent.p0', { connection: redis, prefix: `${ns}:{agent.p0}` });
    try {
      const far = (MAX_FAIR_PRIORITY / 2 + 10) * FAIR_QUANTUM;
      /** Tags a tenant's turn of 100 tokens and queues it with the priority it was given. */
      const queueTagged = async (tenant: string, jobId: string) => {
        const tagged = await fair.tag(0, tenant, 100, 1);
        const data = { fair: { tenant, ...tagged, cost: 100, weight: 1 } };
        await queue.add(TURN_JOB_NAME, data, { jobId, priority: tagged.priority });
      };
      await queueTagged('a', 'old');
      expect(await fair.rebaseIfDue(0, queue)).toBe(false);
      await fair.started(0, far);
      await queueTagged('b', 'new');
      expect(await fair.rebaseIfDue(0, queue)).toBe(true);
      expect(await redis.hget(fairQueueKey(ns, 0), 'base')).toBe(String(far));
      // Re-prioritized above the new base: the old job (start below it) first, the new one at 1.
      expect((await queue.getJob('old'))!.priority).toBe(1);
      expect((await queue.getJob('new'))!.priority).toBe(1);
      expect((await fair.tag(0, 'c', 100, 1)).priority).toBe(1);
      // Tenants whose finish tags fell behind were forgotten.
      expect(await redis.hexists(fairQueueKey(ns, 0), 'f:a')).toBe(0);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
