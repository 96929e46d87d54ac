import { INTAKE_QUEUE, partitionQueueName, partitionQueuePrefix, REVIEW_QUEUES } from '@agent-fleet/core';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { WorkBacklog } from './backlog.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('the backlog signal (real Redis)', () => {
  it('counts waiting, prioritized, due delayed and active jobs of every work queue, not future delayed ones', async () => {
    const ns = freshNamespace();
    const name = partitionQueueName(1);
    const prefix = partitionQueuePrefix(ns, 1);
    const queue = new Queue(name, { connection: redis, prefix });
    const backlog = new WorkBacklog({ connection: redis, namespace: ns, partitions: 2 });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker(name, () => held, { connection: redis, prefix, autorun: false });
    try {
      await queue.add('t', {}, { jobId: 'running' });
      const running = new Promise((resolve) => worker.once('active', resolve));
      void worker.run();
      await running;
      await queue.addBulk([
        { name: 't', data: {}, opts: { jobId: 'w1' } },
        { name: 't', data: {}, opts: { jobId: 'w2' } },
        { name: 't', data: {}, opts: { jobId: 'p1', priority: 5 } },
        { name: 't', data: {}, opts: { jobId: 'due', delay: 1 } },
        { name: 't', data: {}, opts: { jobId: 'parked', delay: 3_600_000 } },
      ]);
      const now = Date.now() + 50;
      const byQueue = await backlog.measure(now);
      expect(byQueue.map((q) => q.queue)).toEqual([
        'agent.p0',
        'agent.p1',
        INTAKE_QUEUE,
        ...Object.values(REVIEW_QUEUES),
      ]);
      expect(byQueue[1]).toEqual({
        queue: name,
        waiting: 2,
        prioritized: 1,
        delayedReady: 1,
        active: 1,
        total: 5,
      });
      expect(byQueue.filter((q) => q.queue !== name).every((q) => q.total === 0)).toBe(true);
      expect(await backlog.total(now)).toBe(5);
      // Before the short delay has run out, that job is not work yet.
      expect((await backlog.measure(Date.now() - 60_000))[1]!.delayedReady).toBe(0);
      // The job a worker takes next has waited since it was added; the empty queues wait for nothing.
      const ages = await backlog.oldestWaiting(now + 10_000);
      expect(ages[1]!.queue).toBe(name);
      expect(ages[1]!.seconds).toBeGreaterThanOrEqual(10);
      expect(ages[1]!.seconds).toBeLessThan(15);
      expect(ages.filter((q) => q.queue !== name).every((q) => q.seconds === 0)).toBe(true);
    } finally {
      release();
      await worker.close();
      await queue.obliterate({ force: true });
      await Promise.all([queue.close(), backlog.close()]);
    }
  });
});
