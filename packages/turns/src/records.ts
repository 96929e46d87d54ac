import { type TurnStatus, turnKey } from '@agent-fleet/core';
import type { Redis } from 'ioredis';
import { scripts } from './lua.ts';

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
  attempts: number;
}

const STATUSES: readonly TurnStatus[] = ['queued', 'running', 'completed', 'failed'];

/**
 * Turn records in Redis (the hot copy; the transcript in Postgres is the durable one). A record
 * never leaves a final status, so a late redelivery cannot make a completed turn look running.
 */
export class TurnRecords {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #ttlSeconds: number;

  constructor(opts: { redis: Redis; namespace: string; ttlSeconds: number }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#ttlSeconds = opts.ttlSeconds;
  }

  /**
   * Write the record of a newly accepted turn in one round trip. With `ifMissing` (replays and
   * repairs) an existing record is left as it is.
   */
  async create(
    r: { turnId: string; userId: string; seq: number; threadId?: string; enqueuedAt: number },
    opts: { ifMissing?: boolean } = {},
  ): Promise<void> {
    const key = turnKey(this.#namespace, r.turnId);
    const fields: Record<string, string> = {
      turnId: r.turnId,
      userId: r.userId,
      seq: String(r.seq),
      enqueuedAt: String(r.enqueuedAt),
      attempts: '0',
    };
    if (r.threadId) fields.threadId = r.threadId;
    if (opts.ifMissing && (await this.#redis.hsetnx(key, 'status', 'queued')) === 0) return;
    fields.status = 'queued';
    await this.#redis.multi().hset(key, fields).expire(key, this.#ttlSeconds).exec();
  }

  async markRunning(turnId: string, startedAt: number): Promise<boolean> {
    const key = turnKey(this.#namespace, turnId);
    const ok = await scripts.turnMark.run(
      this.#redis,
      [key],
      ['running', this.#ttlSeconds, 'startedAt', String(startedAt)],
    );
    if (ok === 1) await this.#redis.hincrby(key, 'attempts', 1);
    return ok === 1;
  }

  async markCompleted(turnId: string, reply: string, completedAt: number): Promise<void> {
    await scripts.turnMark.run(
      this.#redis,
      [turnKey(this.#namespace, turnId)],
      ['completed', this.#ttlSeconds, 'reply', reply, 'completedAt', String(completedAt)],
    );
  }

  async markFailed(turnId: string, error: string, completedAt: number): Promise<void> {
    await scripts.turnMark.run(
      this.#redis,
      [turnKey(this.#namespace, turnId)],
      ['failed', this.#ttlSeconds, 'error', error, 'completedAt', String(completedAt)],
    );
  }

  async get(turnId: string): Promise<TurnRecord | null> {
    const h = await this.#redis.hgetall(turnKey(this.#namespace, turnId));
    if (!h.status || !h.userId) return null;
    const status = STATUSES.find((s) => s === h.status) ?? 'queued';
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return {
      turnId,
      userId: h.userId,
      seq: Number(h.seq),
      status,
      ...(h.threadId ? { threadId: h.threadId } : {}),
      enqueuedAt: Number(h.enqueuedAt),
      ...(h.startedAt ? { startedAt: num(h.startedAt) } : {}),
      ...(h.completedAt ? { completedAt: num(h.completedAt) } : {}),
      ...(h.reply !== undefined ? { reply: h.reply } : {}),
      ...(h.error !== undefined ? { error: h.error } : {}),
      attempts: Number(h.attempts ?? 0),
    };
  }
}
