import type { WorkerHeartbeat } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { FleetView } from './fleet-view.ts';

const NOW = 1_000_000;

const server = (name: string, extra: Partial<WorkerHeartbeat['llm'][number]> = {}) => ({
  server: name,
  inFlight: 0,
  circuit: 'closed' as const,
  serverWaiting: 0,
  kvCacheUsage: 0,
  requests: 0,
  errors: 0,
  ttftSeconds: 0,
  ttftCount: 0,
  promptTokens: 0,
  cachedTokens: 0,
  completionTokens: 0,
  ...extra,
});

const beat = (workerId: string, extra: Partial<WorkerHeartbeat>): WorkerHeartbeat => ({
  v: 1,
  workerId,
  host: 'h',
  pid: 1,
  startedAt: 0,
  at: NOW - 500,
  slots: 64,
  windowSeconds: 60,
  turns: [],
  llm: [],
  tenants: [],
  ...extra,
});

const turn = (turnId: string, startedAt: number, stage: 'model' | 'tool') => ({
  turnId,
  userId: 'ada',
  seq: 1,
  queue: 'agent.p0',
  attempt: 1,
  startedAt,
  stage,
  stageStartedAt: startedAt + 100,
});

describe('FleetView: the fleet from the backlog and the workers’ heartbeats', () => {
  it('adds the workers up: LLM servers, the slowest turns first, tenants by tokens per minute', async () => {
    const beats = [
      beat('w1', {
        turns: [turn('t_fast', NOW - 1000, 'model')],
        llm: [
          server('http://a', {
            inFlight: 2,
            requests: 60,
            errors: 6,
            ttftSeconds: 3,
            ttftCount: 30,
            promptTokens: 1000,
            cachedTokens: 900,
            completionTokens: 200,
          }),
        ],
        tenants: [{ tenant: 'acme', promptTokens: 600, completionTokens: 60 }],
      }),
      beat('w2', {
        turns: [turn('t_slow', NOW - 9000, 'tool')],
        llm: [
          server('http://a', {
            inFlight: 1,
            circuit: 'open',
            ttftSeconds: 9,
            ttftCount: 10,
            promptTokens: 1000,
          }),
        ],
        tenants: [
          { tenant: 'acme', promptTokens: 60, completionTokens: 0 },
          { tenant: 'globex', promptTokens: 6000, completionTokens: 600 },
        ],
      }),
    ];
    const view = new FleetView({
      backlog: {
        queues: [{ name: 'agent.p0', prefix: 'x', kind: 'partition' }],
        measure: async () => [
          { queue: 'agent.p0', waiting: 3, prioritized: 0, delayedReady: 1, active: 2, total: 6 },
        ],
        oldestWaiting: async () => [{ queue: 'agent.p0', seconds: 12 }],
      },
      heartbeats: { list: async () => beats },
      reports: { read: async () => ({ at: NOW - 2000, users: 40, stuck: 1 }) },
    });
    const s = await view.snapshot(NOW);
    expect(s.queues).toEqual([
      {
        queue: 'agent.p0',
        kind: 'partition',
        backlog: 6,
        waiting: 3,
        prioritized: 0,
        delayedReady: 1,
        active: 2,
        oldestWaitingSeconds: 12,
      },
    ]);
    expect(s.workers.map((w) => [w.workerId, w.turnsInFlight, w.lastSeenAt])).toEqual([
      ['w1', 1, NOW - 500],
      ['w2', 1, NOW - 500],
    ]);
    expect(s.llm).toEqual([
      {
        server: 'http://a',
        inFlight: 3,
        openIn: 1,
        workers: 2,
        serverWaiting: 0,
        kvCacheUsage: 0,
        requestsPerMinute: 60,
        errorsPerMinute: 6,
        // 12 s over 40 first tokens; 900 of 2,000 prompt tokens cached.
        ttftMs: 300,
        cacheHitRate: 0.45,
        tokensPerMinute: 2200,
      },
    ]);
    expect(s.turns.map((t) => [t.turnId, t.workerId, t.stage, t.runningSeconds, t.stageSeconds])).toEqual([
      ['t_slow', 'w2', 'tool', 9, 8.9],
      ['t_fast', 'w1', 'model', 1, 0.9],
    ]);
    expect(s.tenants.map((t) => [t.tenant, t.tokensPerMinute])).toEqual([
      ['globex', 6600],
      ['acme', 720],
    ]);
    expect(s.recovery).toEqual({ at: NOW - 2000, users: 40, stuck: 1 });
  });
});
