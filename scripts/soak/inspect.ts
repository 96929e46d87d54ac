import { setTimeout as sleep } from 'node:timers/promises';
import { type HistoryMessage, type TurnJob, userKeys } from '@agent-fleet/core';
import { createPool } from '@agent-fleet/state';
import { decodePending, PartitionQueues, type TurnRecord, TurnRecords } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import type { Ledger } from './ledger.ts';

/** One row of `turns` with its messages, as Postgres holds it. */
export interface TranscriptRow {
  turnId: string;
  userId: string;
  seq: number;
  status: string;
  error: string | null;
  enqueuedAt: number;
  startedAt: number | null;
  completedAt: number;
  /** The user message (the first `user` message of the turn), or null when the turn has none. */
  userText: string | null;
  /** The last `assistant` message, or null. */
  reply: string | null;
}

/** A user's turn gate and hot history in Redis. */
export interface UserState {
  userId: string;
  /** The last seq handed out, and the last one finished. */
  seq: number;
  done: number;
  lease: string | null;
  leaseTtlMs: number;
  /** Accepted turns not finished yet, as kept for the gate (by seq). */
  pending: TurnJob[];
  history: HistoryMessage[];
}

/** What the fleet holds once the drain is over: the transcript, the turn records and every user's gate. */
export interface FleetView {
  rows: TranscriptRow[];
  /** The Redis record of each accepted turn (missing: Redis does not know the turn). */
  records: Map<string, TurnRecord>;
  users: Map<string, UserState>;
}

/** A turn's BullMQ job, to explain a turn that did not finish. */
export interface JobState {
  state: string;
  attemptsMade: number;
  failedReason?: string;
  /** When a delayed job is due (epoch ms). */
  dueAt?: number;
}

export interface InspectTarget {
  redisUrl: string;
  databaseUrl: string;
  namespace: string;
  partitions: number;
}

/** Reads everything the verdict needs, retrying while a service that was just restarted is not back. */
export async function readFleetView(target: InspectTarget, ledger: Ledger): Promise<FleetView> {
  return withConnections(target, async (redis, pool) => {
    const rows = await retrying(() => readTranscript(pool));
    const records = new TurnRecords({ redis, namespace: target.namespace, ttlSeconds: 60 });
    const accepted = ledger.entries.filter((e) => e.state === 'accepted');
    const found = await retrying(() => Promise.all(accepted.map((e) => records.get(e.turnId!))));
    const users = await retrying(() =>
      Promise.all(ledger.users().map((u) => readUser(redis, target.namespace, u))),
    );
    return {
      rows,
      records: new Map(found.flatMap((r) => (r ? [[r.turnId, r] as const] : []))),
      users: new Map(users.map((u) => [u.userId, u])),
    };
  });
}

/**
 * The turns among `turnIds` that Redis has no record of, asked over a fresh connection (retrying
 * while a restarted redis-server still loads its AOF): after a SIGKILL there should be none.
 */
export async function unknownTurns(target: InspectTarget, turnIds: readonly string[]): Promise<string[]> {
  return withConnections(target, async (redis) => {
    const records = new TurnRecords({ redis, namespace: target.namespace, ttlSeconds: 60 });
    const found = await retrying(() => Promise.all(turnIds.map((id) => records.get(id))));
    return turnIds.filter((_, i) => !found[i]);
  });
}

/** The BullMQ job of each turn, by turn id (`missing` when the queue has no job of that id). */
export async function readJobs(
  target: InspectTarget,
  turns: readonly { userId: string; turnId: string }[],
): Promise<Map<string, JobState>> {
  if (turns.length === 0) return new Map();
  return withConnections(target, async (redis) => {
    const partitions = new PartitionQueues({
      connection: redis,
      namespace: target.namespace,
      partitions: target.partitions,
      policy: { attempts: 1, backoffMs: 0 },
    });
    try {
      const states = await retrying(() =>
        Promise.all(turns.map(async (t) => jobState(await partitions.getJob(t.userId, t.turnId)))),
      );
      return new Map(turns.map((t, i) => [t.turnId, states[i]!]));
    } finally {
      await partitions.close();
    }
  });
}

async function jobState(job: Awaited<ReturnType<PartitionQueues['getJob']>>): Promise<JobState> {
  if (!job) return { state: 'missing', attemptsMade: 0 };
  const state = await job.getState();
  return {
    state,
    attemptsMade: job.attemptsMade,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    ...(state === 'delayed' ? { dueAt: job.timestamp + job.delay } : {}),
  };
}

async function readTranscript(pool: ReturnType<typeof createPool>): Promise<TranscriptRow[]> {
  const res = await pool.query<{
    turn_id: string;
    user_id: string;
    seq: string;
    status: string;
    error: string | null;
    enq: number;
    st: number | null;
    fin: number;
    user_text: string | null;
    reply: string | null;
  }>(
    `SELECT t.turn_id, t.user_id, t.seq, t.status, t.error,
            extract(epoch FROM t.enqueued_at) * 1000 AS enq, extract(epoch FROM t.started_at) * 1000 AS st,
            extract(epoch FROM t.completed_at) * 1000 AS fin,
            (SELECT content FROM messages m WHERE m.turn_id = t.turn_id AND m.role = 'user'
              ORDER BY idx LIMIT 1) AS user_text,
            (SELECT content FROM messages m WHERE m.turn_id = t.turn_id AND m.role = 'assistant'
              ORDER BY idx DESC LIMIT 1) AS reply
     FROM turns t ORDER BY t.user_id, t.seq, t.completed_at`,
  );
  return res.rows.map((r) => ({
    turnId: r.turn_id,
    userId: r.user_id,
    seq: Number(r.seq),
    status: r.status,
    error: r.error,
    enqueuedAt: Math.round(Number(r.enq)),
    startedAt: r.st === null ? null : Math.round(Number(r.st)),
    completedAt: Math.round(Number(r.fin)),
    userText: r.user_text,
    reply: r.reply,
  }));
}

async function readUser(redis: Redis, namespace: string, userId: string): Promise<UserState> {
  const k = userKeys(namespace, userId);
  const [seq, done, lease, ttl, pending, history] = await Promise.all([
    redis.get(k.seq),
    redis.get(k.done),
    redis.get(k.lease),
    redis.pttl(k.lease),
    redis.hgetall(k.pending),
    redis.lrange(k.history, 0, -1),
  ]);
  return {
    userId,
    seq: Number(seq ?? 0),
    done: Number(done ?? 0),
    lease,
    leaseTtlMs: ttl,
    pending: Object.entries(pending)
      .map(([s, payload]) => decodePending(Number(s), payload))
      .sort((a, b) => a.seq - b.seq),
    history: history.map((m) => JSON.parse(m) as HistoryMessage),
  };
}

async function withConnections<T>(
  target: InspectTarget,
  fn: (redis: Redis, pool: ReturnType<typeof createPool>) => Promise<T>,
): Promise<T> {
  const redis = new Redis(target.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const pool = createPool(target.databaseUrl, 2);
  try {
    return await fn(redis, pool);
  } finally {
    await pool.end();
    redis.disconnect();
  }
}

/** Tries `fn` again for up to 30 s: the drain may end while a service is still coming back. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}
