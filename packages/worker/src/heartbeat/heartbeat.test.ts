import { createLogger } from '@agent-fleet/core';
import { WorkerHeartbeats } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../../test/support/stack.ts';
import { createWorkerMetrics, stageHistograms } from '../metrics.ts';
import { RunningTurns } from '../running-turns.ts';
import { TurnStages } from '../stage-timer.ts';
import { Heartbeat } from './heartbeat.ts';
import { TenantTokenWindow } from './tenant-tokens.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

describe('Heartbeat (real Redis)', () => {
  it('reports the running turns with their stage and tenant, and leaves the fleet when closed', async () => {
    const store = new WorkerHeartbeats({ redis, namespace: freshNamespace() });
    const metrics = createWorkerMetrics();
    const running = new RunningTurns(metrics.running);
    const tenants = new TenantTokenWindow(60_000);
    const hb = new Heartbeat({
      store,
      running,
      llm: { read: async () => [] },
      tenants,
      slots: 64,
      logger: createLogger('hb-test', 'silent'),
      workerId: 'w-test',
    });
    const stages = new TurnStages(stageHistograms(metrics));
    const job = {
      v: 1 as const,
      kind: 'chat' as const,
      turnId: 't_1',
      userId: 'ada',
      seq: 3,
      text: 'hi',
      enqueuedAt: Date.now() - 50,
    };
    const turn = running.add({ job, queue: 'agent.p1', attempt: 2, startedAt: Date.now(), stages });
    turn.tenant('acme');
    const model = stages.time('model', () => new Promise((r) => setTimeout(r, 50)));
    tenants.add('acme', 300, 30);
    await hb.beat();
    await model;
    const [beat] = await store.list();
    expect(beat).toMatchObject({ workerId: 'w-test', slots: 64, pid: process.pid });
    expect(beat!.turns).toEqual([
      expect.objectContaining({
        turnId: 't_1',
        userId: 'ada',
        seq: 3,
        queue: 'agent.p1',
        tenant: 'acme',
        attempt: 2,
        stage: 'model',
      }),
    ]);
    expect((await metrics.running.get()).values[0]!.value).toBe(1);
    turn.done();
    expect(running.list()).toEqual([]);
    await hb.close();
    expect(await store.list()).toEqual([]);
  });
});
