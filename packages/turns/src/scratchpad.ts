import { userKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';
import { scripts } from './lua.ts';

const TTL_SECONDS = 24 * 3600;

/**
 * Per-turn checkpoints in Redis: what a step produced is written before the step counts as done,
 * so a redelivered turn resumes from there instead of repeating the work. `TurnGate.begin` hands
 * the checkpoints back; `TurnGate.commit` deletes them.
 */
export class Scratchpad {
  readonly #redis: Redis;
  readonly #namespace: string;

  constructor(opts: { redis: Redis; namespace: string }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
  }

  async save(userId: string, turnId: string, field: string, value: string): Promise<void> {
    const key = userKeys(this.#namespace, userId).scratchpad(turnId);
    await scripts.checkpointSave.run(this.#redis, [key], [field, value, TTL_SECONDS]);
  }
}
