import { TURN_STAGES, type TurnStage } from '@agent-fleet/core';
import type { Histogram } from 'prom-client';

/** Runs a part of a turn as one of its stages. */
export interface StageTimer {
  /** Runs `fn` as `stage`: the turn reports that stage until its next one, and the time is counted. */
  time<T>(stage: TurnStage, fn: () => Promise<T>): Promise<T>;
}

/** A timer that only runs the work: for parts called outside a delivery (repairs, tests). */
export const UNTIMED: StageTimer = { time: (_stage, fn) => fn() };

/**
 * The stages of one delivery of a turn: which one it is in now (what the worker's heartbeat
 * reports), the time spent in each (for the turn's own timings), and every timed part observed in
 * the stage histogram. A stage lasts from its start until the next begins, so the current stage of
 * a turn between two steps is the one it last began.
 */
export class TurnStages implements StageTimer {
  readonly #histogram: Pick<Histogram<'stage'>, 'observe'>;
  readonly #totals = Object.fromEntries(TURN_STAGES.map((s) => [s, 0])) as Record<TurnStage, number>;
  #stage: TurnStage = 'gate';
  #since = Date.now();

  constructor(histogram: Pick<Histogram<'stage'>, 'observe'>) {
    this.#histogram = histogram;
  }

  /** The stage the turn is in and since when (ms since the epoch). */
  get current(): { stage: TurnStage; since: number } {
    return { stage: this.#stage, since: this.#since };
  }

  /** Milliseconds spent in each stage so far (model, tool and checkpoint summed over their calls). */
  get totalsMs(): Readonly<Record<TurnStage, number>> {
    return this.#totals;
  }

  /** Counts `ms` of `stage` that was measured elsewhere (the queue, the gate before the turn began). */
  observe(stage: TurnStage, ms: number): void {
    this.#totals[stage] += ms;
    this.#histogram.observe({ stage }, ms / 1000);
  }

  async time<T>(stage: TurnStage, fn: () => Promise<T>): Promise<T> {
    this.#stage = stage;
    this.#since = Date.now();
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.observe(stage, performance.now() - started);
    }
  }
}
