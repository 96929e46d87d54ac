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

/**
 * The fleet's turn producer on its own namespace, as a worker builds it (without Postgres), and how
 * many turns it has accepted.
 */
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
  let accepted = 0;
  const counting: IntakeProducer = {
    async accept(input: AcceptInput) {
      const turn = await producer.accept(input);
      accepted++;
      return turn;
    },
  };
  return { producer: counting, accepted: () => accepted, close: () => partitions.close() };
}

/** A consumer of the intake queue under measurement: the messages it has handled, and its stop. */
interface Consumer {
  handled(): number;
  close(): Promise<void>;
}

/**
 * Starts a consumer of the intake queue under `prefix` (on a connection of its own), adds `n`
 * messages and returns how many it handled per second (see `measure`); then stops it.
 */
async function measureConsumer(
  label: string,
  url: string,
  prefix: string,
  n: number,
  start: (connection: Redis, queue: Queue) => Promise<Consumer>,
): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(INTAKE_QUEUE, { connection, prefix });
  const consumer = await start(connection, queue);
  try {
    return await measure(label, queue, n, consumer.handled, () => produce(url, prefix, n));
  } finally {
    await consumer.close();
    await queue.close();
    connection.disconnect();
  }
}

/** A no-op BullMQ worker: what taking a job costs, without accepting anything. */
function rawBullmq(url: string, round: number): Promise<number> {
  const prefix = `raw-${round}:{agent.intake}`;
  return measureConsumer('raw BullMQ (addBulk + no-op)', url, prefix, opts.messages, async (connection) => {
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
    return { handled: () => handled, close: () => worker.close() };
  });
}

/** The intake consumer as a worker runs it, in batches of `--batch`. */
function batchedIntake(url: string, round: number): Promise<number> {
  const namespace = `batched-${round}`;
  const label = `intake (batches of ${opts.batch})`;
  return measureConsumer(label, url, intakeQueuePrefix(namespace), opts.messages, async (connection) => {
    const turns = turnProducer(connection, namespace);
    const intake = await startIntake({
      connection,
      namespace,
      producer: turns.producer,
      logger,
      maxMessageBytes: 32 * 1024,
      batchSize: opts.batch,
    });
    return {
      handled: turns.accepted,
      close: async () => {
        await intake.close();
        await turns.close();
      },
    };
  });
}

/** Main's consumer before batching: concurrency 1, the queue's global concurrency 1. */
function oneAtATime(url: string, n: number): Promise<number> {
  const namespace = 'one-at-a-time';
  const prefix = intakeQueuePrefix(namespace);
  return measureConsumer("main's one-at-a-time", url, prefix, n, async (connection, queue) => {
    const turns = turnProducer(connection, namespace);
    await queue.setGlobalConcurrency(1);
    const worker = new Worker(
      INTAKE_QUEUE,
      (job) => processIntakeJob(job, { producer: turns.producer, logger, maxMessageBytes: 32 * 1024 }),
      { connection, prefix, concurrency: 1, removeOnComplete: { age: 3600, count: 100_000 } },
    );
    return {
      handled: turns.accepted,
      close: async () => {
        await worker.close();
        await turns.close();
      },
    };
  });
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
