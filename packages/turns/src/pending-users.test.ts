import { partitionOf } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { PartitionQueues } from './partitions.ts';
import { type IndexedUser, PendingUsers } from './pending-users.ts';
import { TurnProducer } from './producer.ts';
import { TurnRecords } from './records.ts';
import { RecoveryLock } from './recovery-lock.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('the pending-users index and the recovery lock (real Redis)', () => {
  let ns: string;
  let index: PendingUsers;
  const all = async (partitions = 4) => {
    const found: (IndexedUser & { partition: number })[] = [];
    for (let p = 0; p < partitions; p++) {
      let cursor = '0';
      do {
        const page = await index.scan(p, cursor, 2);
        cursor = page.cursor;
        found.push(...page.users.map((u) => ({ ...u, partition: p })));
      } while (cursor !== '0');
    }
    return found.sort((a, b) => a.userId.localeCompare(b.userId));
  };

  beforeEach(() => {
    ns = freshNamespace();
    index = new PendingUsers({ redis, namespace: ns, partitions: 4 });
  });

  it('every accepted turn notes its user in the partition of the user, bumping the mark', async () => {
    const partitions = new PartitionQueues({
      connection: redis,
      namespace: ns,
      partitions: 4,
      policy: { attempts: 1, backoffMs: 1 },
    });
    const producer = new TurnProducer({
      redis,
      namespace: ns,
      partitions,
      records: new TurnRecords({ redis, namespace: ns, ttlSeconds: 60 }),
      idempotencyTtlSeconds: 60,
      recordTtlSeconds: 60,
      seqFloor: async () => 0,
    });
    for (const text of ['one', 'two']) await producer.accept({ userId: 'ann', text });
    await producer.accept({ userId: 'bob', text: 'hi' });
    await partitions.close();
    expect(await all()).toEqual([
      { userId: 'ann', mark: '2', partition: partitionOf('ann', 4) },
      { userId: 'bob', mark: '1', partition: partitionOf('bob', 4) },
    ]);
  });

  it('forgets a user only while the mark read is still theirs', async () => {
    const users = ['a', 'b', 'c', 'd', 'e'];
    for (const u of users) await index.note(u);
    const found = await all();
    expect(found.map((u) => u.userId)).toEqual(users);
    const a = found[0]!;
    await index.note('a'); // a turn accepted after the sweep looked
    expect(await index.forget(a.partition, a)).toBe(false);
    const b = found[1]!;
    expect(await index.forget(b.partition, b)).toBe(true);
    expect((await all()).map((u) => [u.userId, u.mark])).toEqual([
      ['a', '2'],
      ['c', '1'],
      ['d', '1'],
      ['e', '1'],
    ]);
  });

  it('the lock is held by one taker at a time, released only by its holder', async () => {
    const lock = new RecoveryLock({ redis, namespace: ns });
    const token = await lock.take(5000);
    expect(token).not.toBeNull();
    expect(await lock.take(5000)).toBeNull();
    await lock.release('not-the-token');
    expect(await lock.take(5000)).toBeNull();
    await lock.release(token!);
    const again = await lock.take(50);
    expect(again).not.toBeNull();
    await new Promise((r) => setTimeout(r, 80));
    expect(await lock.take(5000)).not.toBeNull();
  });
});
