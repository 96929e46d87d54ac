import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisCluster } from '@agent-fleet/devstack';
import type { TestProject } from 'vitest/node';
import './stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The `e2e-cluster` project's Redis Cluster: 3 masters and 3 replicas of the system's redis-server
 * on free loopback ports (under .fleet/, removed afterwards), started only when that project runs,
 * with a password as production clusters have one. Tests point their fleets at it through
 * REDIS_CLUSTER_NODES (`redisEnv()`), `redis://:<password>@host:port` entries.
 */
export default async function setup(project: TestProject) {
  mkdirSync(join(root, '.fleet'), { recursive: true });
  const dir = mkdtempSync(join(root, '.fleet', 'test-cluster-'));
  const cluster = await startRedisCluster({
    dataDir: dir,
    masters: 3,
    replicasPerMaster: 1,
    password: `test-${randomBytes(6).toString('hex')}`,
    // Tests never SIGKILL these nodes (the failover test runs a cluster of its own).
    appendfsync: 'everysec',
  });
  project.provide('redisCluster', { nodes: cluster.nodeList });
  return async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
