import type { WorkerHeartbeat } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { WorkerHeartbeats } from './heartbeats.ts';
import { RecoveryReports } from './recovery-report.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

const beat = (workerId: string, at: number): WorkerHeartbeat => ({
  v: 1,
  workerId,
  host: 'h',
  pid: 1,
  startedAt: at,
  at,
  slots: 64,
  windowSeconds: 60,
  turns: [
    {
      turnId: `t_${workerId}`,
      userId: 'ada',
      seq: 1,
      queue: 'agent.p0',
      attempt: 1,
      startedAt: at,
      stage: 'model',
      stageStartedAt: at,
    },
  ],
  llm: [],
  tenants: [],
});

describe('worker heartbeats and the sweep report (real Redis)', () => {
  it('lists live heartbeats; an expired one drops out of the index, a removed one at once', async () => {
    const hb = new WorkerHeartbeats({ redis, namespace: freshNamespace() });
    const now = Date.now();
    await hb.publish(beat('w1', now), 5000);
    await hb.publish(beat('w2', now), 5000);
    await hb.publish(beat('gone', now - 10_000), 5000);
    expect((await hb.list(now)).map((h) => h.workerId)).toEqual(['w1', 'w2']);
    expect((await hb.list(now))[0]!.turns[0]!.stage).toBe('model');
    await hb.remove('w1');
    expect((await hb.list(now)).map((h) => h.workerId)).toEqual(['w2']);
    // Past its expiry a heartbeat is gone even though nobody removed it.
    expect(await hb.list(now + 6000)).toEqual([]);
  });

  it('keeps the last sweep report until it expires', async () => {
    const reports = new RecoveryReports({ redis, namespace: freshNamespace() });
    expect(await reports.read()).toBeNull();
    await reports.write({ at: 1, users: 10, stuck: 2 }, 200);
    expect(await reports.read()).toEqual({ at: 1, users: 10, stuck: 2 });
    await new Promise((r) => setTimeout(r, 300));
    expect(await reports.read()).toBeNull();
  });
});
