import {
  type ClusterNodeAddress,
  clusterTargetOf,
  createRedis,
  envSchema,
  FleetError,
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  type IntakeMessage,
  intakeMessageSchema,
  intakeQueuePrefix,
  intakeResultSchema,
  type RedisClient,
  type RedisTarget,
  sleep,
  untilReady,
} from '@agent-fleet/core';
import {
  type TurnRecord as HotRecord,
  NumberingUnknownError,
  PartitionQueues,
  TurnProducer,
  TurnRecords,
  toTurnResult,
} from '@agent-fleet/turns';
import { Job, Queue } from 'bullmq';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { SendInput, SentTurn, TurnEvent, TurnRecord, WaitOptions } from './types.ts';
import { waitForFinal, watchTurn } from './watch.ts';

/**
 * The nodes of the fleet's Redis Cluster: its REDIS_CLUSTER_NODES value (`host:port` or
 * `redis[s]://` entries, comma-separated), or a list of nodes without credentials (for those, or
 * other options, pass a `Cluster` of your own).
 */
export interface ClusterConnection {
  clusterNodes: string | readonly ClusterNodeAddress[];
}

export interface FleetClientOptions {
  /**
   * The fleet's Redis: a client (yours to close; an ioredis `Cluster` for a fleet on Redis
   * Cluster), ioredis options or a `redis://` URL of one server, or the nodes of a cluster.
   */
  connection: Redis | Cluster | RedisOptions | string | ClusterConnection;
  /** The fleet's FLEET_NAMESPACE; default `fleet`. */
  namespace?: string;
  /**
   * The fleet's PARTITIONS; default 8. Order never depends on it (it lives in per-user counters),
   * but it must not exceed the fleet's, or some users' turns land on queues no worker reads.
   */
  partitions?: number;
  /** The fleet's MAX_MESSAGE_BYTES; default 32 KiB. */
  maxMessageBytes?: number;
  /**
   * The fleet's QUEUE_ORDER and FAIR_TURN_TOKENS: how turns of different tenants are ordered in the
   * queues (default `fair`, as the fleet's). Sent turns count under the tenant the fleet noted for
   * the user when it last read their profile.
   */
  queueOrder?: 'fair' | 'fifo';
  fairTurnTokens?: number;
  /** The fleet's TURN_ATTEMPTS, TURN_BACKOFF_MS, IDEMPOTENCY_TTL_SECONDS, TURN_RECORD_TTL_SECONDS. */
  turnAttempts?: number;
  turnBackoffMs?: number;
  idempotencyTtlSeconds?: number;
  recordTtlSeconds?: number;
  /**
   * The highest seq the fleet's transcript holds for a user, for a client that can read it. Without
   * it, the first message of a user Redis has no numbering for (new, or idle past the fleet's
   * HOT_STATE_TTL) goes through the intake queue, where a worker numbers it.
   */
  seqFloor?: (userId: string) => Promise<number>;
  /** How long such a message may wait for a worker to accept it; default 30 s. */
  intakeTimeoutMs?: number;
}

interface Parts {
  partitions: PartitionQueues;
  records: TurnRecords;
  producer: TurnProducer;
}

/** The public shape of a hot turn record, exactly as `GET /v1/turns/:turnId` reports it. */
export const toTurnRecord: (hot: HotRecord) => TurnRecord = toTurnResult;

const isRedisClient = (c: unknown): c is RedisClient =>
  typeof c === 'object' && c !== null && typeof (c as Redis).evalsha === 'function';

/** Where `connection` points, when it is not a client already. */
function targetOf(connection: RedisOptions | string | ClusterConnection): RedisTarget {
  if (typeof connection === 'string') return { url: connection };
  if (!('clusterNodes' in connection)) return { options: connection };
  const nodes = connection.clusterNodes;
  return typeof nodes === 'string' ? clusterTargetOf(nodes) : { clusterNodes: nodes };
}

/**
 * Sends user messages straight to the fleet's queues, without the gateway, through the very
 * `TurnProducer` the gateway uses: the same per-user sequence numbers, partitioning and ordering
 * guarantee, idempotency keys included. Producers fail fast while Redis is unreachable (no offline
 * queue): a failed `send` can be retried safely with an idempotency key.
 */
export class FleetClient {
  readonly namespace: string;
  readonly #redis: RedisClient;
  readonly #owned: boolean;
  readonly #opts: FleetClientOptions;
  readonly #maxMessageBytes: number;
  #parts: Promise<Parts> | undefined;
  #intake: Queue | undefined;
  #closed = false;

  constructor(opts: FleetClientOptions) {
    this.#opts = opts;
    this.namespace = opts.namespace ?? 'fleet';
    this.#maxMessageBytes = opts.maxMessageBytes ?? 32 * 1024;
    if (isRedisClient(opts.connection)) {
      this.#redis = opts.connection;
      this.#owned = false;
    } else {
      this.#redis = createRedis(targetOf(opts.connection), { role: 'producer' });
      this.#owned = true;
      // Errors surface on the calls that fail; without a listener ioredis would print each one.
      this.#redis.on('error', () => {});
    }
  }

  /**
   * Accepts a message as the user's next turn; `created` is false for a repeated idempotency key.
   * A used-up token budget of the user or their tenant is refused with `quota_exceeded`
   * (`details.resetAt`), and nothing is accepted.
   */
  async send(input: SendInput): Promise<SentTurn> {
    const parsed = intakeMessageSchema.safeParse({ v: 1, ...input });
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        field: i.path.join('.') || 'input',
        message: i.message,
      }));
      throw new FleetError('invalid_request', issues.map((i) => `${i.field}: ${i.message}`).join('; '), {
        details: { issues },
      });
    }
    const { userId, text, threadId, idempotencyKey } = parsed.data;
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.#maxMessageBytes) {
      throw new FleetError(
        'payload_too_large',
        `text is ${bytes} bytes; the limit is ${this.#maxMessageBytes} bytes`,
        {
          details: { field: 'text', bytes, limit: this.#maxMessageBytes },
        },
      );
    }
    const { producer } = await this.#init();
    try {
      const turn = await producer.accept({
        userId,
        text,
        ...(threadId ? { threadId } : {}),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      });
      return { turnId: turn.turnId, seq: turn.seq, created: turn.created };
    } catch (err) {
      if (!(err instanceof NumberingUnknownError) || this.#opts.seqFloor) throw err;
      return this.#sendThroughIntake(parsed.data);
    }
  }

  /**
   * A user Redis has no numbering for (new, or idle past HOT_STATE_TTL): the message goes
   * through the intake queue, whose worker numbers it after the user's transcript in Postgres; the
   * result is read from the finished intake job. Without an Idempotency-Key the job's id stands in
   * for one, so the message is accepted once.
   */
  async #sendThroughIntake(message: IntakeMessage): Promise<SentTurn> {
    this.#intake ??= new Queue(INTAKE_QUEUE, {
      connection: this.#redis,
      prefix: intakeQueuePrefix(this.namespace),
    });
    const queue = this.#intake;
    const added = await queue.add(INTAKE_JOB_NAME, message);
    const deadline = Date.now() + (this.#opts.intakeTimeoutMs ?? 30_000);
    for (;;) {
      const job = await Job.fromId(queue, added.id!);
      if (job?.finishedOn !== undefined && job.failedReason)
        throw new FleetError('invalid_request', `the fleet refused the message: ${job.failedReason}`);
      if (job?.finishedOn !== undefined) return intakeResultSchema.parse(job.returnvalue);
      if (Date.now() > deadline)
        throw new FleetError(
          'unavailable',
          `no worker accepted intake job ${added.id} in time; it stays queued`,
          {
            details: { intakeJobId: added.id },
          },
        );
      await sleep(10);
    }
  }

  /** The turn's record, or null when it is unknown or has expired (TURN_RECORD_TTL_SECONDS). */
  async getTurn(turnId: string): Promise<TurnRecord | null> {
    const { records } = await this.#init();
    const hot = await records.get(turnId);
    return hot ? toTurnRecord(hot) : null;
  }

  /** Resolves with the turn once it has ended (check `status`): completed, failed, cancelled, interrupted. */
  waitForTurn(turnId: string, opts?: WaitOptions): Promise<TurnRecord> {
    return waitForFinal((id) => this.getTurn(id), turnId, opts);
  }

  /** The turn's status changes until it has ended; see `TurnEvent` for what may be added. */
  streamTurn(turnId: string, opts?: WaitOptions): AsyncIterable<TurnEvent> {
    return watchTurn((id) => this.getTurn(id), turnId, opts);
  }

  /** Closes the queues, and the Redis connection when the client opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const parts = await this.#parts?.catch(() => undefined);
    await parts?.partitions.close();
    await this.#intake?.close();
    if (this.#owned) this.#redis.disconnect();
  }

  #init(): Promise<Parts> {
    if (this.#closed) return Promise.reject(new FleetError('unavailable', 'the FleetClient is closed'));
    this.#parts ??= this.#connect().catch((err) => {
      this.#parts = undefined;
      throw err;
    });
    return this.#parts;
  }

  async #connect(): Promise<Parts> {
    await untilReady(this.#redis, CONNECT_TIMEOUT_MS);
    const defaults = envSchema.parse({});
    const o = this.#opts;
    const recordTtl = o.recordTtlSeconds ?? defaults.TURN_RECORD_TTL_SECONDS;
    const partitions = new PartitionQueues({
      connection: this.#redis,
      namespace: this.namespace,
      partitions: o.partitions ?? defaults.PARTITIONS,
      policy: {
        attempts: o.turnAttempts ?? defaults.TURN_ATTEMPTS,
        backoffMs: o.turnBackoffMs ?? defaults.TURN_BACKOFF_MS,
      },
    });
    const records = new TurnRecords({ redis: this.#redis, namespace: this.namespace, ttlSeconds: recordTtl });
    const producer = new TurnProducer({
      redis: this.#redis,
      namespace: this.namespace,
      partitions,
      records,
      idempotencyTtlSeconds: o.idempotencyTtlSeconds ?? defaults.IDEMPOTENCY_TTL_SECONDS,
      recordTtlSeconds: recordTtl,
      ...(o.seqFloor ? { seqFloor: o.seqFloor } : {}),
      order: {
        kind: o.queueOrder ?? defaults.QUEUE_ORDER,
        turnTokens: o.fairTurnTokens ?? defaults.FAIR_TURN_TOKENS,
      },
    });
    return { partitions, records, producer };
  }
}

/** How long the first call waits for Redis; then it fails with `unavailable`. */
const CONNECT_TIMEOUT_MS = 10_000;
