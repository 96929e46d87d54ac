import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { keySlot, partitionQueuePrefix } from '@agent-fleet/core';
import { type ClusterNodeView, type RedisClusterHandle, startRedisCluster } from '@agent-fleet/devstack';
import { startSim } from '@agent-fleet/llm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, mapLimit, startTestFleet, type TestFleet, waitFor } from './support/fleet.ts';
import { messageText, verifyStrictOrder } from './support/verify.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** One POST of a message as the client saw it. */
interface Attempt {
  user: string;
  /** When it was sent, in ms after the master was killed (negative: before). */
  at: number;
  ms: number;
  status: number;
}

const servesSlot = (node: ClusterNodeView, slot: number) =>
  node.role === 'master' && node.slots.some(([first, last]) => slot >= first && slot <= last);

/** The p-th percentile of `values`, or null when there are none. */
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ??
  null;

/**
 * A master of a cluster of its own (3 masters, 3 replicas, cluster-node-timeout 2 s) is SIGKILLed
 * while 40 users post 16 messages each; its replica is promoted, the gateway and the workers carry
 * on, and every accepted turn completes once, in each user's order. Clients retry refused posts
 * with the same Idempotency-Key, as the README tells them to. Prints what the clients saw.
 */
describe('failover: a Redis Cluster master SIGKILLed while turns flow', () => {
  const USERS = 40;
  const PER_USER = 16;
  const dir = (() => {
    mkdirSync(join(ROOT, '.fleet'), { recursive: true });
    return mkdtempSync(join(ROOT, '.fleet', 'failover-'));
  })();
  let cluster: RedisClusterHandle;
  let sim: Awaited<ReturnType<typeof startSim>>;
  let fleet: TestFleet;

  beforeAll(async () => {
    cluster = await startRedisCluster({ dataDir: dir, nodeTimeoutMs: 2000, appendfsync: 'everysec' });
    sim = await startSim({ latencyMs: 30, engine: { timeScale: 0 } });
    fleet = await startTestFleet({
      llmUrl: sim.url,
      workers: 3,
      cluster,
      env: {
        ...FAST_RECOVERY_ENV,
        HISTORY_TOKEN_BUDGET: '100000',
        WORKER_CONCURRENCY: '4',
        LOG_LEVEL: 'warn',
      },
    });
    await fleet.workersReady();
  });
  afterAll(async () => {
    await fleet?.stop();
    await sim?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** POSTs message `s` of `user` until it is accepted (202), with the same Idempotency-Key each time. */
  async function send(user: string, s: number, attempts: Attempt[], killedAt: () => number): Promise<void> {
    for (;;) {
      const started = Date.now();
      let status = 0;
      try {
        const res = await fetch(`${fleet.gatewayUrl}/v1/users/${user}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `${user}-${s}` },
          body: JSON.stringify({ text: messageText(user, s) }),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        // the gateway is not reachable: counted as status 0
      }
      attempts.push({ user, at: started - killedAt(), ms: Date.now() - started, status });
      if (status === 202) return;
      await sleep(100);
    }
  }

  it('loses and reorders no accepted turn, and clients are served again once the replica is promoted', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `fo-${i}`);
    const attempts: Attempt[] = [];
    let killedAt = Number.POSITIVE_INFINITY;
    const posting = mapLimit(users, USERS, async (user) => {
      for (let s = 1; s <= PER_USER; s++) {
        await send(user, s, attempts, () => killedAt);
        await sleep(100 + Math.random() * 150);
      }
    });
    const accepted = () => attempts.filter((a) => a.status === 202).length;
    await waitFor(async () => accepted() >= (USERS * PER_USER) / 4, { timeoutMs: 60_000, intervalMs: 20 });

    // The master of partition 0's queue (2 or 3 partitions, and a third of the users, live there).
    const before = await cluster.topology();
    const slot = keySlot(partitionQueuePrefix(fleet.namespace, 0));
    const victim = before.find((n) => servesSlot(n, slot))!;
    const replica = before.find((n) => n.masterId === victim.id)!;
    expect(replica, 'the master has a replica').toBeDefined();
    killedAt = Date.now();
    await cluster.kill(victim.port);
    await waitFor(
      async () => (await cluster.topology()).some((n) => n.port === replica.port && servesSlot(n, slot)),
      {
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );
    const promotedMs = Date.now() - killedAt;
    await posting;
    const doneAt = Date.now();
    await waitFor(
      async () =>
        Number((await fleet.pool.query('SELECT count(*) AS n FROM turns')).rows[0].n) === USERS * PER_USER,
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    await verifyStrictOrder(fleet, users, PER_USER);

    // What the clients saw.
    const refused = attempts.filter((a) => a.status !== 202);
    const after = attempts.filter((a) => a.status === 202 && a.at >= 0);
    const turns = await fleet.pool.query<{ enqueued: number; completed: number; latency: number }>(
      `SELECT extract(epoch from enqueued_at) * 1000 AS enqueued, extract(epoch from completed_at) * 1000 AS completed,
              extract(epoch from completed_at - enqueued_at) * 1000 AS latency FROM turns`,
    );
    const latency = (from: number, to: number) =>
      turns.rows
        .filter((t) => Number(t.enqueued) - killedAt >= from && Number(t.enqueued) - killedAt < to)
        .map((t) => Math.round(Number(t.latency)));
    const report = {
      promotedMs,
      refused: refused.length,
      refusedStatuses: [...new Set(refused.map((a) => a.status))],
      refusedFromMs: Math.min(...refused.map((a) => a.at)),
      refusedUntilMs: Math.max(...refused.map((a) => a.at + a.ms)),
      refusedP50Ms: percentile(
        refused.map((a) => a.ms),
        50,
      ),
      usersRefused: new Set(refused.map((a) => a.user)).size,
      /** Of the posts sent between the kill and the promotion, the share refused. */
      refusedShare: Number(
        (
          refused.filter((a) => a.at >= 0 && a.at < promotedMs).length /
          attempts.filter((a) => a.at >= 0 && a.at < promotedMs).length
        ).toFixed(2),
      ),
      slowestAcceptMs: Math.max(...after.map((a) => a.ms)),
      turnP50MsBefore: percentile(latency(Number.NEGATIVE_INFINITY, 0), 50),
      turnMaxMsAroundKill: Math.round(Math.max(...latency(-1000, promotedMs + 1000))),
      turnP50MsAfter: percentile(latency(promotedMs + 1000, doneAt - killedAt), 50),
      allCompletedMs: Math.round(Math.max(...turns.rows.map((t) => Number(t.completed))) - killedAt),
    };
    process.stdout.write(`failover: ${JSON.stringify(report)}\n`);
    expect(refused.length, 'the failover was felt').toBeGreaterThan(0);
    expect(
      refused.every((a) => a.status === 503),
      JSON.stringify(report),
    ).toBe(true);
    expect(report.refusedUntilMs).toBeLessThan(promotedMs + 5000);

    // The killed master comes back as a replica of the one that replaced it, and the fleet serves on.
    await cluster.restart(victim.port);
    await cluster.waitUntilHealthy(30_000);
    const rejoined = (await cluster.topology()).find((n) => n.port === victim.port)!;
    expect(rejoined).toMatchObject({ role: 'replica', failing: false });
  });
});
