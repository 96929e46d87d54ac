import { randomBytes } from 'node:crypto';
import { clusterTargetOf, isCluster, type RedisClient, type RedisTarget } from '@agent-fleet/core';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: { redisUrl: string; postgresUrl: string; templateDb: string };
    /** Set in the `e2e-cluster` project: the nodes of its Redis Cluster (REDIS_CLUSTER_NODES). */
    redisCluster: { nodes: string } | undefined;
  }
}

/** A key namespace of its own, so tests sharing one Redis never see each other's keys. */
export function freshNamespace(): string {
  return `t-${randomBytes(5).toString('hex')}`;
}

/** A fresh database cloned from the migrated template; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const { postgresUrl, templateDb } = inject('stack');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb}"`);
  } finally {
    await client.end();
  }
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The run's single redis-server (also in the cluster project, for tests that need one server). */
export function redisUrl(): string {
  return inject('stack').redisUrl;
}

/** The Redis Cluster's nodes in the `e2e-cluster` project; undefined elsewhere. */
export function clusterNodes(): string | undefined {
  return inject('redisCluster')?.nodes;
}

/** The environment pointing a fleet process at this project's Redis: the cluster, or the single server. */
export function redisEnv(): { REDIS_URL: string } | { REDIS_CLUSTER_NODES: string } {
  const nodes = clusterNodes();
  return nodes ? { REDIS_CLUSTER_NODES: nodes } : { REDIS_URL: redisUrl() };
}

/** This project's Redis as a target of createRedis. */
export function redisTarget(): RedisTarget {
  const nodes = clusterNodes();
  return nodes ? clusterTargetOf(nodes) : { url: redisUrl() };
}

/** Every key matching `pattern`: KEYS on each master of a cluster (a node holds only its slots' keys). */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  if (!isCluster(redis)) return redis.keys(pattern);
  const perNode = await Promise.all(redis.nodes('master').map((node) => node.keys(pattern)));
  return perNode.flat();
}

/**
 * Commands the cluster's nodes refused with CROSSSLOT (keys of different slots in one command or
 * script) since they started, from INFO errorstats; 0 on a single server, which never refuses them.
 */
export async function crossSlotRefusals(redis: RedisClient): Promise<number> {
  if (!isCluster(redis)) return 0;
  const stats = await Promise.all(redis.nodes('all').map((node) => node.info('errorstats')));
  return stats.reduce((sum, text) => sum + Number(/errorstat_CROSSSLOT:count=(\d+)/.exec(text)?.[1] ?? 0), 0);
}
