import { createLogger, loadConfig, partitionQueueName, partitionQueuePrefix } from '@agent-fleet/core';
import { RecoveryReports, WorkerHeartbeats } from '@agent-fleet/turns';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { buildGateway } from './app.ts';
import { createGatewayDeps, type GatewayDeps } from './deps.ts';

/** The value of one series in a Prometheus text exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the gateway’s fleet-wide numbers (real Redis)', () => {
  let deps: GatewayDeps;
  let app: FastifyInstance;
  let queue: Queue;
  const namespace = freshNamespace();

  beforeAll(async () => {
    const config = loadConfig({
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: namespace,
      AUTH_MODE: 'off',
    });
    deps = await createGatewayDeps(config, createLogger('test', 'silent'));
    app = await buildGateway(deps);
    queue = new Queue(partitionQueueName(2), {
      connection: deps.redis,
      prefix: partitionQueuePrefix(namespace, 2),
    });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    await app?.close();
    await deps?.close();
  });

  it('exports the oldest waiting job per queue, Redis memory and the users the last sweep found stuck', async () => {
    let text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'fleet_queue_oldest_waiting_seconds{queue="agent.p2"}')).toBe(0);
    expect(sample(text, 'fleet_recovery_stuck_users')).toBe(0);
    await queue.add('turn', {}, { jobId: 'waiting', timestamp: Date.now() - 90_000 });
    await new RecoveryReports({ redis: deps.redis, namespace }).write(
      { at: Date.now(), users: 9, stuck: 3 },
      10_000,
    );
    text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'fleet_queue_oldest_waiting_seconds{queue="agent.p2"}')).toBeGreaterThanOrEqual(90);
    expect(sample(text, 'fleet_queue_backlog{queue="agent.p2"}')).toBe(1);
    expect(sample(text, 'fleet_recovery_stuck_users')).toBe(3);
    expect(sample(text, 'fleet_redis_memory_used_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'fleet_redis_memory_max_bytes')).toBeGreaterThanOrEqual(0);
  });

  it('GET /v1/admin/fleet answers the same queues and the workers that write heartbeats', async () => {
    const now = Date.now();
    await new WorkerHeartbeats({ redis: deps.redis, namespace }).publish(
      {
        v: 1,
        workerId: 'w-1',
        host: 'h',
        pid: 1,
        startedAt: now - 1000,
        at: now,
        slots: 64,
        windowSeconds: 60,
        turns: [],
        llm: [],
        tenants: [{ tenant: 'acme', promptTokens: 100, completionTokens: 20 }],
      },
      5000,
    );
    const res = await app.inject({ method: 'GET', url: '/v1/admin/fleet' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.queues.find((q: { queue: string }) => q.queue === 'agent.p2')).toMatchObject({
      backlog: 1,
      waiting: 1,
      oldestWaitingSeconds: expect.any(Number),
    });
    expect(body.workers).toEqual([expect.objectContaining({ workerId: 'w-1', slots: 64, turnsInFlight: 0 })]);
    expect(body.tenants).toEqual([
      { tenant: 'acme', tokensPerMinute: 120, promptTokensPerMinute: 100, completionTokensPerMinute: 20 },
    ]);
    expect(body.recovery).toMatchObject({ users: 9, stuck: 3 });
  });
});
