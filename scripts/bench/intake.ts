/**
 * pnpm bench:intake: intake messages accepted per second (added with addBulk by a producer, taken
 * and accepted by the intake consumer as users' turns and moved into their partitions), next to raw
 * BullMQ on the same Redis in the same run (the same jobs added with addBulk and taken by a no-op
 * worker), and next to main's consumer before batching (a BullMQ worker of concurrency 1 running
 * the same job handler: one intake job at a time).
 */
import {
  createLogger,
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  intakeQueuePrefix,
  loadConfig,
  type RedisClient,
} from '@agent-fleet/core';
import { type RedisServerHandle, startRedisServer } from '@agent-fleet/devstack';
import { type AcceptInput, PartitionQueues, TurnProducer, TurnRecords } from '@agent-fleet/turns';
import { Queue, Worker } from 'bullmq';
import { SingleBar } from 'cli-progress';
import { Redis } from 'ioredis';
import { startIntake } from '../../packages/worker/src/intake/consumer.ts';
import { type IntakeProducer, processIntakeJob } from '../../packages/worker/src/intake/job.ts';
import { count, countOrZero, parseBenchOptions } from './cli-args.ts';
import { startBenchDir } from './stack.ts';

const opts = parseBenchOptions(
  'bench:intake',
  'intake messages accepted per second next to raw BullMQ addBulk + a no-op worker on the same Redis',
  {
    messages: count(20_000, 'messages per run'),
    users: count(1000, 'distinct users'),
    batch: count(loadConfig().INTAKE_BATCH_SIZE, "the intake consumer's batch (INTAKE_BATCH_SIZE)"),
    concurrency: count(256, "the no-op worker's concurrency"),
    rounds: count(3, 'rounds of raw BullMQ then intake, alternating (figures: their medians)'),
    oneAtATime: countOrZero(4000, "messages for main's one-at-a-time consumer (0: skip)"),
  },
);

const logger = createLogger('bench-intake', 'silent');
const ADD_CHUNK = 1000;

/** The messages, user by user in turn, as a producer would add them. */
function messages(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    name: INTAKE_JOB_NAME,
    data: { v: 1, userId: `user-${i % opts.users}`, text: `message ${Math.floor(i / opts.users) + 1}` },
  }));
}

/** Adds every message with addBulk, ADD_CHUNK at a time, on a connection of its own. */
async function produce(url: string, prefix: string, n: number): Promise<void> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(INTAKE_QUEUE, { connection, prefix });
  const all = messages(n);
  for (let i = 0; i < n; i += ADD_CHUNK) await queue.addBulk(all.slice(i, i + ADD_CHUNK));
  await queue.close();
  connection.disconnect();
}

/**
 * Runs `run` (the producer) with progress from `done` (counted as jobs are handled) until all `n`
 * are handled and the queue has none left waiting or active; returns jobs/s.
 */
async function measure(
  label: string,
  queue: Queue,
  n: number,
  done: () => number,
  run: () => Promise<void>,
): Promise<number> {
  const bar = new SingleBar({
    format: `${label.padEnd(28)} [{bar}] {value}/{total} {rate}/s`,
    hideCursor: true,
    clearOnComplete: false,
    // Progress also when the output is a log file, every 2 s.
    noTTYOutput: true,
    notTTYSchedule: 2000,
  });
  bar.start(n, 0, { rate: '0' });
  const started = performance.now();
  const running = run();
  const settled = async () => (await queue.getActiveCount()) + (await queue.getWaitingCount()) === 0;
  for (;;) {
    const seconds = (performance.now() - started) / 1000;
    bar.update(done(), { rate: (done() / seconds).toFixed(0) });
    if (done() >= n && (await settled())) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const rate = n / ((performance.now() - started) / 1000);
  await running;
  bar.stop();
  return rate;
}

/** The producer, counting its accepts. */
function counting(producer: IntakeProducer) {
  let accepted = 0;
  return {
    producer: {
      async accept(input: AcceptInput) {
        const turn = await producer.accept(input);
        accepted++;
        return turn;
      },
    },
    accepted: () => accepted,
  };
}

/** The fleet's turn producer on its own namespace, as a worker builds it (without Postgres). */
function turnProducer(connection: RedisClient, namespace: string) {
  const partitions = new PartitionQueues({
    connection,
    namespace,
    partitions: 8,
    policy: { attempts: 5, backoffMs: 500 },
  });
  const records = new TurnRecords({ redis: connection, namespace, ttlSeconds: 3600 });
  const producer = new TurnProducer({
    redis: connection,
    namespace,
    partitions,
    records,
    idempotencyTtlSeconds: 86_400,
    recordTtlSeconds: 3600,
    // Every user of the run is new: numbering starts at 1 (a worker asks the transcript).
    seqFloor: async () => 0,
  });
  return { producer, close: () => partitions.close() };
}

async function rawBullmq(url: string, round: number): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `raw-${round}:{agent.intake}`;
  const queue = new Queue(INTAKE_QUEUE, { connection, prefix });
  let handled = 0;
  const worker = new Worker(
    INTAKE_QUEUE,
    async () => {
      handled++;
    },
    {
      connection,
      prefix,
      concurrency: opts.concurrency,
      removeOnComplete: { age: 3600, count: 100_000 },
    },
  );
  const rate = await measure(
    'raw BullMQ (addBulk + no-op)',
    queue,
    opts.messages,
    () => handled,
    () => produce(url, prefix, opts.messages),
  );
  await worker.close();
  await queue.close();
  connection.disconnect();
  return rate;
}

async function batchedIntake(url: string, round: number): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const namespace = `batched-${round}`;
  const turns = turnProducer(connection, namespace);
  const { producer, accepted } = counting(turns.producer);
  const intake = await startIntake({
    connection,
    namespace,
    producer,
    logger,
    maxMessageBytes: 32 * 1024,
    batchSize: opts.batch,
  });
  const queue = new Queue(INTAKE_QUEUE, { connection, prefix: intakeQueuePrefix(namespace) });
  const rate = await measure(`intake (batches of ${opts.batch})`, queue, opts.messages, accepted, () =>
    produce(url, intakeQueuePrefix(namespace), opts.messages),
  );
  await intake.close();
  await queue.close();
  await turns.close();
  connection.disconnect();
  return rate;
}

/** Main's consumer before batching: concurrency 1, the queue's global concurrency 1. */
async function oneAtATime(url: string, n: number): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const namespace = 'one-at-a-time';
  const prefix = intakeQueuePrefix(namespace);
  const turns = turnProducer(connection, namespace);
  const { producer, accepted } = counting(turns.producer);
  const queue = new Queue(INTAKE_QUEUE, { connection, prefix });
  await queue.setGlobalConcurrency(1);
  const worker = new Worker(
    INTAKE_QUEUE,
    (job) => processIntakeJob(job, { producer, logger, maxMessageBytes: 32 * 1024 }),
    { connection, prefix, concurrency: 1, removeOnComplete: { age: 3600, count: 100_000 } },
  );
  const rate = await measure("main's one-at-a-time", queue, n, accepted, () => produce(url, prefix, n));
  await worker.close();
  await queue.close();
  await turns.close();
  connection.disconnect();
  return rate;
}

async function main() {
  const dir = startBenchDir('intake');
  let redis: RedisServerHandle | undefined;
  try {
    redis = await startRedisServer({
      dataDir: dir.path('redis'),
      appendfsync: loadConfig().REDIS_APPENDFSYNC,
    });
    console.log(
      `bench:intake: ${opts.messages} messages from ${opts.users} users, Redis appendfsync ${loadConfig().REDIS_APPENDFSYNC}`,
    );
    // Alternating rounds, so that load from elsewhere on the machine weighs on both sides alike.
    const raws: number[] = [];
    const batches: number[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      raws.push(await rawBullmq(redis.url, round));
      batches.push(await batchedIntake(redis.url, round));
    }
    const raw = median(raws);
    const batched = median(batches);
    const single = opts.oneAtATime > 0 ? await oneAtATime(redis.url, opts.oneAtATime) : undefined;
    console.log('');
    const rounds = raws.map((r, i) => `${(batches[i]! / r).toFixed(2)}`).join(', ');
    console.log(`  ratio in each round: ${rounds}; medians:`);
    console.log(`  raw BullMQ (addBulk + no-op worker)  ${raw.toFixed(0).padStart(7)} jobs/s`);
    console.log(
      `  intake, batches of ${String(opts.batch).padEnd(17)} ${batched.toFixed(0).padStart(7)} messages/s`,
    );
    console.log(
      `  ratio                                ${(batched / raw).toFixed(2).padStart(7)}   (aim >= 0.3)`,
    );
    if (single !== undefined) {
      console.log(`  main's one-at-a-time consumer        ${single.toFixed(0).padStart(7)} messages/s`);
      console.log(`  its ratio                            ${(single / raw).toFixed(2).padStart(7)}`);
    }
  } finally {
    await redis?.stop();
    dir.remove();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

await main();
