import { TURN_STAGES, turnTimingsSchema } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics, stageHistograms } from './metrics.ts';
import { TurnStages, UNTIMED } from './stage-timer.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TurnStages', () => {
  it('reports the stage a turn is in, sums each stage and observes every timed part', async () => {
    const metrics = createWorkerMetrics();
    const stages = new TurnStages(stageHistograms(metrics));
    stages.observe('queue', 40);
    let during = '';
    await stages.time('model', async () => {
      during = stages.current.stage;
      await sleep(20);
    });
    await stages.time('model', async () => {});
    expect(during).toBe('model');
    // The stage lasts until the next begins.
    expect(stages.current.stage).toBe('model');
    await expect(stages.time('tool', async () => Promise.reject(new Error('tool broke')))).rejects.toThrow(
      'tool broke',
    );
    expect(stages.current.stage).toBe('tool');
    expect(stages.totalsMs.queue).toBe(40);
    expect(stages.totalsMs.model).toBeGreaterThanOrEqual(15);
    expect(stages.totalsMs.retrieval).toBe(0);
    const counts = (await metrics.stageSeconds.get()).values
      .filter((v) => v.metricName === 'fleet_worker_turn_stage_seconds_count')
      .map((v) => [v.labels.stage, v.value]);
    // A failed part is still timed.
    expect(counts).toEqual([
      ['queue', 1],
      ['model', 2],
      ['tool', 1],
    ]);
  });

  it('splits each model call at its first token, lists tool calls by name and each checkpoint', async () => {
    const metrics = createWorkerMetrics();
    const stages = new TurnStages(stageHistograms(metrics));
    const enqueuedAt = Date.now() - 5;
    await stages.time('model', async () => {
      await sleep(15);
      stages.firstToken();
      await sleep(15);
      // Only the first token counts.
      stages.firstToken();
    });
    await stages.time('checkpoint', async () => {});
    await stages.time('tool', () => sleep(5), 'recall_notes');
    // A call that streamed no token (only tool calls) waited for its whole answer.
    await stages.time('model', () => sleep(5));
    // A first token outside a model call is no model's.
    stages.firstToken();
    await stages.time('checkpoint', async () => {});
    const t = stages.timings(enqueuedAt);
    expect(turnTimingsSchema.parse(t)).toEqual(t);
    expect(Object.keys(t.stages)).toEqual([...TURN_STAGES]);
    expect(t.models).toHaveLength(2);
    const [streamed, whole] = t.models;
    expect(streamed!.firstTokenMs).toBeGreaterThanOrEqual(10);
    expect(streamed!.generationMs).toBeGreaterThanOrEqual(10);
    expect(whole!.generationMs).toBe(0);
    expect(whole!.firstTokenMs).toBeGreaterThan(0);
    const modelMs = t.models.reduce((n, m) => n + m.firstTokenMs + m.generationMs, 0);
    expect(t.stages.model).toBeCloseTo(modelMs, 2);
    expect(t.tools).toEqual([{ name: 'recall_notes', ms: expect.any(Number) }]);
    expect(t.stages.tool).toBe(t.tools[0]!.ms);
    expect(t.checkpoints).toHaveLength(2);
    const sum = Object.values(t.stages).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(t.totalMs + 1);
    const parts = (await metrics.modelSeconds.get()).values
      .filter((v) => v.metricName === 'fleet_worker_model_call_seconds_count')
      .map((v) => [v.labels.part, v.value]);
    expect(parts).toEqual([
      ['first_token', 2],
      ['generation', 2],
    ]);
  });

  it('untimed parts only run', async () => {
    expect(await UNTIMED.time('model', async () => 7)).toBe(7);
    expect(UNTIMED.timings(0)).toBeNull();
  });
});
