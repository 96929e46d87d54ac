import { newTurnId, userKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';
import { scripts } from './lua.ts';
import type { PartitionQueues } from './partitions.ts';
import { decodePending, encodePending, type PendingPayload } from './pending.ts';
import type { TurnRecords } from './records.ts';

export interface AcceptInput {
  userId: string;
  text: string;
  threadId?: string;
  idempotencyKey?: string;
}

export interface AcceptedTurn {
  turnId: string;
  seq: number;
  /** false when an Idempotency-Key matched a turn accepted before. */
  created: boolean;
  enqueuedAt: number;
}

/**
 * Accepting a turn, the one implementation every producer uses (gateway, SDK, intake): allocate the
 * user's next seq and store the payload atomically, write the turn record, then add the job to the
 * user's partition. A producer that dies between steps loses nothing: the payload waits in
 * `pending` and the worker that runs the next turn repairs the gap; a replay with the same
 * Idempotency-Key re-adds the job, which the job id makes a no-op when it is already there.
 */
export class TurnProducer {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #partitions: PartitionQueues;
  readonly #records: TurnRecords;
  readonly #idempotencyTtlSeconds: number;

  constructor(opts: {
    redis: Redis;
    namespace: string;
    partitions: PartitionQueues;
    records: TurnRecords;
    idempotencyTtlSeconds: number;
  }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#partitions = opts.partitions;
    this.#records = opts.records;
    this.#idempotencyTtlSeconds = opts.idempotencyTtlSeconds;
  }

  async accept(input: AcceptInput): Promise<AcceptedTurn> {
    const k = userKeys(this.#namespace, input.userId);
    const payload: PendingPayload = {
      v: 1,
      kind: 'chat',
      userId: input.userId,
      turnId: newTurnId(),
      text: input.text,
      ...(input.threadId ? { threadId: input.threadId } : {}),
      enqueuedAt: Date.now(),
    };
    const idem = input.idempotencyKey;
    const [seq, turnId, created, stored] = (await scripts.acceptTurn.run(
      this.#redis,
      [k.seq, k.pending, idem ? k.idempotency(idem) : k.seq],
      [payload.turnId, encodePending(payload), this.#idempotencyTtlSeconds, idem ? '1' : '0'],
    )) as [number, string, number, string];

    if (created === 1) {
      const job = decodePending(seq, stored);
      await this.#records.create(job);
      await this.#partitions.add(job);
      return { turnId, seq, created: true, enqueuedAt: job.enqueuedAt };
    }
    // A replay: make sure what the first call may not have finished is done.
    if (stored) {
      const job = decodePending(seq, stored);
      await this.#records.create(job, { ifMissing: true });
      await this.#partitions.add(job);
      return { turnId, seq, created: false, enqueuedAt: job.enqueuedAt };
    }
    const record = await this.#records.get(turnId);
    return { turnId, seq, created: false, enqueuedAt: record?.enqueuedAt ?? 0 };
  }
}
