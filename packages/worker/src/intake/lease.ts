import { randomUUID } from 'node:crypto';
import { LuaScript, type RedisClient } from '@agent-fleet/core';
import { scripts } from '@agent-fleet/turns';

const leaseHold = new LuaScript(new URL('./lease-hold-1.lua', import.meta.url));

/** What holding the lease found: still ours, newly ours (a takeover), or another process's. */
export type LeaseState = 'renewed' | 'taken' | 'held-elsewhere';
const STATES: Record<number, LeaseState> = { 0: 'held-elsewhere', 1: 'renewed', 2: 'taken' };

/**
 * The lease that makes one process at a time the intake consumer. Each hold renews it for `ttlMs`;
 * a holder that dies is replaced once the lease expires.
 */
export class IntakeLease {
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #ttlMs: number;
  readonly token = randomUUID();

  constructor(opts: { redis: RedisClient; key: string; ttlMs: number }) {
    this.#redis = opts.redis;
    this.#key = opts.key;
    this.#ttlMs = opts.ttlMs;
  }

  async hold(): Promise<LeaseState> {
    const reply = (await leaseHold.run(this.#redis, [this.#key], [this.token, this.#ttlMs])) as number;
    return STATES[reply] ?? 'held-elsewhere';
  }

  async release(): Promise<void> {
    await scripts.lockRelease.run(this.#redis, [this.#key], [this.token]);
  }
}
