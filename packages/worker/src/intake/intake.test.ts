import {
  createLogger,
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  intakeConsumerKeys,
  intakeQueuePrefix,
  userKeys,
} from '@agent-fleet/core';
import type { AcceptInput, PartitionQueues, TurnProducer } from '@agent-fleet/turns';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../../test/support/stack.ts';
import { openTurnQueues } from '../../../../test/support/turn-queues.ts';
import { type Intake, startIntake } from './consumer.ts';
import { type IntakeProducer, intakeIdempotencyKey, processIntakeJob } from './job.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());
const logger = createLogger('intake-test', 'silent');

describe('intake consumer (real Redis, real BullMQ)', () => {
  let ns: string;
  let partitions: PartitionQueues;
  let producer: TurnProducer;
  let queue: Queue;
  let events: QueueEvents;
  const intakes: Intake[] = [];

  beforeEach(async () => {
    ns = freshNamespace();
    ({ partitions, producer } = openTurnQueues(redis, ns));
    queue = new Queue(INTAKE_QUEUE, { connection: redis, prefix: intakeQueuePrefix(ns) });
    queue.setMaxListeners(100); // waitUntilFinished listens once per job
    events = new QueueEvents(INTAKE_QUEUE, { connection: redisUrlOptions(), prefix: intakeQueuePrefix(ns) });
    await events.waitUntilReady();
  });
  afterEach(async () => {
    await Promise.all(intakes.splice(0).map((i) => i.close()));
    await events.close();
    await queue.close();
    await partitions.close();
  });

  const start = async (p: IntakeProducer = producer, maxMessageBytes = 1024) => {
    const intake = await startIntake({
      connection: redis,
      namespace: ns,
      producer: p,
      logger,
      maxMessageBytes,
    });
    intakes.push(intake);
    return intake;
  };

  it('accepts messages in arrival order, giving each user consecutive seqs, and returns the turn id', async () => {
    const users = ['ann', 'bob', 'cy'];
    const added: Job[] = [];
    for (let i = 0; i < 60; i++) {
      const userId = users[i % 3]!;
      added.push(
        await queue.add(INTAKE_JOB_NAME, { v: 1, userId, text: `${userId} #${Math.floor(i / 3) + 1}` }),
      );
    }
    await start();
    const results = await Promise.all(added.map((j) => j.waitUntilFinished(events, 20_000)));
    for (const [i, r] of results.entries()) {
      expect(r).toMatchObject({ seq: Math.floor(i / 3) + 1, created: true });
      expect(r.turnId).toMatch(/^t_[0-9a-f]{32}$/);
    }
    for (const userId of users) {
      const pending = await redis.hgetall(userKeys(ns, userId).pending);
      for (let s = 1; s <= 20; s++) expect(JSON.parse(pending[String(s)]!).text).toBe(`${userId} #${s}`);
      const jobs = await partitions.queueFor(userId).getJobs(['wait', 'prioritized', 'delayed']);
      expect(jobs.filter((j) => j.data.userId === userId)).toHaveLength(20);
    }
  });

  it('fails a bad payload once, with a reason naming the field, even when the producer asked for retries', async () => {
    await start();
    const bad = [
      { data: { v: 1, userId: 'has space', text: 'hi' }, reason: /userId: userId must be/ },
      { data: { v: 1, userId: 'ann' }, reason: /text: text is required/ },
      { data: { v: 2, userId: 'ann', text: 'hi' }, reason: /v: / },
      { data: { v: 1, userId: 'ann', text: 'hi', colour: 'red' }, reason: /Unrecognized key: "colour"/ },
      {
        data: { v: 1, userId: 'ann', text: 'x'.repeat(1025) },
        reason: /text is 1025 bytes; the limit is 1024/,
      },
      { data: 'not an object', reason: /invalid intake message/ },
      { data: { v: 1, userId: 'ann', text: 'a\u0000b' }, reason: /text: must not contain NUL/ },
    ];
    for (const b of bad) {
      const job = await queue.add(INTAKE_JOB_NAME, b.data, {
        attempts: 5,
        backoff: { type: 'fixed', delay: 10 },
      });
      await expect(job.waitUntilFinished(events, 10_000)).rejects.toThrow(b.reason);
      const failed = (await queue.getJob(job.id!))!;
      expect(failed.attemptsMade).toBe(1);
      expect(failed.failedReason).toMatch(b.reason);
    }
    const wrongName = await queue.add('msg', { v: 1, userId: 'ann', text: 'hi' });
    await expect(wrongName.waitUntilFinished(events, 10_000)).rejects.toThrow(/named "message"/);
    expect(await redis.get(userKeys(ns, 'ann').seq)).toBeNull();
  });

  it('accepts a redelivered job once, and honours the producer’s own idempotency key', async () => {
    const job = { id: '42', name: INTAKE_JOB_NAME, data: { v: 1, userId: 'ann', text: 'hello' } } as Job;
    const first = await processIntakeJob(job, { producer, logger, maxMessageBytes: 1024 });
    const again = await processIntakeJob(job, { producer, logger, maxMessageBytes: 1024 });
    expect(again).toEqual({ ...first, created: false });
    const keyed = (id: string) =>
      ({ id, name: INTAKE_JOB_NAME, data: { v: 1, userId: 'ann', text: 'x', idempotencyKey: 'k-1' } }) as Job;
    const a = await processIntakeJob(keyed('43'), { producer, logger, maxMessageBytes: 1024 });
    const b = await processIntakeJob(keyed('44'), { producer, logger, maxMessageBytes: 1024 });
    expect(b).toEqual({ ...a, created: false });
    expect(a.seq).toBe(2);
    expect(await redis.get(userKeys(ns, 'ann').seq)).toBe('2');
  });

  it('fails a job reusing an idempotency key for another text once, naming the key, never retried', async () => {
    await start();
    const data = (text: string) => ({ v: 1, userId: 'ann', text, idempotencyKey: 'order-9' });
    const first = await queue.add(INTAKE_JOB_NAME, data('pay 10'));
    await first.waitUntilFinished(events, 10_000);
    const reused = await queue.add(INTAKE_JOB_NAME, data('pay 1000'), {
      attempts: 5,
      backoff: { type: 'fixed', delay: 10 },
    });
    const started = Date.now();
    await expect(reused.waitUntilFinished(events, 10_000)).rejects.toThrow(/Idempotency-Key order-9/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await queue.getJob(reused.id!))!.attemptsMade).toBe(1);
    expect(await redis.get(userKeys(ns, 'ann').seq)).toBe('1');
  });

  it('retries a failing accept in place, so a later message cannot overtake it', async () => {
    let failures = 2;
    const order: string[] = [];
    const flaky: IntakeProducer = {
      async accept(input: AcceptInput) {
        if (input.text === 'first' && failures-- > 0) throw new Error('Connection is closed.');
        order.push(input.text);
        return producer.accept(input);
      },
    };
    const first = await queue.add(INTAKE_JOB_NAME, { v: 1, userId: 'ann', text: 'first' });
    const second = await queue.add(INTAKE_JOB_NAME, { v: 1, userId: 'ann', text: 'second' });
    await start(flaky);
    expect(await first.waitUntilFinished(events, 10_000)).toMatchObject({ seq: 1 });
    expect(await second.waitUntilFinished(events, 10_000)).toMatchObject({ seq: 2 });
    expect(order).toEqual(['first', 'second']);
    expect((await queue.getJob(first.id!))!.attemptsMade).toBe(1);
  });

  it('takes jobs in batches in one consumer at a time, accepting users concurrently and each user in order', async () => {
    let running = 0;
    let maxRunning = 0;
    const perUser = new Map<string, number>();
    const slow: IntakeProducer = {
      async accept(input: AcceptInput) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        perUser.set(input.userId, (perUser.get(input.userId) ?? 0) + 1);
        expect(perUser.get(input.userId)).toBe(1);
        await new Promise((r) => setTimeout(r, 5));
        try {
          return await producer.accept(input);
        } finally {
          running--;
          perUser.set(input.userId, perUser.get(input.userId)! - 1);
        }
      },
    };
    const conns = [0, 1, 2].map(() => new Redis(redisUrl(), { maxRetriesPerRequest: null }));
    const users = ['ann', 'bob', 'cy', 'dee'];
    try {
      const jobs = await queue.addBulk(
        Array.from({ length: 80 }, (_, i) => ({
          name: INTAKE_JOB_NAME,
          data: { v: 1, userId: users[i % 4], text: `m${i}` },
        })),
      );
      for (const c of conns) {
        const intake = await startIntake({
          connection: c,
          namespace: ns,
          producer: slow,
          logger,
          maxMessageBytes: 64,
          batchSize: 16,
        });
        intakes.push(intake);
      }
      const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 20_000)));
      for (const [i, r] of results.entries()) expect(r.seq).toBe(Math.floor(i / 4) + 1);
      expect(maxRunning).toBeGreaterThan(1);
      expect(maxRunning).toBeLessThanOrEqual(users.length);
    } finally {
      await Promise.all(intakes.splice(0).map((i) => i.close()));
      for (const c of conns) c.disconnect();
    }
  });

  it('takes over from a consumer that died mid-batch: its jobs are accepted once, in the order it recorded', async () => {
    const texts = ['a1', 'b1', 'a2', 'a3', 'b2', 'a4'];
    const added = await queue.addBulk(
      texts.map((text) => ({
        name: INTAKE_JOB_NAME,
        data: { v: 1, userId: text[0] === 'a' ? 'ann' : 'bob', text },
      })),
    );
    // A consumer that accepted a1, took the whole batch and recorded its order, then died.
    const keys = intakeConsumerKeys(ns);
    await redis.set(keys.lease, 'dead', 'PX', 1000);
    const deadConn = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const dead = new Worker(INTAKE_QUEUE, null, {
      connection: deadConn,
      prefix: intakeQueuePrefix(ns),
      lockDuration: 1000,
    });
    const taken = [];
    for (let i = 0; i < texts.length; i++) taken.push((await dead.getNextJob('dead', { block: false }))!);
    expect(taken.map((j) => j.data.text)).toEqual(texts);
    await redis.rpush(keys.batch, ...taken.map((j) => j.id!));
    const a1 = await producer.accept({
      userId: 'ann',
      text: 'a1',
      idempotencyKey: intakeIdempotencyKey(taken[0]!.id!),
    });
    await dead.close();
    deadConn.disconnect();

    const intake = await startIntake({
      connection: redis,
      namespace: ns,
      producer,
      logger,
      maxMessageBytes: 64,
      lockDuration: 1000,
      stalledInterval: 200,
    });
    intakes.push(intake);
    const results = await Promise.all(added.map((j) => j.waitUntilFinished(events, 20_000)));
    expect(results.map((r) => r.seq)).toEqual([1, 1, 2, 3, 2, 4]);
    expect(results[0]).toEqual({ ...a1, created: false });
    expect(results.slice(1).every((r) => r.created)).toBe(true);
    for (const j of added) expect((await queue.getJob(j.id!))!.stalledCounter).toBe(1);
  });

  it('derives a key of printable ASCII from any job id', () => {
    expect(intakeIdempotencyKey('17')).toBe('intake:17');
    expect(intakeIdempotencyKey('my job é')).toMatch(/^intake:h:[0-9a-f]{64}$/);
  });
});

function redisUrlOptions() {
  const u = new URL(redisUrl());
  return { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1) || 0) };
}
