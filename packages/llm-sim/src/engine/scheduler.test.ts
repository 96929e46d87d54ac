import { describe, expect, it } from 'vitest';
import { createPrng } from '../prng.ts';
import { type Clock, VirtualClock } from './clock.ts';
import type { EngineConfig } from './config.ts';
import { Engine, type SequenceResult } from './engine.ts';
import type { StepPlan } from './scheduler.ts';
import type { SequenceSpec } from './sequence.ts';

/** `n` distinct token ids starting at `from` (distinct prompts never share a block by accident). */
function tokens(n: number, from = 1000): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

interface Run {
  engine: Engine;
  clock: VirtualClock;
  plans: StepPlan[];
  /** Checks run after every scheduling decision. */
  violations: string[];
}

function setup(config: Partial<EngineConfig> = {}): Run {
  const clock = new VirtualClock();
  const engine = new Engine(config, clock);
  const run: Run = { engine, clock, plans: [], violations: [] };
  const scheduler = engine.scheduler;
  const schedule = scheduler.schedule.bind(scheduler);
  scheduler.schedule = (now: number) => {
    const plan = schedule(now);
    run.plans.push(plan);
    const cfg = engine.config;
    const batched = plan.chunks.reduce((sum, c) => sum + c.tokens, 0);
    const blocksInUse = new Set(scheduler.running.flatMap((s) => s.blocks));
    if (scheduler.running.length > cfg.maxNumSeqs) violations(`running ${scheduler.running.length}`);
    if (batched > cfg.maxBatchedTokens) violations(`batched ${batched}`);
    if (scheduler.kv.usedBlocks > scheduler.kv.numBlocks) violations(`blocks ${scheduler.kv.usedBlocks}`);
    if (blocksInUse.size !== scheduler.kv.usedBlocks) {
      violations(`blocks held ${blocksInUse.size} != used ${scheduler.kv.usedBlocks}`);
    }
    for (const s of scheduler.running) {
      if (s.blocks.length * cfg.blockSize < s.computed) violations(`seq ${s.id} computed beyond its blocks`);
    }
    return plan;
    function violations(msg: string) {
      run.violations.push(`t=${now}: ${msg}`);
    }
  };
  return run;
}

/** Submits and collects the result (and the order results arrive in). */
function submit(
  run: Run,
  spec: SequenceSpec,
  done: SequenceResult[] = [],
  tag?: string,
): { result?: SequenceResult; tag?: string; tokens: number[] } {
  const record: { result?: SequenceResult; tag?: string; tokens: number[] } = { tag, tokens: [] };
  run.engine.submit(spec, {
    token: (t) => record.tokens.push(t),
    finish: (r) => {
      record.result = r;
      done.push(r);
    },
  });
  return record;
}

describe('engine timing model', () => {
  it('charges overhead plus per-token prefill for the first token, then one decode step per token', () => {
    const run = setup();
    const r = submit(run, { promptTokens: tokens(100), outputTokens: tokens(10, 5), maxTokens: 100 });
    run.clock.runUntilIdle();
    expect(r.tokens).toEqual(tokens(10, 5));
    expect(r.result).toMatchObject({
      finishReason: 'stop',
      promptTokens: 100,
      completionTokens: 10,
      cachedTokens: 0,
    });
    expect(r.result!.ttftMs).toBeCloseTo(30 + 100 * 0.25);
    expect(r.result!.e2eMs).toBeCloseTo(30 + 100 * 0.25 + 9 * 12);
    expect(run.violations).toEqual([]);
  });

  it('stops at maxTokens with finish reason length', () => {
    const run = setup();
    const r = submit(run, { promptTokens: tokens(5), outputTokens: tokens(50, 5), maxTokens: 7 });
    run.clock.runUntilIdle();
    expect(r.result).toMatchObject({ finishReason: 'length', completionTokens: 7 });
    expect(r.tokens).toHaveLength(7);
  });

  it('makes no modelled delay at timeScale 0', () => {
    const run = setup({ timeScale: 0 });
    const r = submit(run, { promptTokens: tokens(500), outputTokens: tokens(40, 5), maxTokens: 100 });
    run.clock.runUntilIdle();
    expect(r.result).toMatchObject({ finishReason: 'stop', completionTokens: 40, e2eMs: 0 });
  });

  it('slows decode steps as the batch grows, so throughput flattens', () => {
    const rate = (n: number) => {
      const run = setup({ prefillOverheadMs: 0, prefillMsPerToken: 0 });
      for (let i = 0; i < n; i++)
        submit(run, { promptTokens: tokens(8, i * 100), outputTokens: tokens(201), maxTokens: 201 });
      run.clock.runUntilIdle();
      // 200 decode steps after the prefill step.
      return (n * 200 * 1000) / run.clock.now();
    };
    const [r1, r32, r64, r256] = [rate(1), rate(32), rate(64), rate(256)];
    expect(r1).toBeCloseTo(1000 / 12, 0);
    expect(r32 / r1).toBeGreaterThan(15);
    expect(r256).toBeCloseTo(256_000 / (12 * 6), -1);
    // Doubling from 64 to 128 to 256 sequences gains far less than 2x each time.
    expect(r256 / r64).toBeLessThan(1.6);
    expect(run256Monotonic(r32, r64, r256)).toBe(true);
  });
});

describe('modelled time', () => {
  it('counts the steps and the idle time, so on time it is the clock (time scale 1)', () => {
    const run = setup();
    submit(run, { promptTokens: tokens(100), outputTokens: tokens(10, 5), maxTokens: 100 });
    run.clock.runUntilIdle();
    run.clock.advance(500);
    expect(run.engine.stats.modelledMs).toBeCloseTo(run.clock.now());
  });

  it('leaves out the time a host too busy to fire step timers on time makes the engine lose', () => {
    const clock = new VirtualClock();
    const lateClock: Clock = {
      now: () => clock.now(),
      setTimer: (delayMs, fn) => clock.setTimer(delayMs + 200, fn),
    };
    let stepsMs = 0;
    const engine = new Engine({ timeScale: 0.5 }, lateClock, {
      stepFinished: ({ durationMs }) => {
        stepsMs += durationMs / 0.5;
      },
    });
    engine.submit(
      { promptTokens: tokens(100), outputTokens: tokens(10, 5), maxTokens: 100 },
      { finish: () => {} },
    );
    clock.runUntilIdle();
    const arrival = 30 * 0.5 + 200; // the overhead timer, late too: the engine was idle until then
    expect(engine.stats.steps).toBe(10);
    expect(engine.stats.modelledMs).toBeCloseTo(arrival / 0.5 + stepsMs);
    expect(clock.now()).toBeGreaterThan(arrival + 10 * 200);
  });
});

function run256Monotonic(...rates: number[]): boolean {
  return rates.every((r, i) => i === 0 || r > rates[i - 1]!);
}

describe('scheduler invariants', () => {
  it('never exceeds maxNumSeqs, the token budget or the KV cache under a random load, and finishes everything', () => {
    const run = setup({
      maxNumSeqs: 8,
      maxBatchedTokens: 96,
      kvCacheTokens: 1024,
      maxModelLen: 512,
      prefillOverheadMs: 1,
    });
    const rng = createPrng(42);
    const done: SequenceResult[] = [];
    const records: ReturnType<typeof submit>[] = [];
    const specs: SequenceSpec[] = [];
    for (let i = 0; i < 200; i++) {
      // A few shared system prompts so the prefix cache gets hits, plus a unique tail.
      const shared = tokens(16 * Math.floor(rng() * 4), 50_000 + Math.floor(rng() * 3) * 1000);
      const prompt = [...shared, ...tokens(1 + Math.floor(rng() * 120), i * 1000)];
      const out = 1 + Math.floor(rng() * 150);
      const spec: SequenceSpec = {
        promptTokens: prompt,
        outputTokens: tokens(out, 7),
        maxTokens: Math.min(out + 5, 512 - prompt.length),
        priority: Math.floor(rng() * 3) - 1,
      };
      specs.push(spec);
      const delay = Math.floor(rng() * 40);
      run.clock.advance(delay);
      records.push(submit(run, spec, done));
    }
    run.clock.runUntilIdle();
    expect(run.violations).toEqual([]);
    expect(done).toHaveLength(200);
    records.forEach((r, i) => {
      expect(r.result?.finishReason).toBe('stop');
      expect(r.tokens).toEqual(specs[i]!.outputTokens);
    });
    expect(run.engine.stats).toMatchObject({ running: 0, waiting: 0, kvBlocksUsed: 0 });
    expect(run.engine.stats.preemptions).toBeGreaterThan(0);
    expect(run.engine.stats.prefixCacheHits).toBeGreaterThan(0);
    expect(run.plans.some((p) => p.chunks.reduce((s, c) => s + c.tokens, 0) === 96)).toBe(true);
  });

  it('admits in priority order, lower value first, and FIFO within a priority', () => {
    const run = setup({ maxNumSeqs: 1 });
    const order: string[] = [];
    let n = 0;
    const go = (tag: string, priority: number, out = 3) =>
      run.engine.submit(
        { promptTokens: tokens(10, ++n * 100), outputTokens: tokens(out), maxTokens: out, priority },
        { finish: () => order.push(tag) },
      );
    go('first', 0, 40); // runs alone for ~500 ms while the rest queue behind it
    run.clock.advance(31);
    go('p1-a', 1);
    run.clock.advance(1);
    go('p0-a', 0);
    run.clock.advance(1);
    go('p1-b', 1);
    run.clock.advance(1);
    go('p0-b', 0);
    run.clock.advance(1);
    go('urgent', -5);
    run.clock.advance(1);
    go('p0-c', 0);
    run.clock.runUntilIdle();
    expect(order).toEqual(['first', 'urgent', 'p0-a', 'p0-b', 'p0-c', 'p1-a', 'p1-b']);
    expect(run.violations).toEqual([]);
  });

  it('keeps a blocked waiting head in front: later requests of the same priority do not overtake it', () => {
    // The head needs more blocks than are free; a small request behind it must wait too.
    const run = setup({ kvCacheTokens: 256, maxModelLen: 256, maxNumSeqs: 8, prefillOverheadMs: 0 });
    const order: string[] = [];
    const go = (tag: string, prompt: number, out: number, from: number) =>
      run.engine.submit(
        { promptTokens: tokens(prompt, from), outputTokens: tokens(out), maxTokens: out },
        { token: (_t, i) => i === 0 && order.push(tag), finish: () => {} },
      );
    go('big-running', 150, 20, 1);
    run.clock.advance(1);
    go('head', 150, 5, 10_000);
    run.clock.advance(1);
    go('small', 10, 1, 20_000);
    run.clock.runUntilIdle();
    expect(order).toEqual(['big-running', 'head', 'small']);
  });

  it('preempts the lowest-priority, latest sequence when the cache is full, and it still completes', () => {
    // 8 blocks of 16 tokens; three sequences that each grow to 5 blocks cannot all stay resident.
    const run = setup({ kvCacheTokens: 128, maxModelLen: 128, maxNumSeqs: 4, prefillOverheadMs: 0 });
    const done: SequenceResult[] = [];
    const a = submit(run, { promptTokens: tokens(20, 1), outputTokens: tokens(60, 7), maxTokens: 60 }, done);
    const b = submit(
      run,
      { promptTokens: tokens(20, 100), outputTokens: tokens(60, 7), maxTokens: 60 },
      done,
    );
    const c = submit(
      run,
      { promptTokens: tokens(20, 200), outputTokens: tokens(60, 7), maxTokens: 60 },
      done,
    );
    run.clock.runUntilIdle();
    expect(run.violations).toEqual([]);
    expect(run.engine.stats.preemptions).toBeGreaterThan(0);
    expect(a.result).toMatchObject({ finishReason: 'stop', completionTokens: 60, preemptions: 0 });
    expect(c.result!.preemptions).toBeGreaterThan(0);
    for (const r of [a, b, c]) expect(r.tokens).toEqual(tokens(60, 7));
    expect(run.plans.some((p) => p.preempted.length > 0 && p.admitted.length === 0)).toBe(true);
  });

  it('preempts a low-priority sequence before a high-priority one even if it arrived first', () => {
    const run = setup({ kvCacheTokens: 128, maxModelLen: 128, maxNumSeqs: 4, prefillOverheadMs: 0 });
    const low = submit(run, {
      promptTokens: tokens(20, 1),
      outputTokens: tokens(60, 7),
      maxTokens: 60,
      priority: 5,
    });
    const high1 = submit(run, { promptTokens: tokens(20, 100), outputTokens: tokens(60, 7), maxTokens: 60 });
    const high2 = submit(run, { promptTokens: tokens(20, 200), outputTokens: tokens(60, 7), maxTokens: 60 });
    run.clock.runUntilIdle();
    expect(low.result!.preemptions).toBeGreaterThan(0);
    expect(high1.result!.preemptions).toBe(0);
    expect(high2.result!.finishReason).toBe('stop');
    expect(low.result!.finishReason).toBe('stop');
  });

  it('splits a long prompt into chunks of at most maxBatchedTokens', () => {
    const run = setup({ maxBatchedTokens: 256, prefillOverheadMs: 0 });
    const r = submit(run, { promptTokens: tokens(1000), outputTokens: tokens(2), maxTokens: 2 });
    run.clock.runUntilIdle();
    expect(run.plans.map((p) => p.prefillTokens).slice(0, 4)).toEqual([256, 256, 256, 232]);
    expect(r.result!.ttftMs).toBeCloseTo(1000 * 0.25);
  });
});

describe('prefix cache', () => {
  const prompt = tokens(200);

  it('lets a repeated prompt skip the prefill of its cached full blocks', () => {
    const run = setup();
    const first = submit(run, { promptTokens: prompt, outputTokens: tokens(5), maxTokens: 5 });
    run.clock.runUntilIdle();
    const second = submit(run, { promptTokens: prompt, outputTokens: tokens(5), maxTokens: 5 });
    run.clock.runUntilIdle();
    expect(first.result!.cachedTokens).toBe(0);
    expect(second.result!.cachedTokens).toBe(192);
    expect(second.result!.ttftMs).toBeCloseTo(30 + 8 * 0.25);
    expect(second.result!.ttftMs!).toBeLessThan(first.result!.ttftMs!);
    expect(run.engine.stats).toMatchObject({ prefixCacheQueries: 400, prefixCacheHits: 192 });
  });

  it('hits on a conversation whose history is a prefix of the next prompt (output blocks included)', () => {
    const run = setup();
    const reply = tokens(40, 9000);
    const first = submit(run, { promptTokens: prompt, outputTokens: reply, maxTokens: 100 });
    run.clock.runUntilIdle();
    const next = [...prompt, ...reply, ...tokens(30, 7000)];
    const second = submit(run, { promptTokens: next, outputTokens: tokens(3), maxTokens: 3 });
    run.clock.runUntilIdle();
    expect(first.result!.finishReason).toBe('stop');
    // 200 prompt + 39 computed output tokens = 239 tokens of KV -> 14 full blocks.
    expect(second.result!.cachedTokens).toBe(14 * 16);
  });

  it('never shares blocks between different cache salts', () => {
    const run = setup();
    const go = (cacheSalt?: string) => {
      const r = submit(run, { promptTokens: prompt, outputTokens: tokens(2), maxTokens: 2, cacheSalt });
      run.clock.runUntilIdle();
      return r.result!.cachedTokens;
    };
    expect(go('tenant-a')).toBe(0);
    expect(go('tenant-b')).toBe(0);
    expect(go(undefined)).toBe(0);
    expect(go('tenant-a')).toBe(192);
    expect(go(undefined)).toBe(192);
  });

  it('does nothing when prefix caching is off', () => {
    const run = setup({ enablePrefixCaching: false });
    submit(run, { promptTokens: prompt, outputTokens: tokens(2), maxTokens: 2 });
    run.clock.runUntilIdle();
    const again = submit(run, { promptTokens: prompt, outputTokens: tokens(2), maxTokens: 2 });
    run.clock.runUntilIdle();
    expect(again.result!.cachedTokens).toBe(0);
  });
});

describe('aborts and close', () => {
  it('frees the blocks of an aborted sequence at once and reports abort', () => {
    const run = setup();
    const results: SequenceResult[] = [];
    const h = run.engine.submit(
      { promptTokens: tokens(100), outputTokens: tokens(500), maxTokens: 500 },
      { finish: (r) => results.push(r) },
    );
    run.clock.advance(200);
    expect(run.engine.stats.kvBlocksUsed).toBeGreaterThan(0);
    h.abort();
    h.abort();
    expect(results).toEqual([expect.objectContaining({ finishReason: 'abort' })]);
    expect(run.engine.stats).toMatchObject({ running: 0, kvBlocksUsed: 0 });
    run.clock.runUntilIdle();
    expect(results).toHaveLength(1);
  });

  it('aborts a sequence still in its overhead without it ever reaching the scheduler', () => {
    const run = setup();
    const results: SequenceResult[] = [];
    const h = run.engine.submit(
      { promptTokens: tokens(10), outputTokens: tokens(5), maxTokens: 5 },
      { finish: (r) => results.push(r) },
    );
    run.clock.advance(5);
    h.abort();
    expect(results).toEqual([expect.objectContaining({ finishReason: 'abort', completionTokens: 0 })]);
    expect(run.clock.pendingTimers).toBe(0);
  });

  it('close aborts everything and leaves no timer behind', () => {
    const run = setup();
    const results: SequenceResult[] = [];
    for (let i = 0; i < 5; i++) {
      run.engine.submit(
        { promptTokens: tokens(50, i * 100), outputTokens: tokens(100), maxTokens: 100 },
        { finish: (r) => results.push(r) },
      );
      run.clock.advance(10);
    }
    run.engine.close();
    expect(results).toHaveLength(5);
    expect(results.every((r) => r.finishReason === 'abort')).toBe(true);
    expect(run.clock.pendingTimers).toBe(0);
    expect(() =>
      run.engine.submit({ promptTokens: [1], outputTokens: [1], maxTokens: 1 }, { finish: () => {} }),
    ).toThrow(/closed/);
  });

  it('rejects a request longer than maxModelLen', () => {
    const run = setup({ maxModelLen: 100, kvCacheTokens: 1600 });
    expect(run.engine.rejectReason(90, 20)).toMatch(/maximum context length is 100 tokens/);
    expect(() =>
      run.engine.submit(
        { promptTokens: tokens(90), outputTokens: tokens(20), maxTokens: 20 },
        { finish: () => {} },
      ),
    ).toThrow();
  });
});
