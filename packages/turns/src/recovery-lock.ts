import { randomUUID } from 'node:crypto';
import { RedisStore, recoverySweepLockKey } from '@agent-fleet/core';
import { scripts } from './lua.ts';

/**
 * The lock that lets one process at a time sweep for stranded turns. Taken for `ttlMs` (a process
 * that dies holding it delays the next sweep by that much at most) and released when the sweep ends.
 */
export class RecoveryLock extends RedisStore {
  readonly #key = recoverySweepLockKey(this.namespace);

  /** The token to release it with, or null when another process holds it. */
  async take(ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    return (await this.redis.set(this.#key, token, 'PX', ttlMs, 'NX')) === 'OK' ? token : null;
  }

  async release(token: string): Promise<void> {
    await scripts.lockRelease.run(this.redis, [this.#key], [token]);
  }
}
