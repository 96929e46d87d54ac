import { inSpan, SPAN, TURN_STAGES, turnTimingsSchema } from '@agent-fleet/core';
import { startTracing } from '@agent-fleet/telemetry';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import type { Histogram } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics, stageHistograms } from './metrics.ts';
import { TurnStages, UNTIMED } from './stage-timer.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many observations a histogram holds for each value of `label`, as [value, count] pairs. */
const countsBy = async (histogram: Histogram<string>, label: string) =>
  (await histogram.get()).values
    .filter((v) => v.metricName?.endsWith('_count'))
    .map((v) => [v.labels[label], v.value]);

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
    const counts = await countsBy(metrics.stageSeconds, 'stage');
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
    const parts = await countsBy(metrics.modelSeconds, 'part');
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

describe('TurnStages traces', () => {
  it('makes a span per timed part, and one of the measured length for a part measured elsewhere', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({
      serviceName: 'fleet-worker',
      processor: new SimpleSpanProcessor({ exporter }),
    });
    try {
      const stages = new TurnStages(stageHistograms(createWorkerMetrics()));
      await inSpan(SPAN.delivery, {}, async () => {
        stages.observe('queue', 1500);
        await stages.time(
          'tool',
          async (span) => span.setAttribute('gen_ai.tool.call.id', 'call_1'),
          'save_note',
        );
        await expect(
          stages.time('model', async () => Promise.reject(new Error('no server'))),
        ).rejects.toThrow();
      });
      const spans = exporter.getFinishedSpans();
      const delivery = spans.find((s) => s.name === SPAN.delivery)!;
      const [queue, tool, model] = ['turn.queue', 'turn.tool', 'turn.model'].map(
        (n) => spans.find((s) => s.name === n)!,
      );
      for (const s of [queue, tool, model])
        expect(s!.parentSpanContext?.spanId).toBe(delivery.spanContext().spanId);
      expect(queue!.attributes).toEqual({ 'fleet.turn.stage': 'queue' });
      const [secs, nanos] = queue!.duration;
      expect(secs * 1000 + nanos / 1e6).toBe(1500);
      expect(tool!.attributes).toEqual({
        'fleet.turn.stage': 'tool',
        'gen_ai.tool.name': 'save_note',
        'gen_ai.tool.call.id': 'call_1',
      });
      expect(model!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'no server' });
    } finally {
      await tracing.shutdown();
    }
  });
});
