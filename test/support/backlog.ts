import { partitionQueueName, partitionQueuePrefix, type RedisClient } from '@agent-fleet/core';
import { Queue } from 'bullmq';
import type pg from 'pg';
import { mapLimit, postMessage, type TestFleet, waitFor } from './fleet.ts';
import { messageText } from './verify.ts';

/** Posts `perUser` messages for each user, in order per user, users concurrently; resolves once all are accepted. */
export async function postBacklog(gatewayUrl: string, users: string[], perUser: number): Promise<void> {
  await mapLimit(users, users.length, async (user) => {
    for (let s = 1; s <= perUser; s++) await postMessage(gatewayUrl, user, messageText(user, s));
  });
}

/** Posts the backlog and resolves once the workers are into it: as many turns recorded as there are users. */
export async function postBacklogInFlight(fleet: TestFleet, users: string[], perUser: number): Promise<void> {
  await postBacklog(fleet.gatewayUrl, users, perUser);
  await waitFor(async () => (await recordedCount(fleet.pool)) >= users.length, {
    timeoutMs: 20_000,
    intervalMs: 50,
  });
}

/**
 * Waits until `total` turns are recorded (after an outage that held `before` of them); resolves to
 * when the first turn after those was seen recorded.
 */
export async function untilAllRecorded(pool: pg.Pool, total: number, before: number): Promise<number> {
  let firstAt = 0;
  await waitFor(
    async () => {
      const n = await recordedCount(pool);
      if (n > before && !firstAt) firstAt = Date.now();
      return n >= total;
    },
    {
      timeoutMs: 40_000,
      intervalMs: 100,
      describe: async () => JSON.stringify(await recordedTurns(pool)),
    },
  );
  return firstAt;
}

/** Turns in the durable transcript, by status. */
export async function recordedTurns(pool: pg.Pool): Promise<Record<string, number>> {
  const res = await pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM turns GROUP BY status',
  );
  return Object.fromEntries(res.rows.map((r) => [r.status, Number(r.n)]));
}

/** A user's turns in the durable transcript, in seq order: each one's seq (a string, as pg returns it) and status. */
export async function recordedTurnsOf(
  pool: pg.Pool,
  userId: string,
): Promise<{ seq: string; status: string }[]> {
  const res = await pool.query<{ seq: string; status: string }>(
    'SELECT seq, status FROM turns WHERE user_id = $1 ORDER BY seq',
    [userId],
  );
  return res.rows;
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
