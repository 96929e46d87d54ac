import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from './metrics.ts';
import { TurnStages } from './stage-timer.ts';

describe('TurnStages', () => {
  it('reports the stage a turn is in, sums each stage and observes every timed part', async () => {
    const metrics = createWorkerMetrics();
    const stages = new TurnStages(metrics.stageSeconds);
    stages.observe('queue', 40);
    let during = '';
    await stages.time('model', async () => {
      during = stages.current.stage;
      await new Promise((r) => setTimeout(r, 20));
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
});
