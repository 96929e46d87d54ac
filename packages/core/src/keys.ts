import { CLUSTER_SLOTS, keySlot } from './key-slot.ts';

/**
 * Every Redis key the fleet writes, in one place. Per-user keys share the hash tag `{u:<userId>}`
 * and each partition queue has its own tag (`partitionHashTag`), so every Lua script touches one
 * slot and the layout works unchanged on Redis Cluster. A user's *hot state* ({@link hotStateKeys})
 * expires HOT_STATE_TTL after their last turn finished with nothing else pending, and is
 * rebuilt from Postgres by their next turn; every other per-user key expires on its own or is
 * deleted when its turn finishes.
 */
export interface UserKeys {
  /** INCR counter: the last sequence number handed out (hot state). */
  seq: string;
  /** The last sequence number finished (completed or finally failed) (hot state). */
  done: string;
  /** The turn lease: which delivery may run the user's next turn (expires unless renewed). */
  lease: string;
  /** Hash seq -> job payload JSON of accepted turns not yet finished (empty, so gone, when idle). */
  pending: string;
  /** Conversation history list (JSON messages), trimmed to a budget (hot state). */
  history: string;
  /** Hash with the last seq appended to the history, its tokens, the summary (hot state). */
  historyMeta: string;
  /** Idempotency-Key -> "turnId seq" (IDEMPOTENCY_TTL_SECONDS). */
  idempotency: (key: string) => string;
  /** Per-turn scratchpad: step checkpoints of a running turn (deleted at commit, a day at most). */
  scratchpad: (turnId: string) => string;
  /** The seq of the newest message sent with the `interrupt` strategy (hot state). */
  interrupt: string;
  /** Set when someone asked to cancel the turn; checked when it starts and between its steps (a day). */
  cancel: (turnId: string) => string;
  /** A turn's event stream (status, steps, tokens, done), read by `GET /v1/turns/:id/events` (an hour). */
  events: (turnId: string) => string;
  /** The user's profile as cached from Postgres (JSON; `null` when the user has none; minutes). */
  profile: string;
  /** Prefix of turn records: the record of a turn is `recordPrefix + turnId`. */
  recordPrefix: string;
  /**
   * The status record of one turn (kept in the user's slot, so the turn's Lua steps update it;
   * TURN_RECORD_TTL_SECONDS).
   */
  record: (turnId: string) => string;
  /** The user's tenant, as the profile resolved it last: what quotas and fairness count the user under. */
  tenant: string;
  /** Hash `day`, `month`: the user's own token budgets (absent: the tenant's per-user ones). */
  quota: string;
  /** Tokens the user used in one window (`WindowSpan.id`), see {@link QuotaKeys}. */
  used: (windowId: string) => string;
  /** Tokens held by the user's model calls in flight (hash id -> tokens, `_total`). */
  held: string;
  /** When each hold lapses unless settled (sorted set id -> epoch ms). */
  heldExpiry: string;
}

/** The keys of one budget holder (a tenant or a user), in its own slot: what the quota scripts take. */
export interface QuotaKeys {
  /** Hash of the holder's limits (`day`, `month`; a tenant's also `weight`, `userDay`, …). */
  limits: string;
  used: (windowId: string) => string;
  held: string;
  heldExpiry: string;
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
    tenant: `${p}:tenant`,
    quota: `${p}:quota`,
    used: (windowId) => `${p}:used:${windowId}`,
    held: `${p}:held`,
    heldExpiry: `${p}:held-expiry`,
  };
}

/**
 * The keys of a user's hot state: what their turns need between them and what expires together
 * once the user is idle (kept alive while any turn of theirs is pending).
 */
export function hotStateKeys(k: UserKeys): string[] {
  return [k.seq, k.done, k.history, k.historyMeta, k.interrupt];
}

/**
 * A tenant's keys, in the tenant's own slot `{t:<tenant>}`: its quota (weight, budgets) as synced
 * from Postgres, and its budget counters. Per-tenant counters never share a slot with a user's, so
 * a check spanning both is two scripts (see `QuotaBook`).
 */
export function tenantKeys(namespace: string, tenant: string): QuotaKeys {
  const p = `${namespace}:{t:${tenant}}`;
  return {
    limits: `${p}:quota`,
    used: (windowId) => `${p}:used:${windowId}`,
    held: `${p}:held`,
    heldExpiry: `${p}:held-expiry`,
  };
}

/** A user's budget keys in the shape the quota scripts take. */
export function userQuotaKeys(namespace: string, userId: string): QuotaKeys {
  const k = userKeys(namespace, userId);
  return { limits: k.quota, used: k.used, held: k.held, heldExpiry: k.heldExpiry };
}

/** turnId -> userId, so a turn record can be found from its id alone. */
export function turnOwnerKey(namespace: string, turnId: string): string {
  return `${namespace}:turn-owner:{${turnId}}`;
}

/** The pub/sub channel on which quota events (a budget's soft threshold crossed) are announced. */
export function quotaEventsChannel(namespace: string): string {
  return `${namespace}:quota-events`;
}

/** The pub/sub channel on which API key revocations reach every gateway of the namespace. */
export function apiKeyRevocationsChannel(namespace: string): string {
  return `${namespace}:api-key-revoked`;
}

export function partitionQueueName(partition: number): string {
  return `agent.p${partition}`;
}

/** Partition i's point in [0, 1): the van der Corput sequence 0, 1/2, 1/4, 3/4, 1/8, 5/8, ... */
function spreadPoint(partition: number): number {
  let point = 0;
  for (let n = partition, weight = 0.5; n > 0; n >>= 1, weight /= 2) if (n & 1) point += weight;
  return point;
}

/** How far past its point a partition's slot may land: 1/64 of the slot space. */
const TAG_WINDOW = CLUSTER_SLOTS / 64;
const hashTags = new Map<number, string>();

/**
 * The hash tag of a partition queue: `agent.pN`, or `agent.pN~k` with the smallest k that puts its
 * slot within 1/64 of the slot space after the partition's point of the van der Corput sequence.
 * The first P partitions are then spread evenly over the slot space, whatever P (exactly when P is
 * a power of two), so on a cluster whose masters serve equal ranges of slots (as
 * `redis-cli --cluster create` assigns them) every master holds its share of the partitions.
 * The plain tags `agent.p0..p7` would put four of the eight default partitions on one of three
 * masters. The tag of a partition never depends on P.
 */
export function partitionHashTag(partition: number): string {
  let tag = hashTags.get(partition);
  if (tag !== undefined) return tag;
  const from = Math.floor(spreadPoint(partition) * CLUSTER_SLOTS);
  const name = partitionQueueName(partition);
  for (let k = 0; tag === undefined; k++) {
    const candidate = k === 0 ? name : `${name}~${k}`;
    if ((keySlot(candidate) - from + CLUSTER_SLOTS) % CLUSTER_SLOTS < TAG_WINDOW) tag = candidate;
  }
  hashTags.set(partition, tag);
  return tag;
}

/** BullMQ prefix of a partition queue: its own hash tag, so partitions spread over cluster shards. */
export function partitionQueuePrefix(namespace: string, partition: number): string {
  return `${namespace}:{${partitionHashTag(partition)}}`;
}

/**
 * The fair queue's state of a partition (virtual time, each tenant's finish tag, the priority base),
 * under the partition queue's prefix so it shares the queue's hash tag and slot.
 */
export function fairQueueKey(namespace: string, partition: number): string {
  return `${partitionQueuePrefix(namespace, partition)}:fair`;
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

/**
 * A worker's heartbeat (JSON, see `workerHeartbeatSchema`), expiring a few seconds after the
 * worker stops writing it; each in a slot of its own, read one by one from the index below.
 */
export function workerHeartbeatKey(namespace: string, workerId: string): string {
  return `${namespace}:worker:{${workerId}}`;
}

/** The workers that wrote a heartbeat: a sorted set, workerId -> when its heartbeat expires (ms). */
export function workerHeartbeatsKey(namespace: string): string {
  return `${namespace}:workers`;
}

/** What the last recovery sweep found (JSON, see `recoveryReportSchema`). */
export function recoveryReportKey(namespace: string): string {
  return `${namespace}:recovery-sweep-report`;
}
