import { clusterTargetOf, type RedisTarget } from '@agent-fleet/core';
import type { StackFile } from '../stack-file.ts';

/**
 * The fleet's Redis as operator commands reach it: REDIS_CLUSTER_NODES or REDIS_URL, else the
 * running fleet's (a cluster's nodes or a URL); undefined when there is none.
 */
export function fleetRedisTarget(
  env: Record<string, string | undefined>,
  stack: StackFile | null,
): RedisTarget | undefined {
  const nodes = env.REDIS_CLUSTER_NODES ?? (env.REDIS_URL ? undefined : stack?.redisClusterNodes);
  if (nodes) return clusterTargetOf(nodes);
  const url = env.REDIS_URL ?? stack?.redisUrl;
  return url ? { url } : undefined;
}
