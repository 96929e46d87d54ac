import { randomUUID } from 'node:crypto';
import { partitionOf, partitionQueueName, partitionQueuePrefix } from '@agent-fleet/core';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionJobs } from './support/backlog.ts';
import { FAST_RECOVERY_ENV, getTurn, postMessage, settledTurn } from './support/fleet.ts';
import { acceptRaw } from './support/raw-accept.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/** `n` user ids of distinct partitions (of 8), so taking a partition's next job takes that user's. */
function usersOnDistinctPartitions(n: number): string[] {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < n; i++) {
    const u = `stranded-${i}`;
    if (!byPartition.has(partitionOf(u, 8))) byPartition.set(partitionOf(u, 8), u);
  }
  return [...byPartition.values()];
}

/**
 * Turns left behind with nothing running them, as outages and crashes left them before: jobs that
 * failed in the queue (their attempts used up), a chain of them, a job that never arrived, and a
 * stuck turn someone cancelled. No worker runs while they are set up; then one starts, and its
 * recovery sweep resumes every user within seconds, without a new message from anyone.
 */
describe('the recovery sweep resumes users whose turns were left behind', () => {
  const { fleet } = useSimFleet({
    workers: 0,
    env: {
      ...FAST_RECOVERY_ENV,
      // In arrival order every turn's job waits in the queue, so two of a chain can fail there;
      // with fair queueing (the default) a user's later turns wait deferred behind the first.
      QUEUE_ORDER: 'fifo',
      RECOVERY_SWEEP_INTERVAL_MS: '1000',
      GAP_GRACE_MS: '2000',
      LOG_LEVEL: 'warn',
    },
  });
  let bull: Redis;

  beforeAll(async () => {
    bull = new Redis(fleet.env.REDIS_URL!, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    bull?.disconnect();
  });

  /** Take the next jobs of `userId`'s partition and fail each for good, as a worker that used up its attempts would. */
  async function failNextJobs(userId: string, count: number): Promise<string[]> {
    const p = partitionOf(userId, 8);
    const worker = new Worker(partitionQueueName(p), null, {
      connection: bull,
      prefix: partitionQueuePrefix(fleet.namespace, p),
    });
    const failed: string[] = [];
    for (let i = 0; i < count; i++) {
      const token = randomUUID();
      const job = await worker.getNextJob(token);
      if (!job) throw new Error(`no job left on partition ${p}`);
      // Failed for good, as when its last attempt met Postgres away.
      await job.moveToFailed(new UnrecoverableError('connect ECONNREFUSED 127.0.0.1:5432'), token);
      failed.push(job.id!);
    }
    await worker.close();
    return failed;
  }

  it('retries jobs that failed in the queue, repairs a whole chain, adds a missing job, ends a cancelled one', async () => {
    const [lone, chain, ghost, cancelled] = usersOnDistinctPartitions(4) as [string, string, string, string];
    const loneTurn = await postMessage(fleet.gatewayUrl, lone, 'alone and stuck');
    expect(await failNextJobs(lone, 1)).toEqual([loneTurn.turnId]);

    const chainTurns = [];
    for (const text of ['one', 'two', 'three'])
      chainTurns.push(await postMessage(fleet.gatewayUrl, chain, text));
    expect(await failNextJobs(chain, 2)).toEqual(chainTurns.slice(0, 2).map((t) => t.turnId));

    const ghostTurn = await acceptRaw(fleet, ghost, 'my job never arrived', { addJob: false });

    const cancelledTurn = await postMessage(fleet.gatewayUrl, cancelled, 'never mind');
    await failNextJobs(cancelled, 1);
    const cancel = await fetch(`${fleet.gatewayUrl}/v1/turns/${cancelledTurn.turnId}/cancel`, {
      method: 'POST',
    });
    expect(cancel.status).toBe(202);
    expect((await getTurn(fleet.gatewayUrl, loneTurn.turnId)).status).toBe('queued');

    // Past the grace period for missing jobs, a worker starts; nobody sends anything.
    await new Promise((r) => setTimeout(r, 2000));
    const worker = fleet.addWorker();
    await worker.ready;
    const readyAt = Date.now();

    expect(await settledTurn(fleet.gatewayUrl, loneTurn.turnId, 10_000)).toMatchObject({
      status: 'completed',
      reply: 'Echo [n=2]: alone and stuck',
    });
    for (const [i, t] of chainTurns.entries())
      expect(await settledTurn(fleet.gatewayUrl, t.turnId, 10_000)).toMatchObject({
        status: 'completed',
        reply: `Echo [n=${2 * (i + 1)}]: ${['one', 'two', 'three'][i]}`,
      });
    expect(await settledTurn(fleet.gatewayUrl, ghostTurn.turnId, 10_000)).toMatchObject({
      status: 'completed',
    });
    expect(await settledTurn(fleet.gatewayUrl, cancelledTurn.turnId, 10_000)).toMatchObject({
      status: 'cancelled',
      error: 'cancelled by request',
    });
    const elapsed = Date.now() - readyAt;
    process.stdout.write(
      `recovery sweep: every stranded user resumed ${elapsed} ms after the worker was ready\n`,
    );
    expect(elapsed).toBeLessThan(5000);

    const rows = await fleet.pool.query<{ user_id: string; seq: string; status: string }>(
      'SELECT user_id, seq, status FROM turns ORDER BY user_id, seq',
    );
    expect(rows.rows).toEqual(
      [
        { user_id: lone, seq: '1', status: 'completed' },
        ...[1, 2, 3].map((s) => ({ user_id: chain, seq: String(s), status: 'completed' })),
        { user_id: ghost, seq: '1', status: 'completed' },
        { user_id: cancelled, seq: '1', status: 'cancelled' },
      ].sort((a, b) => a.user_id.localeCompare(b.user_id)),
    );
    // The retried jobs got their attempts back and completed once.
    const jobs = await partitionJobs(fleet.redis, fleet.namespace);
    const retried = [loneTurn.turnId, chainTurns[0]!.turnId, chainTurns[1]!.turnId];
    expect(jobs.filter((j) => retried.includes(j.id)).map((j) => [j.state, j.attemptsMade])).toEqual(
      retried.map(() => ['completed', 1]),
    );
  });
});
