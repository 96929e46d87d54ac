import { fairQueueKey, hotStateKeys, userKeys } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { openTurnQueues } from '../../../test/support/turn-queues.ts';
import { FairQueue, MAX_FAIR_PRIORITY } from './fair-queue.ts';
import type { PartitionQueues } from './partitions.ts';
import { NumberingUnknownError, type TurnProducer } from './producer.ts';
import { QuotaBook } from './quota-book.ts';
import type { TurnRecords } from './records.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('accepting turns (accept Lua + partition queues, real Redis)', () => {
  let ns: string;
  let partitions: PartitionQueues;
  let records: TurnRecords;
  let producer: TurnProducer;
  let producerWith: ReturnType<typeof openTurnQueues>['producerWith'];

  beforeEach(() => {
    ns = freshNamespace();
    ({ partitions, records, producer, producerWith } = openTurnQueues(redis, ns));
  });
  afterEach(() => partitions.close());

  const jobsOf = async (userId: string) =>
    await partitions.queueFor(userId).getJobs(['wait', 'delayed', 'prioritized']);

  it('hands out consecutive seqs per user, stores the payload, writes the record and adds the job', async () => {
    const a = await producer.accept({ userId: 'u1', text: 'one', threadId: 'th-1' });
    const b = await producer.accept({ userId: 'u1', text: 'two' });
    const c = await producer.accept({ userId: 'u2', text: 'other user' });
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 1]);
    expect(a.created && b.created && c.created).toBe(true);
    const pending = await redis.hgetall(userKeys(ns, 'u1').pending);
    expect(Object.keys(pending).sort()).toEqual(['1', '2']);
    expect(JSON.parse(pending['1']!)).toMatchObject({ turnId: a.turnId, text: 'one', threadId: 'th-1' });
    expect(await records.get(a.turnId)).toMatchObject({
      userId: 'u1',
      seq: 1,
      status: 'queued',
      threadId: 'th-1',
      attempts: 0,
    });
    const jobs = await jobsOf('u1');
    expect(jobs.map((j) => j.id).sort()).toEqual([a.turnId, b.turnId].sort());
    expect(jobs.find((j) => j.id === b.turnId)!.data).toMatchObject({ seq: 2, userId: 'u1', text: 'two' });
  });

  it('returns the same turn for the same Idempotency-Key, adding nothing', async () => {
    const first = await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k1' });
    const again = await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k1' });
    expect(again).toEqual({ turnId: first.turnId, seq: 1, created: false });
    expect(await jobsOf('u1')).toHaveLength(1);
    expect(await redis.get(userKeys(ns, 'u1').seq)).toBe('1');
    const other = await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k2' });
    expect(other.seq).toBe(2);
  });

  it('refuses text with a NUL, which Postgres could not record, and hands out nothing', async () => {
    await expect(producer.accept({ userId: 'u1', text: 'a\u0000b' })).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/^text must not contain NUL/),
    });
    expect(await redis.exists(userKeys(ns, 'u1').seq)).toBe(0);
    expect(await jobsOf('u1')).toHaveLength(0);
  });

  it('refuses the same Idempotency-Key with a different text or thread (422), accepting nothing', async () => {
    const first = await producer.accept({
      userId: 'u1',
      text: 'pay 10',
      threadId: 'a',
      idempotencyKey: 'k1',
    });
    for (const other of [
      { text: 'pay 1000', threadId: 'a' },
      { text: 'pay 10', threadId: 'b' },
      { text: 'pay 10' },
    ]) {
      await expect(producer.accept({ userId: 'u1', ...other, idempotencyKey: 'k1' })).rejects.toMatchObject({
        code: 'idempotency_key_reused',
        status: 422,
        isRetryable: false,
        details: { turnId: first.turnId },
      });
    }
    expect(
      await producer.accept({ userId: 'u1', text: 'pay 10', threadId: 'a', idempotencyKey: 'k1' }),
    ).toEqual({ ...first, created: false });
    // Keys are per user: another user's identical key is a different request.
    expect((await producer.accept({ userId: 'u2', text: 'other', idempotencyKey: 'k1' })).created).toBe(true);
    expect(await redis.get(userKeys(ns, 'u1').seq)).toBe('1');
    expect(await jobsOf('u1')).toHaveLength(1);
  });

  it('a replay adds the job again when the first call died before adding it', async () => {
    const first = await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k1' });
    await (await partitions.getJob('u1', first.turnId))!.remove();
    await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k1' });
    expect((await jobsOf('u1')).map((j) => j.id)).toEqual([first.turnId]);
  });

  it('a replay after the turn finished adds nothing', async () => {
    const first = await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k1' });
    await (await partitions.getJob('u1', first.turnId))!.remove();
    await redis.hdel(userKeys(ns, 'u1').pending, '1');
    expect(await producer.accept({ userId: 'u1', text: 'hello', idempotencyKey: 'k1' })).toMatchObject({
      created: false,
    });
    expect(await jobsOf('u1')).toHaveLength(0);
  });

  it('continues numbering after the durable transcript when Redis has no counter for the user', async () => {
    const asked: string[] = [];
    const withFloor = producerWith({
      seqFloor: async (userId) => {
        asked.push(userId);
        return userId === 'returning' ? 41 : 0;
      },
    });
    expect((await withFloor.accept({ userId: 'returning', text: 'back again' })).seq).toBe(42);
    expect((await withFloor.accept({ userId: 'returning', text: 'and again' })).seq).toBe(43);
    expect(await redis.get(userKeys(ns, 'returning').done)).toBe('41');
    expect((await withFloor.accept({ userId: 'newcomer', text: 'hi' })).seq).toBe(1);
    expect(asked).toEqual(['returning', 'newcomer']); // looked up once per user, not per message
  });

  it("keeps an idle user's expiring hot state alive from the moment a turn is accepted", async () => {
    await producer.accept({ userId: 'u1', text: 'one', doubleTexting: 'interrupt' });
    const k = userKeys(ns, 'u1');
    await redis.rpush(k.history, '{}');
    await redis.hset(k.historyMeta, 'lastSeq', 1);
    // What finishing the user's last pending turn does (turn-commit-9.lua).
    for (const key of hotStateKeys(k)) expect(await redis.expire(key, 100)).toBe(1);
    await producer.accept({ userId: 'u1', text: 'two' });
    expect(await Promise.all(hotStateKeys(k).map((key) => redis.ttl(key)))).toEqual([-1, -1, -1, -1, -1]);
    // A refused replay or a rejected message changes nothing.
    for (const key of hotStateKeys(k)) await redis.expire(key, 100);
    await expect(
      producer.accept({ userId: 'u1', text: 'three', doubleTexting: 'reject' }),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
    for (const ttl of await Promise.all(hotStateKeys(k).map((key) => redis.ttl(key))))
      expect(ttl).toBeGreaterThan(0);
  });

  it('numbers a user whose counter expired after the higher of the transcript and what Redis still has', async () => {
    const withFloor = (floor: number) => producerWith({ seqFloor: async () => floor });
    await redis.set(userKeys(ns, 'half').done, 9);
    expect((await withFloor(5).accept({ userId: 'half', text: 'hi' })).seq).toBe(10);
    expect(await redis.get(userKeys(ns, 'half').done)).toBe('9');
    expect((await withFloor(20).accept({ userId: 'cold', text: 'hi' })).seq).toBe(21);
    expect(await redis.get(userKeys(ns, 'cold').done)).toBe('20');
  });

  it('refuses a user Redis has no numbering for when it cannot read the transcript, accepting nothing', async () => {
    const blind = producerWith();
    await expect(blind.accept({ userId: 'gone', text: 'back' })).rejects.toBeInstanceOf(
      NumberingUnknownError,
    );
    expect(await redis.exists(userKeys(ns, 'gone').seq, userKeys(ns, 'gone').pending)).toBe(0);
    expect(await jobsOf('gone')).toHaveLength(0);
    await producer.accept({ userId: 'gone', text: 'numbered by a producer that can' });
    expect((await blind.accept({ userId: 'gone', text: 'then anyone' })).seq).toBe(2);
  });

  it('never half-accepts a message refused for quota: no seq, no job, no record, nothing pending', async () => {
    const book = new QuotaBook({ redis, namespace: ns });
    const ok = await producer.accept({ userId: 'u1', text: 'before', tenant: 'acme', idempotencyKey: 'k0' });
    const keys = userKeys(ns, 'u1');
    const snapshot = async () => ({
      seq: await redis.get(keys.seq),
      pending: await redis.hlen(keys.pending),
      jobs: (await jobsOf('u1')).length,
    });
    const before = await snapshot();
    // The tenant's budget is used up.
    await book.putTenant('acme', { weight: 1, day: 100, softThreshold: 0.8 });
    await book.settle({ scope: 'tenant', tenant: 'acme' }, '', 100);
    const refused = await producer.accept({ userId: 'u1', text: 'refused', tenant: 'acme' }).catch((e) => e);
    expect(refused).toMatchObject({
      code: 'quota_exceeded',
      status: 429,
      isRetryable: false,
      details: { scope: 'tenant', subject: 'acme', window: 'day', used: 100, limit: 100 },
    });
    expect(Date.parse(refused.details.resetAt)).toBeGreaterThan(Date.now());
    expect(await snapshot()).toEqual(before);
    // A retry of the message accepted before the budget ran out still gets its turn.
    expect(
      await producer.accept({ userId: 'u1', text: 'before', tenant: 'acme', idempotencyKey: 'k0' }),
    ).toEqual({ ...ok, created: false });
    // Room for the tenant again, but the user's own (per-user, from the tenant) budget is used up.
    await book.putTenant('acme', { weight: 1, userDay: 10, softThreshold: 0.8 });
    await book.settle({ scope: 'user', userId: 'u1', fallback: { day: 10, month: null } }, '', 10);
    await expect(
      producer.accept({ userId: 'u1', text: 'refused too', tenant: 'acme' }),
    ).rejects.toMatchObject({
      code: 'quota_exceeded',
      details: { scope: 'user', subject: 'u1', window: 'day' },
    });
    expect(await snapshot()).toEqual(before);
    // A retry of the message accepted before the budget ran out still gets its turn.
    expect(
      await producer.accept({ userId: 'u1', text: 'before', tenant: 'acme', idempotencyKey: 'k0' }),
    ).toEqual({ ...ok, created: false });
    expect(await snapshot()).toEqual(before);
    // Users of other tenants are not affected.
    expect((await producer.accept({ userId: 'u2', text: 'fine', tenant: 'other' })).created).toBe(true);
  });

  it('tags turns for fair queueing: a tenant arriving behind a burst goes ahead of the burst’s later turns', async () => {
    // Users of one partition, so their turns share a queue and its virtual time.
    const p = partitions.partitionOf('a-0');
    const users = Array.from({ length: 400 }, (_, i) => `a-${i}`).filter(
      (u) => partitions.partitionOf(u) === p,
    );
    const burst = [];
    for (const u of users.slice(0, 20))
      burst.push(await producer.accept({ userId: u, text: 'burst', tenant: 'a' }));
    const b = users[20]!;
    const late = await producer.accept({ userId: b, text: 'steady', tenant: 'b' });
    const prioritized = await partitions.queues[p]!.getJobs(['prioritized'], 0, -1, true);
    const order = prioritized.map((j) => j.id);
    // BullMQ hands these out in priority order: b's turn comes second, right after a's first.
    expect(order.indexOf(late.turnId)).toBeLessThanOrEqual(1);
    expect(order.slice(-5)).toEqual(burst.slice(-5).map((t) => t.turnId));
    const job = (await partitions.getJob(b, late.turnId))!;
    expect(job.data.fair).toMatchObject({ tenant: 'b', start: 0, weight: 1 });
    expect(job.data.fair!.cost).toBeGreaterThan(800);
    expect(await redis.hget(fairQueueKey(ns, p), 'f:a')).toBe(String(20 * job.data.fair!.cost));
  });

  it('a turn behind its user’s earlier turns waits at the back, untagged, until it becomes the next', async () => {
    await producer.accept({ userId: 'u1', text: 'first', tenant: 'a' });
    const second = await producer.accept({ userId: 'u1', text: 'second', tenant: 'a' });
    const p = partitions.partitionOf('u1');
    const charged = async () => Number(await redis.hget(fairQueueKey(ns, p), 'f:a'));
    const before = await charged();
    let job = (await partitions.getJob('u1', second.turnId))!;
    expect(job.priority).toBe(MAX_FAIR_PRIORITY);
    expect(await job.getState()).toBe('delayed');
    expect(job.data.fair).toMatchObject({ tenant: 'a', start: 0, deferred: true });
    // Its predecessor ended: it is tagged now, as if it arrived now, and only then charged.
    await new FairQueue({ redis, namespace: ns }).requeue(p, job);
    job = (await partitions.getJob('u1', second.turnId))!;
    expect(job.data.fair!.deferred).toBeUndefined();
    expect(job.data.fair!.start).toBe(before);
    expect(job.priority).toBeLessThan(MAX_FAIR_PRIORITY);
    expect(await charged()).toBe(before + job.data.fair!.cost);
  });

  it('adds untagged jobs, in arrival order, when the queues run FIFO', async () => {
    const fifo = producerWith({ seqFloor: async () => 0, order: { kind: 'fifo', turnTokens: 0 } });
    const t = await fifo.accept({ userId: 'u1', text: 'plain' });
    const job = (await partitions.getJob('u1', t.turnId))!;
    expect(job.data.fair).toBeUndefined();
    expect(await job.getState()).toBe('waiting');
  });

  it('sends every turn of a user to the same partition', async () => {
    const turns = await Promise.all(
      Array.from({ length: 5 }, (_, i) => producer.accept({ userId: 'same', text: `m${i}` })),
    );
    const q = partitions.queueFor('same');
    for (const t of turns) expect(await q.getJob(t.turnId)).toBeTruthy();
  });
});
