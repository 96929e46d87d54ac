import { partitionOf, pendingUsersKey, type RedisPlace, RedisStore } from '@agent-fleet/core';
import { scripts } from './lua.ts';

/** A user found in the index, with the mark to forget them by. */
export interface IndexedUser {
  userId: string;
  mark: string;
}

/**
 * The users who may have turns pending, one sorted set per partition (in the partition queue's hash
 * slot, so it works unchanged on Redis Cluster). Every accept notes its user before the turn exists;
 * the recovery sweep scans each partition's set and forgets a user once nothing of theirs is
 * pending, unless a turn was accepted since it looked. So the index holds every user with a pending
 * turn, and grows with users in flight rather than with all users ever seen.
 */
export class PendingUsers extends RedisStore {
  readonly #partitions: number;

  constructor(opts: RedisPlace & { partitions: number }) {
    super(opts);
    this.#partitions = opts.partitions;
  }

  get partitions(): number {
    return this.#partitions;
  }

  /** Note that a turn of `userId` is being accepted (bumps their mark). */
  async note(userId: string): Promise<void> {
    await this.redis.zincrby(this.#key(partitionOf(userId, this.#partitions)), 1, userId);
  }

  /** One page of a partition's users from `cursor` ('0' to start); the next cursor is '0' at the end. */
  async scan(
    partition: number,
    cursor: string,
    count = 256,
  ): Promise<{ cursor: string; users: IndexedUser[] }> {
    const [next, flat] = await this.redis.zscan(this.#key(partition), cursor, 'COUNT', count);
    const users: IndexedUser[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) users.push({ userId: flat[i]!, mark: flat[i + 1]! });
    return { cursor: next, users };
  }

  /** Forget `user` when their mark is still the one read; false when a turn was accepted since. */
  async forget(partition: number, user: IndexedUser): Promise<boolean> {
    const gone = await scripts.pendingUsersForget.run(
      this.redis,
      [this.#key(partition)],
      [user.userId, user.mark],
    );
    return gone === 1;
  }

  #key(partition: number): string {
    return pendingUsersKey(this.namespace, partition);
  }
}
