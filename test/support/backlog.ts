import { partitionQueueName, partitionQueuePrefix, type RedisClient } from '@agent-fleet/core';
import { Queue } from 'bullmq';
import type pg from 'pg';
import { mapLimit, postMessage } from './fleet.ts';
import { messageText } from './verify.ts';

/** Posts `perUser` messages for each user, in order per user, users concurrently; resolves once all are accepted. */
export async function postBacklog(gatewayUrl: string, users: string[], perUser: number): Promise<void> {
  await mapLimit(users, users.length, async (user) => {
    for (let s = 1; s <= perUser; s++) await postMessage(gatewayUrl, user, messageText(user, s));
  });
}

/** Turns in the durable transcript, by status. */
export async function recordedTurns(pool: pg.Pool): Promise<Record<string, number>> {
  const res = await pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM turns GROUP BY status',
  );
  return Object.fromEntries(res.rows.map((r) => [r.status, Number(r.n)]));
}

export async function recordedCount(pool: pg.Pool): Promise<number> {
  return Object.values(await recordedTurns(pool)).reduce((a, b) => a + b, 0);
}

/** Every job of every partition queue: its state and the attempts BullMQ counted for it. */
export async function partitionJobs(
  redis: RedisClient,
  namespace: string,
  partitions = 8,
): Promise<{ id: string; state: string; attemptsMade: number; failedReason?: string }[]> {
  const out: { id: string; state: string; attemptsMade: number; failedReason?: string }[] = [];
  for (let i = 0; i < partitions; i++) {
    const q = new Queue(partitionQueueName(i), {
      connection: redis,
      prefix: partitionQueuePrefix(namespace, i),
    });
    for (const state of ['completed', 'failed', 'delayed', 'wait', 'active', 'prioritized'] as const) {
      for (const job of await q.getJobs([state])) {
        if (!job?.id) continue;
        out.push({
          id: job.id,
          state,
          attemptsMade: job.attemptsMade,
          ...(job.failedReason ? { failedReason: job.failedReason } : {}),
        });
      }
    }
    await q.close();
  }
  return out;
}
