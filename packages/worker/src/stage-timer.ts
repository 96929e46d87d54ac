import {
  ATTR,
  type Attributes,
  type Context,
  inSpan,
  NO_SPAN,
  pastSpan,
  type Span,
  stageSpanName,
  TURN_STAGES,
  type TurnStage,
  type TurnTimings,
} from '@agent-fleet/core';
import type { Histogram } from 'prom-client';

/** Runs a part of a turn as one of its stages. */
export interface StageTimer {
  /**
   * Runs `fn` as `stage`: the turn reports that stage until its next one, the time is counted, and
   * the part is traced as the span `turn.<stage>`, which `fn` may describe with attributes. `name`
   * names a tool call.
   */
  time<T>(stage: TurnStage, fn: (span: Span) => Promise<T>, name?: string): Promise<T>;
  /** The model call running now streamed its first token. */
  firstToken(): void;
  /** What was timed, `totalMs` being acceptance (`enqueuedAt`) until now; null when nothing is. */
  timings(enqueuedAt: number): TurnTimings | null;
}

/** A timer that only runs the work: for parts called outside a delivery (repairs, tests). */
export const UNTIMED: StageTimer = {
  time: (_stage, fn) => fn(NO_SPAN),
  firstToken: () => {},
  timings: () => null,
};

/** The histograms a turn's stages are observed in. */
export interface StageHistograms {
  stage: Pick<Histogram<'stage'>, 'observe'>;
  /** Each model call's time to first token and its generation after it. */
  model: Pick<Histogram<'part'>, 'observe'>;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * The stages of one delivery of a turn: which one it is in now (what the worker's heartbeat
 * reports), the time spent in each and in each model call, tool call and checkpoint (the turn's
 * own timings), and every timed part observed in the histograms. A stage lasts from its start
 * until the next begins, so the current stage of a turn between two steps is the one it last began.
 */
export class TurnStages implements StageTimer {
  readonly #histograms: StageHistograms;
  readonly #totals = Object.fromEntries(TURN_STAGES.map((s) => [s, 0])) as Record<TurnStage, number>;
  readonly #models: TurnTimings['models'] = [];
  readonly #tools: TurnTimings['tools'] = [];
  readonly #checkpoints: number[] = [];
  #stage: TurnStage = 'gate';
  #since = Date.now();
  #firstTokenAt: number | undefined;

  constructor(histograms: StageHistograms) {
    this.#histograms = histograms;
  }

  /** The stage the turn is in and since when (ms since the epoch). */
  get current(): { stage: TurnStage; since: number } {
    return { stage: this.#stage, since: this.#since };
  }

  /** Milliseconds spent in each stage so far (model, tool and checkpoint summed over their calls). */
  get totalsMs(): Readonly<Record<TurnStage, number>> {
    return this.#totals;
  }

  /**
   * Counts `ms` of `stage` that was measured elsewhere and ended now (the queue, the gate before the
   * turn began), traced as a span of that length under `parent` (the active context when absent).
   */
  observe(stage: TurnStage, ms: number, parent?: Context): void {
    this.#count(stage, ms);
    const now = Date.now();
    pastSpan(stageSpanName(stage), now - ms, now, { [ATTR.stage]: stage }, parent);
  }

  firstToken(): void {
    if (this.#stage === 'model') this.#firstTokenAt ??= performance.now();
  }

  async time<T>(stage: TurnStage, fn: (span: Span) => Promise<T>, name?: string): Promise<T> {
    this.#stage = stage;
    this.#since = Date.now();
    this.#firstTokenAt = undefined;
    const started = performance.now();
    try {
      return await inSpan(stageSpanName(stage), { attributes: stageAttributes(stage, name) }, fn);
    } finally {
      const ended = performance.now();
      this.#count(stage, ended - started);
      this.#part(stage, started, ended, name);
    }
  }

  timings(enqueuedAt: number): TurnTimings {
    const stages = Object.fromEntries(TURN_STAGES.map((s) => [s, round(this.#totals[s])]));
    return {
      stages: stages as Record<TurnStage, number>,
      models: [...this.#models],
      tools: [...this.#tools],
      checkpoints: [...this.#checkpoints],
      totalMs: Math.max(0, Date.now() - enqueuedAt),
    };
  }

  #count(stage: TurnStage, ms: number): void {
    this.#totals[stage] += ms;
    this.#histograms.stage.observe({ stage }, ms / 1000);
  }

  #part(stage: TurnStage, started: number, ended: number, name: string | undefined): void {
    if (stage === 'model') {
      const first = Math.min(this.#firstTokenAt ?? ended, ended);
      this.#histograms.model.observe({ part: 'first_token' }, (first - started) / 1000);
      this.#histograms.model.observe({ part: 'generation' }, (ended - first) / 1000);
      this.#models.push({ firstTokenMs: round(first - started), generationMs: round(ended - first) });
    } else if (stage === 'tool') this.#tools.push({ name: name ?? '', ms: round(ended - started) });
    else if (stage === 'checkpoint') this.#checkpoints.push(round(ended - started));
  }
}

/** A stage span's attributes: the stage, and the tool a tool call calls. */
function stageAttributes(stage: TurnStage, name: string | undefined): Attributes {
  return { [ATTR.stage]: stage, ...(stage === 'tool' && name ? { 'gen_ai.tool.name': name } : {}) };
}
