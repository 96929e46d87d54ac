import { newTurnId, type TurnJob, userKeys, userQuotaKeys, windowSpans } from '@agent-fleet/core';
import {
  decodePending,
  encodePending,
  PartitionQueues,
  PendingUsers,
  scripts,
  TurnRecords,
} from '@agent-fleet/turns';
import type { TestFleet } from './fleet.ts';

/**
 * Accepts a turn the way a producer that skips every check at the door would: the user noted in
 * the pending-users index and the accept script straight from Redis (so text the gateway and
 * TurnProducer refuse gets a seq), and, unless `addJob` is false, its job on the user's partition. For tests of what the worker does with
 * values nothing upstream should have let through, and with turns whose job never arrived.
 */
export async function acceptRaw(
  fleet: Pick<TestFleet, 'redis' | 'namespace'>,
  userId: string,
  text: string,
  opts: { addJob?: boolean; partitions?: number } = {},
): Promise<TurnJob> {
  const k = userKeys(fleet.namespace, userId);
  const q = userQuotaKeys(fleet.namespace, userId);
  const spans = windowSpans(Date.now());
  const turnId = newTurnId();
  const enqueuedAt = Date.now();
  const payload = encodePending({ v: 1, kind: 'chat', userId, turnId, text, enqueuedAt });
  const partitions = opts.partitions ?? 8;
  await new PendingUsers({ redis: fleet.redis, namespace: fleet.namespace, partitions }).note(userId);
  const [seq] = (await scripts.acceptTurn.run(
    fleet.redis,
    [
      ...[k.seq, k.pending, k.seq, k.record(turnId), k.done, k.interrupt, k.history, k.historyMeta],
      ...[q.limits, q.used(spans.day.id), q.used(spans.month.id), q.held, q.heldExpiry],
    ],
    [turnId, payload, 60, '0', enqueuedAt, 3600, '', '0', 'enqueue', 'raw', '', ''],
  )) as [number];
  await new TurnRecords({ redis: fleet.redis, namespace: fleet.namespace, ttlSeconds: 3600 }).setOwner(
    turnId,
    userId,
  );
  const job = decodePending(seq, payload);
  if (opts.addJob !== false) {
    const queues = new PartitionQueues({
      connection: fleet.redis,
      namespace: fleet.namespace,
      partitions,
      policy: { attempts: 5, backoffMs: 100 },
    });
    await queues.add(job);
    await queues.close();
  }
  return job;
}
