import { createHash } from 'node:crypto';
import {
  ATTR,
  countTokens,
  currentTraceCarrier,
  type DoubleTexting,
  type FleetConfig,
  FleetError,
  hasNul,
  inSpan,
  NO_TENANT,
  NUL_REFUSED,
  newTurnId,
  type QuotaWindow,
  quotaExceeded,
  type RedisClient,
  SPAN,
  type Span,
  SpanKind,
  type TurnJob,
  userKeys,
  userQuotaKeys,
  windowSpans,
} from '@agent-fleet/core';
import { DEFERRED_DELAY_MS, FairQueue, MAX_FAIR_PRIORITY } from './fair-queue.ts';
import { scripts } from './lua.ts';
import type { PartitionQueues } from './partitions.ts';
import { decodePending, encodePending, type PendingPayload } from './pending.ts';
import { PendingUsers } from './pending-users.ts';
import { DEFAULT_TERMS, QuotaBook, type TenantTerms } from './quota-book.ts';
import type { TurnRecords } from './records.ts';
import { TenantDirectory } from './tenant-directory.ts';

export interface AcceptInput {
  userId: string;
  text: string;
  threadId?: string;
  idempotencyKey?: string;
  doubleTexting?: DoubleTexting;
  /** The user's tenant when the caller resolved it from the profile already (else `tenantOf`). */
  tenant?: string | null;
}

/** How partition queues order turns (QUEUE_ORDER), and a turn's estimate beyond history and text. */
export interface QueueOrder {
  kind: 'fair' | 'fifo';
  /** FAIR_TURN_TOKENS. */
  turnTokens: number;
}

export const DEFAULT_QUEUE_ORDER: QueueOrder = { kind: 'fair', turnTokens: 800 };

export interface AcceptedTurn {
  turnId: string;
  seq: number;
  /** false when an Idempotency-Key matched a turn accepted before. */
  created: boolean;
}

/**
 * Accepting a turn, the one implementation every producer uses (gateway, SDK, intake): check the
 * tenant's token budgets, then allocate the user's next seq, check the user's budgets, store the
 * payload and create the turn record atomically, then add the job to the user's partition (with
 * its fair-queueing priority). A refusal for quota (`quota_exceeded`) comes before anything is
 * written: no seq is handed out and nothing is enqueued (see `QuotaBook` for why the two checks
 * are two scripts). A producer that dies between the accept and the add loses nothing: the payload
 * waits in `pending`, and the worker that finishes the previous turn (or repairs the gap) adds the
 * job; a replay with the same Idempotency-Key re-adds it, which the job id makes a no-op when it
 * exists.
 */
export class TurnProducer {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #partitions: Pick<PartitionQueues, 'add' | 'count' | 'partitionOf'>;
  readonly #records: TurnRecords;
  readonly #idempotencyTtlSeconds: number;
  readonly #recordTtlSeconds: number;
  readonly #seqFloor: ((userId: string) => Promise<number>) | undefined;
  readonly #pendingUsers: PendingUsers;
  readonly #quotas: QuotaBook;
  readonly #fair: FairQueue;
  readonly #order: QueueOrder;
  readonly #tenantOf: (userId: string) => Promise<string | null>;

  constructor(opts: {
    redis: RedisClient;
    namespace: string;
    partitions: Pick<PartitionQueues, 'add' | 'count' | 'partitionOf'>;
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
    /** QUEUE_ORDER and FAIR_TURN_TOKENS; fair queueing with 800 tokens by default. */
    order?: QueueOrder;
    /**
     * The user's tenant, when the caller does not give it: a producer that reads profiles resolves
     * it from there; by default it is what the tenant directory in Redis last noted.
     */
    tenantOf?: (userId: string) => Promise<string | null>;
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
    this.#quotas = new QuotaBook({ redis: opts.redis, namespace: opts.namespace });
    this.#fair = new FairQueue({
      redis: opts.redis,
      namespace: opts.namespace,
      ...(opts.order?.kind === 'fair' ? { turnTokens: opts.order.turnTokens } : {}),
    });
    this.#order = opts.order ?? DEFAULT_QUEUE_ORDER;
    const directory = new TenantDirectory({ redis: opts.redis, namespace: opts.namespace });
    this.#tenantOf = opts.tenantOf ?? ((userId) => directory.get(userId));
  }

  /**
   * Accepts `input` as the user's next turn. Text with a NUL is refused (`invalid_request`) whoever
   * the producer is: Postgres could not record such a turn. A used-up budget of the user's tenant
   * or of the user is refused with `quota_exceeded` (429, `details.resetAt`). Traced as
   * `turn.accept`, whose context the turn's job carries to the workers (one trace per turn).
   */
  async accept(input: AcceptInput): Promise<AcceptedTurn> {
    if (hasNul(input.text))
      throw new FleetError('invalid_request', `text ${NUL_REFUSED}`, { details: { field: 'text' } });
    const attributes = { [ATTR.userId]: input.userId, 'messaging.system': 'bullmq' };
    return inSpan(SPAN.accept, { kind: SpanKind.PRODUCER, attributes }, (span) => this.#accept(input, span));
  }

  async #accept(input: AcceptInput, span: Span): Promise<AcceptedTurn> {
    const tenant =
      (input.tenant === undefined ? await this.#tenantOf(input.userId) : input.tenant) ?? NO_TENANT;
    const k = userKeys(this.#namespace, input.userId);
    const trace = currentTraceCarrier();
    const idem = input.idempotencyKey;
    const terms = await this.#tenantTerms(tenant, idem ? k.idempotency(idem) : undefined);
    const q = userQuotaKeys(this.#namespace, input.userId);
    const spans = windowSpans(Date.now());
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
          q.limits,
          q.used(spans.day.id),
          q.used(spans.month.id),
          q.held,
          q.heldExpiry,
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
          terms.perUser.day ?? '',
          terms.perUser.month ?? '',
        ],
      ) as Promise<[number, string | number, number, string | number, number, number]>;
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
    if (accepted[0] === -4) {
      const window = String(accepted[1]) as QuotaWindow;
      throw quotaExceeded({
        scope: 'user',
        subject: input.userId,
        window,
        used: Number(accepted[2]),
        limit: Number(accepted[3]),
        resetAt: spans[window].resetAt,
      });
    }
    if (accepted[0] === -2) {
      const busy = accepted[1] ? (JSON.parse(String(accepted[1])) as { turnId?: string }).turnId : undefined;
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
    const [seq, turnId, created, stored, historyTokens, ahead] = accepted as [
      number,
      string,
      number,
      string,
      number,
      number,
    ];
    span.setAttributes({ [ATTR.turnId]: turnId, [ATTR.seq]: seq });
    if (created === 1) {
      const job = decodePending(seq, stored);
      const promptTokens = countTokens(input.text) + historyTokens;
      await this.#enqueue(job, { tenant, terms, promptTokens, ahead });
      return { turnId, seq, created: true };
    }
    // A replay: finish what the first call may not have done (untagged: it goes first).
    if (stored) {
      const job = decodePending(seq, stored);
      await this.#records.ensure(job);
      await this.#partitions.add(job);
    }
    return { turnId, seq, created: false };
  }

  /**
   * The tenant's per-user budgets and weight, or a refusal when one of its budgets is used up, but
   * for a retry of a message accepted before (its Idempotency-Key is known): the accept script
   * answers it with its turn without checking anything.
   */
  async #tenantTerms(tenant: string, idempotencyKey: string | undefined): Promise<TenantTerms> {
    // No quota can name the tenant of users without one.
    if (tenant === NO_TENANT) return DEFAULT_TERMS;
    const check = await this.#quotas.checkTenant(tenant);
    if (check.ok) return check.terms;
    if (idempotencyKey && (await this.#redis.exists(idempotencyKey)) === 1) return DEFAULT_TERMS;
    throw quotaExceeded(check.refusal);
  }

  /**
   * Adds the job, tagged for fair queueing unless the queues run FIFO. A turn with turns of its user
   * ahead of it cannot run before they end: it waits in `delayed`, untagged (at the lowest
   * priority), and is tagged and promoted when it becomes the user's next turn (`FairQueue.requeue`),
   * so a tenant's backlog is charged as its turns become runnable, never all at once ahead of
   * everyone else's, and no worker picks a turn up only to park it.
   */
  async #enqueue(
    job: TurnJob,
    t: { tenant: string; terms: TenantTerms; promptTokens: number; ahead: number },
  ): Promise<void> {
    if (this.#order.kind === 'fifo') return this.#partitions.add(job);
    const fair = { tenant: t.tenant, prompt: t.promptTokens, weight: t.terms.weight };
    if (t.ahead > 0)
      return this.#partitions.add(
        {
          ...job,
          fair: { ...fair, cost: t.promptTokens + this.#order.turnTokens, start: 0, deferred: true },
        },
        { priority: MAX_FAIR_PRIORITY, delay: DEFERRED_DELAY_MS },
      );
    const partition = this.#partitions.partitionOf(job.userId);
    const { start, priority, cost } = await this.#fair.tag(partition, t.tenant, fair.prompt, fair.weight);
    await this.#partitions.add({ ...job, fair: { ...fair, cost, start } }, { priority });
  }
}

/**
 * The producer a fleet process builds: its namespace, lifetimes and queue order from `config`; a
 * user Redis has no numbering for is numbered after the durable `transcript`, and counted under
 * the tenant of their profile.
 */
export function configuredProducer(
  config: Pick<
    FleetConfig,
    | 'FLEET_NAMESPACE'
    | 'IDEMPOTENCY_TTL_SECONDS'
    | 'TURN_RECORD_TTL_SECONDS'
    | 'QUEUE_ORDER'
    | 'FAIR_TURN_TOKENS'
  >,
  parts: {
    redis: RedisClient;
    partitions: PartitionQueues;
    records: TurnRecords;
    transcript: { maxSeq(userId: string): Promise<number> };
    profiles: { get(userId: string): Promise<{ tenant: string } | null> };
  },
): TurnProducer {
  const { transcript, profiles, ...queues } = parts;
  return new TurnProducer({
    ...queues,
    seqFloor: (userId) => transcript.maxSeq(userId),
    tenantOf: async (userId) => (await profiles.get(userId))?.tenant ?? null,
    namespace: config.FLEET_NAMESPACE,
    idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
    recordTtlSeconds: config.TURN_RECORD_TTL_SECONDS,
    order: { kind: config.QUEUE_ORDER, turnTokens: config.FAIR_TURN_TOKENS },
  });
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
