import {
  isFinalStatus,
  isTurnStatus,
  type RedisPlace,
  RedisStore,
  type TokenUsage,
  type TurnJob,
  type TurnResult,
  type TurnStatus,
  type TurnTimings,
  turnOwnerKey,
  turnTimingsSchema,
  turnUsageOf,
  USAGE_KINDS,
  type UsageKind,
  type UsageLine,
  userKeys,
} from '@agent-fleet/core';

/** The status of one turn as `GET /v1/turns/:turnId` reports it. */
export interface TurnRecord {
  turnId: string;
  userId: string;
  seq: number;
  status: TurnStatus;
  threadId?: string;
  enqueuedAt: number;
  startedAt?: number;
  completedAt?: number;
  reply?: string;
  error?: string;
  citations?: unknown[];
  attempts: number;
  /** Where the time went, written by the worker once the turn is committed. */
  timings?: TurnTimings;
  /** What the servers reported for the turn's calls so far, per kind of call and model. */
  usage?: UsageLine[];
}

// A turn's usage is kept in its record as one counter per kind of call, model and number:
// `u|<kind>|<model>|p` (prompt), `|c` (completion), `|k` (cached), `|n` (calls). Models never hold `|`.
const USAGE_FIELD = /^u\|([a-z]+)\|(.+)\|([pckn])$/;

/** The record increments of `calls` calls of `kind` to `model` that used `usage`. */
export function usageIncrements(
  kind: UsageKind,
  model: string,
  usage: TokenUsage,
  calls = 1,
): [string, number][] {
  const f = (x: string) => `u|${kind}|${model}|${x}`;
  return [
    [f('p'), usage.promptTokens],
    [f('c'), usage.completionTokens],
    [f('k'), usage.cachedTokens],
    [f('n'), calls],
  ];
}

/** The usage lines a record's fields hold. */
export function usageLinesOf(fields: Readonly<Record<string, string>>): UsageLine[] {
  const lines = new Map<string, UsageLine>();
  for (const [name, value] of Object.entries(fields)) {
    const m = USAGE_FIELD.exec(name);
    if (!m || !(USAGE_KINDS as readonly string[]).includes(m[1]!)) continue;
    const kind = m[1] as UsageKind;
    const model = m[2]!;
    const id = `${kind}|${model}`;
    const line = lines.get(id) ?? {
      kind,
      model,
      promptTokens: 0,
      completionTokens: 0,
      cachedTokens: 0,
      calls: 0,
    };
    const n = Number(value);
    if (m[3] === 'p') line.promptTokens = n;
    else if (m[3] === 'c') line.completionTokens = n;
    else if (m[3] === 'k') line.cachedTokens = n;
    else line.calls = n;
    lines.set(id, line);
  }
  return [...lines.values()];
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * The public shape of a hot record (`GET /v1/turns/:turnId`, the SDK's `getTurn`): the reply and
 * citations once completed, the error once it ended otherwise, times as ISO strings.
 */
export function toTurnResult(hot: TurnRecord): TurnResult {
  const completed = hot.status === 'completed';
  return {
    turnId: hot.turnId,
    userId: hot.userId,
    seq: hot.seq,
    status: hot.status,
    ...(hot.threadId ? { threadId: hot.threadId } : {}),
    enqueuedAt: iso(hot.enqueuedAt),
    ...(hot.startedAt !== undefined ? { startedAt: iso(hot.startedAt) } : {}),
    ...(hot.completedAt !== undefined ? { completedAt: iso(hot.completedAt) } : {}),
    ...(completed && hot.reply !== undefined ? { reply: hot.reply } : {}),
    ...(!completed && isFinalStatus(hot.status) && hot.error !== undefined ? { error: hot.error } : {}),
    ...(completed ? { citations: hot.citations ?? [] } : {}),
    attempts: hot.attempts,
    ...(hot.timings ? { timings: hot.timings } : {}),
    ...(hot.usage?.length ? { usage: turnUsageOf(hot.usage) } : {}),
  };
}

/**
 * Turn records in Redis, the hot copy (the transcript in Postgres is the durable one). A record
 * lives in its user's slot, where the accept, begin and commit scripts write it; a small owner key
 * finds it from the turn id alone.
 */
export class TurnRecords extends RedisStore {
  readonly #ttlSeconds: number;

  constructor(opts: RedisPlace & { ttlSeconds: number }) {
    super(opts);
    this.#ttlSeconds = opts.ttlSeconds;
  }

  /** Remember whose turn `turnId` is (idempotent). */
  async setOwner(turnId: string, userId: string): Promise<void> {
    await this.redis.set(turnOwnerKey(this.namespace, turnId), userId, 'EX', this.#ttlSeconds);
  }

  /** Whose turn `turnId` is, or null when unknown (never accepted, or its record expired). */
  async owner(turnId: string): Promise<string | null> {
    return this.redis.get(turnOwnerKey(this.namespace, turnId));
  }

  /** Recreate the record of a turn whose producer died before writing it; an existing one is kept. */
  async ensure(job: TurnJob): Promise<void> {
    const key = userKeys(this.namespace, job.userId).record(job.turnId);
    if ((await this.redis.hsetnx(key, 'status', 'queued')) === 1) {
      await this.redis
        .multi()
        .hset(key, {
          seq: job.seq,
          enqueuedAt: job.enqueuedAt,
          attempts: 0,
          ...(job.threadId ? { threadId: job.threadId } : {}),
        })
        .expire(key, this.#ttlSeconds)
        .exec();
    }
    await this.setOwner(job.turnId, job.userId);
  }

  /** How many times recovery ran this turn's failed job again (0 when never). */
  async recoveries(userId: string, turnId: string): Promise<number> {
    return Number(
      (await this.redis.hget(userKeys(this.namespace, userId).record(turnId), 'recoveries')) ?? 0,
    );
  }

  /** Count one more recovery of the turn; returns how many there have been. */
  async addRecovery(userId: string, turnId: string): Promise<number> {
    return this.redis.hincrby(userKeys(this.namespace, userId).record(turnId), 'recoveries', 1);
  }

  async get(turnId: string): Promise<TurnRecord | null> {
    const userId = await this.redis.get(turnOwnerKey(this.namespace, turnId));
    if (!userId) return null;
    const h = await this.redis.hgetall(userKeys(this.namespace, userId).record(turnId));
    const status = h.status;
    if (!isTurnStatus(status) || h.seq === undefined) return null;
    const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
    return {
      turnId,
      userId,
      seq: Number(h.seq),
      status,
      ...(h.threadId ? { threadId: h.threadId } : {}),
      enqueuedAt: Number(h.enqueuedAt),
      ...(h.startedAt ? { startedAt: num(h.startedAt) } : {}),
      ...(h.completedAt ? { completedAt: num(h.completedAt) } : {}),
      ...(h.reply !== undefined ? { reply: h.reply } : {}),
      ...(h.error !== undefined ? { error: h.error } : {}),
      ...(h.citations ? { citations: JSON.parse(h.citations) as unknown[] } : {}),
      attempts: Number(h.attempts ?? 0),
      ...timingsOf(h.timings),
      usage: usageLinesOf(h),
    };
  }

  /** The usage a turn's record holds (empty when none, or when the record expired). */
  async usage(userId: string, turnId: string): Promise<UsageLine[]> {
    return usageLinesOf(await this.redis.hgetall(userKeys(this.namespace, userId).record(turnId)));
  }

  /**
   * Put a finished turn's timings on its record. Only after the commit, which has just given the
   * record its expiry (a field set does not change it).
   */
  async setTimings(userId: string, turnId: string, timings: TurnTimings): Promise<void> {
    await this.redis.hset(
      userKeys(this.namespace, userId).record(turnId),
      'timings',
      JSON.stringify(timings),
    );
  }
}

/** The timings field of a record, when it holds timings this version reads. */
function timingsOf(text: string | undefined): { timings?: TurnTimings } {
  if (!text) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {};
  }
  const parsed = turnTimingsSchema.safeParse(json);
  return parsed.success ? { timings: parsed.data } : {};
}
