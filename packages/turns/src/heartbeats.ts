import {
  RedisStore,
  type WorkerHeartbeat,
  workerHeartbeatKey,
  workerHeartbeatSchema,
  workerHeartbeatsKey,
} from '@agent-fleet/core';

/**
 * Worker heartbeats in Redis: each worker writes its own (what it runs, see `workerHeartbeatSchema`)
 * with an expiry, and lists itself in an index scored by that expiry. A worker that dies, SIGKILLed
 * or partitioned away, drops out of `list` once its heartbeat expires; one that stops cleanly
 * removes itself at once. Every key is read on its own, so the layout works on Redis Cluster.
 */
export class WorkerHeartbeats extends RedisStore {
  /** Writes `hb`, valid for `ttlMs` from `hb.at`. */
  async publish(hb: WorkerHeartbeat, ttlMs: number): Promise<void> {
    await Promise.all([
      this.redis.set(workerHeartbeatKey(this.namespace, hb.workerId), JSON.stringify(hb), 'PX', ttlMs),
      this.redis.zadd(workerHeartbeatsKey(this.namespace), hb.at + ttlMs, hb.workerId),
    ]);
  }

  async remove(workerId: string): Promise<void> {
    await Promise.all([
      this.redis.del(workerHeartbeatKey(this.namespace, workerId)),
      this.redis.zrem(workerHeartbeatsKey(this.namespace), workerId),
    ]);
  }

  /** The heartbeats not expired at `now`, by workerId; expired entries leave the index. */
  async list(now = Date.now()): Promise<WorkerHeartbeat[]> {
    const index = workerHeartbeatsKey(this.namespace);
    await this.redis.zremrangebyscore(index, '-inf', now);
    const ids = await this.redis.zrange(index, 0, -1);
    const texts = await Promise.all(ids.map((id) => this.redis.get(workerHeartbeatKey(this.namespace, id))));
    return texts
      .flatMap((text) => {
        if (text === null) return [];
        const parsed = workerHeartbeatSchema.safeParse(JSON.parse(text));
        return parsed.success ? [parsed.data] : [];
      })
      .sort((a, b) => a.workerId.localeCompare(b.workerId));
  }
}
