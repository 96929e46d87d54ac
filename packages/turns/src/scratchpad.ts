import { RedisStore, userKeys } from '@agent-fleet/core';
import { scripts } from './lua.ts';

const TTL_SECONDS = 24 * 3600;

/**
 * Per-turn checkpoints in Redis, one hash per turn: what a step produced is written before the
 * step counts as done, so a redelivered turn resumes from there instead of repeating the work.
 * `TurnGate.begin` hands the hash back; `TurnGate.commit` deletes it. The fields and their
 * encoding belong to the worker's checkpoint codec; this class only stores them.
 */
export class Scratchpad extends RedisStore {
  /** The turn's hash as it is now (what a delivery resuming after an outage starts from). */
  async load(userId: string, turnId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(userKeys(this.namespace, userId).scratchpad(turnId));
  }

  /** Write `fields` into the turn's hash in one round trip (none when there is nothing to write). */
  async save(userId: string, turnId: string, fields: Readonly<Record<string, string>>): Promise<void> {
    const pairs = Object.entries(fields).flat();
    if (pairs.length === 0) return;
    const key = userKeys(this.namespace, userId).scratchpad(turnId);
    await scripts.checkpointSave.run(this.redis, [key], [TTL_SECONDS, ...pairs]);
  }
}
