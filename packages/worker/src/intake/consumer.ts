import { randomUUID } from 'node:crypto';
import {
  INTAKE_QUEUE,
  intakeConsumerKeys,
  intakeQueuePrefix,
  LuaScript,
  type RedisClient,
} from '@agent-fleet/core';
import { type Job, Queue, Worker } from 'bullmq';
import { runInKeyOrder } from './batch.ts';
import { type IntakeJobOptions, processIntakeJob } from './job.ts';
import { IntakeLease } from './lease.ts';

export interface IntakeOptions extends IntakeJobOptions {
  /** A BullMQ connection (`maxRetriesPerRequest: null`); the caller owns and closes it. */
  connection: RedisClient;
  namespace: string;
  /** Most intake jobs taken per round (INTAKE_BATCH_SIZE); default 256. */
  batchSize?: number;
  /** The jobs' lock, and the consumer lease: a dead consumer is replaced after this long. */
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
}

export interface Intake {
  readonly worker: Worker;
  readonly queue: Queue;
  /** Stops taking intake jobs; the batch in flight is settled first. */
  close(): Promise<void>;
}

/** Finished intake jobs kept for inspection (Bull Board), bounded so the queue does not grow forever. */
export const INTAKE_KEEP_COMPLETED = { age: 24 * 3600, count: 10_000 };
export const INTAKE_KEEP_FAILED = { age: 14 * 24 * 3600, count: 10_000 };

const DEFAULT_LOCK_MS = 30_000;
const batchRecord = new LuaScript(new URL('./batch-record-2.lua', import.meta.url));

/**
 * Consume the intake queue: any producer (any language) adds a documented payload with a plain
 * BullMQ `add`, and the fleet accepts it as the user's next turn, moving it into the user's partition.
 *
 * One process at a time (the holder of the intake lease) takes jobs, in rounds: up to `batchSize`
 * jobs from the head of `wait`, their ids recorded in that order in the batch key before they are
 * taken (one pipelined round trip), then accepted concurrently across users and one after another
 * within a user, then completed or failed together. A failing accept is retried in place, so a later message of the
 * user cannot overtake it. A consumer that takes over (its predecessor died, or closed) first waits
 * until no intake job is active (BullMQ's stalled check moves a dead consumer's jobs back to
 * `wait`, in no particular order), then takes them all in one round and accepts them in the order
 * the batch key recorded. Accepting is idempotent per job (its idempotency key), so a job accepted
 * before the crash is accepted once. A payload that fails the schema, or that the producer refuses
 * (an idempotency key reused for another text), fails once with a reason naming the field or key
 * and is never retried; the rest of its round goes on.
 */
export async function startIntake(opts: IntakeOptions): Promise<Intake> {
  const prefix = intakeQueuePrefix(opts.namespace);
  const lockMs = opts.lockDuration ?? DEFAULT_LOCK_MS;
  const queue = new Queue(INTAKE_QUEUE, { connection: opts.connection, prefix });
  const worker = new Worker(INTAKE_QUEUE, null, {
    connection: opts.connection,
    prefix,
    lockDuration: lockMs,
    drainDelay: 1,
    removeOnComplete: INTAKE_KEEP_COMPLETED,
    removeOnFail: INTAKE_KEEP_FAILED,
    ...(opts.stalledInterval ? { stalledInterval: opts.stalledInterval } : {}),
    ...(opts.maxStalledCount !== undefined ? { maxStalledCount: opts.maxStalledCount } : {}),
  });
  worker.on('error', (err) => opts.logger.warn({ err: err.message }, 'intake worker error'));
  await worker.waitUntilReady();
  await worker.startStalledCheckTimer();
  const consumer = new IntakeConsumer(opts, queue, worker, lockMs);
  const running = consumer.run();
  return {
    worker,
    queue,
    async close() {
      consumer.stop();
      await running;
      await worker.close();
      await queue.close();
    },
  };
}

type Outcome = PromiseSettledResult<unknown>;

class IntakeConsumer {
  readonly #opts: IntakeOptions;
  readonly #queue: Queue;
  readonly #worker: Worker;
  readonly #lockMs: number;
  readonly #lease: IntakeLease;
  readonly #keys: { lease: string; batch: string };
  readonly #batchSize: number;
  #stopping = false;
  /** A round failed after taking jobs it may not have settled: the next one starts as a takeover. */
  #recovering = false;
  #wake: (() => void) | undefined;

  constructor(opts: IntakeOptions, queue: Queue, worker: Worker, lockMs: number) {
    this.#opts = opts;
    this.#queue = queue;
    this.#worker = worker;
    this.#lockMs = lockMs;
    this.#keys = intakeConsumerKeys(opts.namespace);
    this.#lease = new IntakeLease({ redis: opts.connection, key: this.#keys.lease, ttlMs: lockMs });
    this.#batchSize = opts.batchSize ?? 256;
  }

  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  async run(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#round();
      } catch (err) {
        this.#recovering = true;
        this.#opts.logger.warn({ err: (err as Error).message }, 'intake round failed; trying again');
        await this.#pause(500);
      }
    }
    await this.#lease.release().catch(() => {});
  }

  /** One round: hold the lease, take a batch and record its order, accept it, settle it. */
  async #round(): Promise<void> {
    const lease = await this.#lease.hold();
    if (lease === 'held-elsewhere') return this.#pause(Math.min(1000, this.#lockMs / 3));
    const takeover = lease === 'taken' || this.#recovering;
    const size = takeover ? Math.max(this.#batchSize, await this.#takeOver()) : this.#batchSize;
    if (this.#stopping) return; // a takeover cut short: jobs may still be active elsewhere
    this.#recovering = false;
    const token = randomUUID();
    const first = await this.#worker.getNextJob(token, { block: true });
    if (!first) return;
    const order = await this.#record(first, size - 1, takeover);
    const batch = inRecordedOrder([first, ...(await this.#takeMore(token, order.length - 1))], order);
    const outcomes = await this.#withLocks(batch, token, () =>
      runInKeyOrder(batch, userOf, (job) => processIntakeJob(job, this.#opts)),
    );
    await this.#settle(batch, outcomes, token);
  }

  /**
   * A new holder (or one whose round failed midway): waits until no intake job is active (jobs a
   * dead or failed round held are back in `wait`), and returns the length of the last recorded
   * batch, which the next round must take whole.
   */
  async #takeOver(): Promise<number> {
    await this.#queue.removeGlobalConcurrency();
    while (!this.#stopping && (await this.#queue.getActiveCount()) > 0) {
      await this.#lease.hold();
      await this.#pause(200);
    }
    return this.#opts.connection.llen(this.#keys.batch);
  }

  /** Records the batch's order (see batch-record-2.lua) before any of it is accepted. */
  async #record(first: Job, more: number, takeover: boolean): Promise<string[]> {
    const wait = this.#queue.keys.wait!;
    return (await batchRecord.run(
      this.#opts.connection,
      [wait, this.#keys.batch],
      [String(first.id), more, takeover ? '1' : '0'],
    )) as string[];
  }

  /** `count` more jobs from the head of `wait`, in one round trip. */
  async #takeMore(token: string, count: number): Promise<Job[]> {
    const taken: Job[] = [];
    await Promise.all(
      Array.from({ length: count }, () =>
        this.#worker.getNextJob(token, { block: false }).then((job) => {
          if (job) taken.push(job);
        }),
      ),
    );
    return taken;
  }

  /** Runs `work` while renewing the batch's job locks and the lease. */
  async #withLocks<R>(batch: Job[], token: string, work: () => Promise<R>): Promise<R> {
    const ids = batch.map((j) => String(j.id));
    const renew = setInterval(() => {
      void this.#lease.hold().catch(() => {});
      void this.#worker
        .extendJobLocks(
          ids,
          ids.map(() => token),
          this.#lockMs,
        )
        .catch(() => {});
    }, this.#lockMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(renew);
    }
  }

  async #settle(batch: Job[], outcomes: Outcome[], token: string): Promise<void> {
    await Promise.all(
      batch.map(async (job, i) => {
        const outcome = outcomes[i]!;
        try {
          if (outcome.status === 'fulfilled') await job.moveToCompleted(outcome.value, token, false);
          else {
            const err = outcome.reason as Error;
            this.#opts.logger.warn({ jobId: job.id, reason: err.message }, 'intake job failed');
            await job.moveToFailed(err, token, false);
          }
        } catch (err) {
          // Still active (its lock lost, or Redis away): it goes back to `wait` and is accepted
          // again, once; the next round waits for it and takes it first.
          this.#recovering = true;
          this.#opts.logger.warn({ jobId: job.id, err: (err as Error).message }, 'intake job not settled');
        }
      }),
    );
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** The jobs in the order a previous holder recorded for them, then the rest as taken. */
export function inRecordedOrder(jobs: Job[], recorded: string[]): Job[] {
  if (recorded.length === 0) return jobs;
  const rank = new Map(recorded.map((id, i) => [id, i]));
  const at = (job: Job) => rank.get(String(job.id)) ?? recorded.length;
  return jobs
    .map((job, i) => ({ job, i }))
    .sort((a, b) => at(a.job) - at(b.job) || a.i - b.i)
    .map((e) => e.job);
}

/** The user an intake job is for, as the producer wrote it (a job without one fails on its own). */
function userOf(job: Job): string | undefined {
  const data = job.data as { userId?: unknown } | null;
  return typeof data?.userId === 'string' ? data.userId : undefined;
}
