import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { apiKeyRevocationsChannel, createRedis, isCluster } from '@agent-fleet/core';
import { startSim } from '@agent-fleet/llm-sim';
import { afterAll, describe, expect, it } from 'vitest';
import { type Io, keysCreate, keysRevoke } from '../packages/cli/src/commands/keys.ts';
import { mapLimit, postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { freshFleetDir, runFleetCli, stopFleetCli } from './support/fleet-cli.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { readSse } from './support/sse.ts';
import { clusterNodes, freshDatabase, freshNamespace, redisTarget } from './support/stack.ts';

/** The fleet on the project's 3-master Redis Cluster (test/support/global-cluster.ts). */
describe('the fleet on a Redis Cluster of 3 masters', () => {
  const { fleet } = useSimFleet({
    sim: { latencyMs: 5 },
    workers: 1,
    env: { LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });

  it('spreads the partition queues 3/3/2 and the users over the masters, as the masters report', async () => {
    expect(clusterNodes()).toMatch(
      /^redis:\/\/:[^@]+@127\.0\.0\.1:\d+(,redis:\/\/:[^@]+@127\.0\.0\.1:\d+){5}$/,
    );
    const redis = fleet.redis;
    if (!isCluster(redis)) throw new Error('the fleet is not on a cluster');
    const users = Array.from({ length: 60 }, (_, i) => `spread-${i}`);
    const turns = await mapLimit(users, 20, (u) => postMessage(fleet.gatewayUrl, u, `hello from ${u}`));
    for (const t of turns) expect((await settledTurn(fleet.gatewayUrl, t.turnId)).status).toBe('completed');

    const masters = redis.nodes('master');
    expect(masters).toHaveLength(3);
    const perMaster = await Promise.all(
      masters.map(async (node) => {
        const queueKeys = await node.keys(`${fleet.namespace}:{agent.p*`);
        const userKeys = await node.keys(`${fleet.namespace}:{u:*`);
        return {
          partitions: new Set(queueKeys.flatMap((k) => /\}:agent\.p(\d+):/.exec(k)?.[1] ?? [])),
          users: new Set(userKeys.map((k) => /\{u:([^}]+)\}/.exec(k)?.[1])),
        };
      }),
    );
    // Each partition's queue lives on one master, and every master holds its share.
    expect(perMaster.map((m) => m.partitions.size).sort()).toEqual([2, 3, 3]);
    expect(new Set(perMaster.flatMap((m) => [...m.partitions])).size).toBe(8);
    expect(perMaster.reduce((n, m) => n + m.users.size, 0)).toBe(users.length);
    for (const m of perMaster) expect(m.users.size).toBeGreaterThanOrEqual(10);
  });

  it("streams a turn's events over SSE and shows every partition queue in Bull Board", async () => {
    const { turnId } = await postMessage(fleet.gatewayUrl, 'sse-user', 'stream this answer please');
    const events = await readSse(await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/events`));
    expect(events.map((e) => e.event)).toContain('token');
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { status: 'completed' } });

    const board = await fetch(`${fleet.gatewayUrl}/admin/queues/api/queues`);
    expect(board.status).toBe(200);
    const { queues } = (await board.json()) as { queues: { name: string; counts: Record<string, number> }[] };
    const partitions = queues.filter((q) => q.name.startsWith('agent.p'));
    expect(partitions.map((q) => q.name).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `agent.p${i}`));
    const completed = partitions.reduce((n, q) => n + (q.counts.completed ?? 0), 0);
    expect(completed).toBeGreaterThanOrEqual(61);
  });
});

describe('fleet keys revoke with REDIS_CLUSTER_NODES', () => {
  it('announces the revocation on the cluster, where every gateway subscribed hears it', async () => {
    const namespace = freshNamespace();
    const subscriber = createRedis(redisTarget(), { role: 'subscriber' });
    const heard: string[] = [];
    subscriber.on('message', (channel: string, id: string) => heard.push(`${channel} ${id}`));
    await subscriber.subscribe(apiKeyRevocationsChannel(namespace));
    try {
      const lines: string[] = [];
      const io: Io = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
      const env = {
        DATABASE_URL: await freshDatabase(),
        REDIS_CLUSTER_NODES: clusterNodes()!,
        FLEET_NAMESPACE: namespace,
      };
      await keysCreate({ name: 'leaked', scopes: ['turns:read'] }, io, env);
      const id = lines[0]!.split('_')[1]!;
      expect(await keysRevoke(id, io, env)).toBe(0);
      await expect.poll(() => heard).toEqual([`${apiKeyRevocationsChannel(namespace)} ${id}`]);
      expect(await keysRevoke(id, io, { ...env, REDIS_CLUSTER_NODES: '127.0.0.1' })).toBe(1);
      expect(lines.at(-1)).toMatch(/REDIS_CLUSTER_NODES: "127.0.0.1" is not host:port/);
    } finally {
      subscriber.disconnect();
    }
  });
});

describe('fleet start with REDIS_CLUSTER_NODES', () => {
  const fleetDir = freshFleetDir('start-cluster');
  let sim: Awaited<ReturnType<typeof startSim>>;
  let fleet: ChildProcess | undefined;
  let output = () => '';

  afterAll(async () => {
    await stopFleetCli(fleet, 30_000);
    await sim?.close();
    rmSync(fleetDir, { recursive: true, force: true });
  });

  it('runs the fleet on the cluster and starts no redis-server of its own', async () => {
    sim = await startSim({ latencyMs: 5, engine: { timeScale: 0 } });
    const cli = runFleetCli(['--workers', '1'], {
      FLEET_DIR: fleetDir,
      REDIS_CLUSTER_NODES: clusterNodes()!,
      DATABASE_URL: await freshDatabase(),
      LLM_BASE_URLS: sim.url,
      FLEET_NAMESPACE: freshNamespace(),
      AUTH_MODE: 'off',
      HOST: '127.0.0.1',
      PORT: '0',
    });
    ({ child: fleet, output } = cli);
    await cli.untilUp(100_000);
    // The nodes, without the password the entries carry.
    const nodes = clusterNodes()!.replace(/redis:\/\/:[^@]*@/g, '');
    expect(output()).toContain(`Redis       cluster ${nodes}   (external)`);
    expect(output()).not.toMatch(/redis:\/\/:/);
    expect(existsSync(join(fleetDir, 'redis'))).toBe(false);
    const gatewayUrl = `http://127.0.0.1:${output().match(/gateway {5}http:\/\/localhost:(\d+)/)![1]}`;
    const { turnId } = await postMessage(gatewayUrl, 'alice', 'How long do we keep KYC records?');
    expect((await settledTurn(gatewayUrl, turnId, 30_000)).status).toBe('completed');

    process.kill(-fleet.pid!, 'SIGINT');
    await waitFor(async () => fleet!.exitCode !== null, { timeoutMs: 30_000, describe: () => output() });
    expect(fleet.exitCode).toBe(0);
  });
});
