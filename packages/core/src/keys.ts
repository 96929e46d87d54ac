/**
 * Every Redis key the fleet writes, in one place. Per-user keys share the hash tag `{u:<userId>}`
 * and each partition queue has its own tag `{agent.pN}`, so every Lua script touches one slot and
 * the layout works unchanged on Redis Cluster.
 */
export interface UserKeys {
  /** INCR counter: the last sequence number handed out. */
  seq: string;
  /** The last sequence number finished (completed or finally failed). */
  done: string;
  /** The turn lease: which delivery may run the user's next turn. */
  lease: string;
  /** Hash seq -> job payload JSON of accepted turns not yet finished. */
  pending: string;
  /** Conversation history list (JSON messages), trimmed to a budget. */
  history: string;
  /** Hash with the last seq appended to the history. */
  historyMeta: string;
  /** Idempotency-Key -> "turnId seq". */
  idempotency: (key: string) => string;
  /** Per-turn scratchpad: step checkpoints of a running turn. */
  scratchpad: (turnId: string) => string;
  /** The seq of the newest message sent with the `interrupt` strategy. */
  interrupt: string;
  /** Set when someone asked to cancel the turn; checked when it starts and between its steps. */
  cancel: (turnId: string) => string;
  /** A turn's event stream (status, steps, tokens, done), read by `GET /v1/turns/:id/events`. */
  events: (turnId: string) => string;
  /** The user's profile as cached from Postgres (JSON; `null` when the user has none). */
  profile: string;
  /** Prefix of turn records: the record of a turn is `recordPrefix + turnId`. */
  recordPrefix: string;
  /** The status record of one turn (kept in the user's slot, so the turn's Lua steps update it). */
  record: (turnId: string) => string;
}

export function userKeys(namespace: string, userId: string): UserKeys {
  const p = `${namespace}:{u:${userId}}`;
  return {
    seq: `${p}:seq`,
    done: `${p}:done`,
    lease: `${p}:lease`,
    pending: `${p}:pending`,
    history: `${p}:history`,
    historyMeta: `${p}:history-meta`,
    idempotency: (key) => `${p}:idem:${key}`,
    scratchpad: (turnId) => `${p}:scratch:${turnId}`,
    interrupt: `${p}:interrupt`,
    cancel: (turnId) => `${p}:cancel:${turnId}`,
    events: (turnId) => `${p}:events:${turnId}`,
    profile: `${p}:profile`,
    recordPrefix: `${p}:turn:`,
    record: (turnId) => `${p}:turn:${turnId}`,
  };
}

/** turnId -> userId, so a turn record can be found from its id alone. */
export function turnOwnerKey(namespace: string, turnId: string): string {
  return `${namespace}:turn-owner:{${turnId}}`;
}

/** The pub/sub channel on which API key revocations reach every gateway of the namespace. */
export function apiKeyRevocationsChannel(namespace: string): string {
  return `${namespace}:api-key-revoked`;
}

export function partitionQueueName(partition: number): string {
  return `agent.p${partition}`;
}

/** BullMQ prefix of a partition queue: its own hash tag, so partitions spread over cluster shards. */
export function partitionQueuePrefix(namespace: string, partition: number): string {
  return `${namespace}:{${partitionQueueName(partition)}}`;
}

/**
 * The review queues: `review.runs` (a run's start job and the parent of its flow) and
 * `review.docs` (one child per document, or per document and group of items). A flow's children
 * update their parent's keys when they finish, so both queues share one hash tag, `{review}`, and
 * live in one Redis Cluster slot (BullMQ's Lua scripts touch parent and child together).
 */
export const REVIEW_QUEUES = { runs: 'review.runs', docs: 'review.docs' } as const;

/** BullMQ prefix of both review queues: one hash tag for the pair, see {@link REVIEW_QUEUES}. */
export function reviewQueuePrefix(namespace: string): string {
  return `${namespace}:{review}`;
}

/** Redis keys of one review run, in the run's own slot `{r:<runId>}`. */
export interface ReviewKeys {
  /** The run's progress events (a stream), read by `GET /v1/reviews/:id/events`. */
  events: string;
}

export function reviewKeys(namespace: string, runId: string): ReviewKeys {
  return { events: `${namespace}:{r:${runId}}:events` };
}

/**
 * The users of a partition who may have turns pending: a sorted set (userId -> a mark bumped at
 * every accept) in the partition queue's hash slot, which the recovery sweep scans and prunes.
 */
export function pendingUsersKey(namespace: string, partition: number): string {
  return `${partitionQueuePrefix(namespace, partition)}:pending-users`;
}

/** The lock that lets one worker at a time sweep for users whose turns were left behind. */
export function recoverySweepLockKey(namespace: string): string {
  return `${namespace}:recovery-sweep-lock`;
}
