import type { RedisClient } from '@agent-fleet/core';
import { PartitionQueues, TurnProducer, TurnRecords } from '@agent-fleet/turns';

type ProducerOptions = ConstructorParameters<typeof TurnProducer>[0];

/**
 * Four partition queues of namespace `ns` with the turn records, and a producer accepting onto them
 * that numbers every new user from 1; `producerWith` builds another on the same queues with
 * options of its own (without `seqFloor` it cannot number users Redis has no counter for).
 */
export function openTurnQueues(redis: RedisClient, ns: string) {
  const partitions = new PartitionQueues({
    connection: redis,
    namespace: ns,
    partitions: 4,
    policy: { attempts: 3, backoffMs: 10 },
  });
  const records = new TurnRecords({ redis, namespace: ns, ttlSeconds: 3600 });
  const producerWith = (opts: Partial<ProducerOptions> = {}) =>
    new TurnProducer({
      redis,
      namespace: ns,
      partitions,
      records,
      idempotencyTtlSeconds: 600,
      recordTtlSeconds: 3600,
      ...opts,
    });
  return { partitions, records, producer: producerWith({ seqFloor: async () => 0 }), producerWith };
}
