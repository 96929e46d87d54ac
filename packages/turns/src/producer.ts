import { createHash } from 'node:crypto';
import {
  ATTR,
  currentTraceCarrier,
  type DoubleTexting,
  FleetError,
  hasNul,
  inSpan,
  NUL_REFUSED,
  newTurnId,
  type RedisClient,
  SPAN,
  type Span,
  SpanKind,
  userKeys,
} from '@agent-fleet/core';
import { scripts } from './lua.ts';
import type { PartitionQueues } from './partitions.ts';
import { decodePending, encodePending, type PendingPayload } from './pending.ts';
import { PendingUsers } from './pending-users.ts';
import type { TurnRecords } from './records.ts';

export interface AcceptInput {
  userId: string;
  text: string;
  threadId?: string;
  idempotencyKey?: string;
  doubleTexting?: DoubleTexting;
}

export interface AcceptedTurn {
  turnId: string;
  seq: number;
  /** false when an Idempotency-Key matched a turn accepted before. */
  created: boolean;
}

/**
 * Accepting a turn, the one implementation every producer uses (gateway, SDK, intake): allocate the
 * user's next seq, store the payload and create the turn record atomically, then add the job to
 * the user's partition. A producer that dies between the two loses nothing: the payload waits in
 * `pending`, and the worker that finishes the previous turn (or repairs the gap) adds the job; a
 * replay with the same Idempotency-Key re-adds it, which the job id makes a no-op when it exists.
 */
export class TurnProducer {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #partitions: Pick<PartitionQueues, 'add' | 'count'>;
  readonly #records: TurnRecords;
  readonly #idempotencyTtlSeconds: number;
  readonly #recordTtlSeconds: number;
  readonly #seqFloor: ((userId: string) => Promise<number>) | undefined;
  readonly #pendingUsers: PendingUsers;

  constructor(opts: {
    redis: RedisClient;
    namespace: string;
    partitions: Pick<PartitionQueues, 'add' | 'count'>;
    records: TurnRecords;
    idempotencyTtlSeconds: number;
    recordTtlSeconds: number;
    /**
     * The highest seq the durable transcript holds for a user. Asked only when Redis has no
     * counter for the user (new, idle past HOT_STATE_TTL, or Redis lost its data), so
     * numbering continues after the transcript. Without it such a user is refused with
     * {@link NumberingUnknownError}, never numbered from 1 again.
     */
    seqFloor?: (userId: string) => Promise<number>;
  }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#partitions = opts.partitions;
    this.#records = opts.records;
    this.#idempotencyTtlSeconds = opts.idempotencyTtlSeconds;
    this.#recordTtlSeconds = opts.recordTtlSeconds;
    this.#seqFloor = opts.seqFloor;
    this.#pendingUsers = new PendingUsers({
      redis: opts.redis,
      namespace: opts.namespace,
      partitions: opts.partitions.count,
    });
  }

  /**
   * Accepts `input` as the user's next turn. Text with a NUL is refused (`invalid_request`) whoever
   * the producer is: Postgres could not record such a turn. Traced as `turn.accept`, whose context
   * the turn's job carries to the workers (one trace per turn).
   */
  async accept(input: AcceptInput): Promise<AcceptedTurn> {
    if (hasNul(input.text))
      throw new FleetError('invalid_request', `text ${NUL_REFUSED}`, { details: { field: 'text' } });
    const attributes = { [ATTR.userId]: input.userId, 'messaging.system': 'bullmq' };
    return inSpan(SPAN.accept, { kind: SpanKind.PRODUCER, attributes }, (span) => this.#accept(input, span));
  }

  async #accept(input: AcceptInput, span: Span): Promise<AcceptedTurn> {
    const k = userKeys(this.#namespace, input.userId);
    const trace = currentTraceCarrier();
    const payload: PendingPayload = {
      v: 1,
      kind: 'chat',
      userId: input.userId,
      turnId: newTurnId(),
      text: input.text,
      ...(input.threadId ? { threadId: input.threadId } : {}),
      enqueuedAt: Date.now(),
      ...(input.doubleTexting === 'coalesce' ? { coalesce: true } : {}),
      ...(trace ? { trace } : {}),
    };
    const idem = input.idempotencyKey;
    const run = (floor: string) =>
      scripts.acceptTurn.run(
        this.#redis,
        [
          k.seq,
          k.pending,
          idem ? k.idempotency(idem) : k.seq,
          k.record(payload.turnId),
          k.done,
          k.interrupt,
          k.history,
          k.historyMeta,
        ],
        [
          payload.turnId,
          encodePending(payload),
          this.#idempotencyTtlSeconds,
          idem ? '1' : '0',
          payload.enqueuedAt,
          this.#recordTtlSeconds,
          payload.threadId ?? '',
          floor,
          input.doubleTexting ?? 'enqueue',
          requestFingerprint(input),
        ],
      ) as Promise<[number, string, number, string]>;
    // The user is noted in the pending-users index first and the owner key is written alongside
    // (same tick, one pipelined write, in this order): the recovery sweep finds every user with a
    // pending turn. For a replay the owner key names a turn id that is never used, and expires.
    const noted = this.#pendingUsers.note(input.userId);
    let [accepted] = await Promise.all([
      run(''),
      this.#records.setOwner(payload.turnId, input.userId),
      noted,
    ]);
    if (accepted[0] === -1) {
      if (!this.#seqFloor) throw new NumberingUnknownError(input.userId);
      accepted = await run(String(await this.#seqFloor(input.userId)));
    }
    if (accepted[0] === -2) {
      const busy = accepted[1] ? (JSON.parse(accepted[1]) as { turnId?: string }).turnId : undefined;
      throw new FleetError(
        'conflict',
        'a turn of this user is queued or running; send it later or choose another doubleTexting',
        {
          details: { userId: input.userId, ...(busy ? { turnInProgress: busy } : {}) },
        },
      );
    }
    if (accepted[0] === -3) {
      const key = input.idempotencyKey;
      throw new FleetError(
        'idempotency_key_reused',
        `Idempotency-Key ${key} was used for a different request (turn ${accepted[1]}); use a new key for a new message`,
        { details: { turnId: accepted[1], idempotencyKey: key } },
      );
    }
    const [seq, turnId, created, stored] = accepted;
    span.setAttributes({ [ATTR.turnId]: turnId, [ATTR.seq]: seq });
    if (created === 1) {
      await this.#partitions.add(decodePending(seq, stored));
      return { turnId, seq, created: true };
    }
    // A replay: finish what the first call may not have done.
    if (stored) {
      const job = decodePending(seq, stored);
      await this.#records.ensure(job);
      await this.#partitions.add(job);
    }
    return { turnId, seq, created: false };
  }
}

/**
 * A producer without the durable transcript met a user Redis has no numbering for (new, or idle
 * past HOT_STATE_TTL): nothing was accepted; one with the transcript must number it (the
 * SDK hands such a message to the intake queue).
 */
export class NumberingUnknownError extends FleetError {
  constructor(userId: string) {
    super('unavailable', `no numbering of ${userId} in Redis, and this producer cannot read the transcript`, {
      retryable: false,
      details: { userId },
    });
    this.name = 'NumberingUnknownError';
  }
}

/**
 * What makes two accepts the same request for an Idempotency-Key: the text and the thread. How the
 * caller wants a busy user handled (doubleTexting) is not part of it, since it may come from the
 * user's profile rather than the request.
 */
function requestFingerprint(input: Pick<AcceptInput, 'text' | 'threadId'>): string {
  return createHash('sha256')
    .update(JSON.stringify([input.text, input.threadId ?? null]))
    .digest('base64url');
}
