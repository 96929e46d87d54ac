import type { RedisClient } from '@agent-fleet/core';
import type { LlmPool } from '@agent-fleet/llm';
import type { Pool } from 'pg';
import type { DependencyProbe } from './outage-watch.ts';

/** Postgres answers a query (through the worker's own pool, so a pool that cannot connect counts as down). */
export function postgresProbe(pool: Pick<Pool, 'query'>): DependencyProbe {
  return {
    dependency: 'postgres',
    up: async () => {
      await pool.query('SELECT 1');
      return true;
    },
  };
}

/**
 * The worker's Redis connection is ready. Commands wait in ioredis's queue while it reconnects, so
 * a Redis away stalls turns rather than failing them; this tells how long it was away. A cluster
 * client stays ready while one master fails over (its commands are retried until the replica takes
 * over), so this sees only the loss of the whole cluster.
 */
export function redisProbe(redis: Pick<RedisClient, 'status'>): DependencyProbe {
  return { dependency: 'redis', up: async () => redis.status === 'ready' };
}

/**
 * Some LLM server answers its health check now and takes requests. The check runs on demand (a
 * server just back counts at once, not at the pool's next periodic check), and a circuit half-open
 * after its cooldown counts only with a passed check, so the outage is measured from when every
 * server went down, not from the last failed probe request.
 */
export function llmProbe(llm: Pick<LlmPool, 'health' | 'checkHealth'>): DependencyProbe {
  return {
    dependency: 'llm',
    up: async () => {
      await llm.checkHealth();
      return llm.health().servers.some((s) => s.healthy && s.healthCheckOk);
    },
  };
}
