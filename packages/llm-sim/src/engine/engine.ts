import type { CancelTimer, Clock } from './clock.ts';
import { type EngineConfig, resolveEngineConfig, stepDurationMs } from './config.ts';
import { Scheduler, type StepPlan } from './scheduler.ts';
import { type FinishReason, Sequence, type SequenceSpec } from './sequence.ts';

/** Timing and token counts of a finished sequence, in ms on the engine clock. */
export interface SequenceResult {
  finishReason: FinishReason;
  promptTokens: number;
  /** Prompt tokens served from the prefix cache at the first admission (0 when never admitted). */
  cachedTokens: number;
  completionTokens: number;
  preemptions: number;
  /** From submission (the API server receiving it) to the end. */
  e2eMs: number;
  /** From reaching the scheduler to the first admission; undefined when never admitted. */
  queueMs: number | undefined;
  /** From submission to the first output token; undefined when none was produced. */
  ttftMs: number | undefined;
  /** From the first admission to the end; undefined when never admitted. */
  inferenceMs: number | undefined;
}

/** Receives one sequence's output: at step ends, or inside `abort()`; never inside `submit`. */
export interface SequenceListener {
  token?(token: number, index: number): void;
  /** Called exactly once. */
  finish(result: SequenceResult): void;
}

/** Engine-wide events, for metrics. */
export interface EngineObserver {
  stepFinished?(step: {
    prefillTokens: number;
    decodeTokens: number;
    generatedTokens: number;
    durationMs: number;
  }): void;
  /** A sequence joined the batch; `queries` prompt tokens looked up in the prefix cache, `hits` found. */
  admitted?(info: { queries: number; hits: number }): void;
  preempted?(count: number): void;
  firstToken?(info: { ttftMs: number; promptTokens: number }): void;
  /** Gap between two consecutive tokens of one sequence. */
  interToken?(ms: number): void;
  finished?(result: SequenceResult): void;
}

export interface SequenceHandle {
  readonly id: number;
  /**
   * Stops the sequence and frees its blocks; the listener's `finish` (reason `abort`) runs before
   * this returns. Does nothing once the sequence has finished.
   */
  abort(): void;
}

/** A snapshot of the engine's state, for `/sim/stats` and tests. */
export interface EngineStats {
  running: number;
  waiting: number;
  /** Submitted but still in the per-request overhead before the scheduler. */
  arriving: number;
  kvBlocksUsed: number;
  kvBlocksTotal: number;
  kvCacheUsage: number;
  preemptions: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  steps: number;
  generationTokens: number;
  promptTokensComputed: number;
  /**
   * Modelled ms since the engine started: the modelled duration of every finished step plus the
   * time it had nothing it could run (clock time ÷ `timeScale`; none at timeScale 0). Time lost
   * when the host fires step timers too late to catch up (see MAX_LAG_MS) is left out, so a rate
   * over it is the model's, not the machine's: it does not fall when other processes load the CPU.
   */
  modelledMs: number;
}

/** Behind by more than this (event loop stalls), the engine stops catching up and restarts its timeline at now. */
const MAX_LAG_MS = 50;

interface Tracked {
  seq: Sequence;
  listener: SequenceListener;
  submittedAt: number;
  enqueuedAt: number;
  lastTokenAt: number | undefined;
  ttftMs: number | undefined;
}

/** A submitted sequence still in its per-request overhead. */
interface PendingArrival {
  cancel: CancelTimer;
  /** Cancels the arrival and reports the abort to the listener. */
  abort(): void;
}

function neverScheduled(spec: SequenceSpec, e2eMs: number): SequenceResult {
  return {
    finishReason: 'abort',
    promptTokens: spec.promptTokens.length,
    cachedTokens: 0,
    completionTokens: 0,
    preemptions: 0,
    e2eMs,
    queueMs: undefined,
    ttftMs: undefined,
    inferenceMs: undefined,
  };
}

/**
 * A simulated vLLM engine: the {@link Scheduler} driven step by step on a {@link Clock}. Each step
 * lasts `stepDurationMs(prefill tokens, decoding sequences) × timeScale`; tokens are emitted at the
 * step's end. Consecutive steps are chained on the modelled timeline, so timer lateness does not
 * accumulate into lower throughput. Independent of HTTP: a test drives it with a virtual clock.
 */
export class Engine {
  readonly config: EngineConfig;
  readonly scheduler: Scheduler;
  readonly #clock: Clock;
  readonly #observer: EngineObserver;
  readonly #tracked = new Map<Sequence, Tracked>();
  readonly #arriving = new Set<PendingArrival>();
  #nextId = 1;
  #stepTimer: CancelTimer | undefined;
  /** True while a step's results are applied: finishing sequences must not start a step of their own. */
  #completing = false;
  #closed = false;
  #steps = 0;
  #generationTokens = 0;
  #promptTokensComputed = 0;
  /** Modelled ms of finished steps and of idle spells that have ended. */
  #modelledMs = 0;
  /** Clock time since which the engine has had nothing it could run; undefined while it steps. */
  #idleSince: number | undefined;

  constructor(config: Partial<EngineConfig>, clock: Clock, observer: EngineObserver = {}) {
    this.config = resolveEngineConfig(config);
    this.scheduler = new Scheduler(this.config);
    this.#clock = clock;
    this.#observer = observer;
    this.#idleSince = clock.now();
  }

  get stats(): EngineStats {
    const kv = this.scheduler.kv;
    return {
      running: this.scheduler.running.length,
      waiting: this.scheduler.waiting.length,
      arriving: this.#arriving.size,
      kvBlocksUsed: kv.usedBlocks,
      kvBlocksTotal: kv.numBlocks,
      kvCacheUsage: kv.usedBlocks / kv.numBlocks,
      ...this.scheduler.counters,
      steps: this.#steps,
      generationTokens: this.#generationTokens,
      promptTokensComputed: this.#promptTokensComputed,
      modelledMs: this.#modelledMs + this.#idleMs(this.#clock.now()),
    };
  }

  /**
   * Why a request cannot run (prompt plus `maxTokens` over `maxModelLen`, empty prompt), as vLLM's
   * 400 message; undefined when it can.
   */
  rejectReason(promptTokens: number, maxTokens: number): string | undefined {
    const limit = this.config.maxModelLen;
    if (promptTokens < 1) return 'the prompt must contain at least one token';
    if (promptTokens + maxTokens > limit) {
      return (
        `This model's maximum context length is ${limit} tokens. However, you requested ` +
        `${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). ` +
        'Please reduce the length of the messages or completion.'
      );
    }
    return undefined;
  }

  /** Starts a sequence. Throws when the engine is closed or the request does not fit `maxModelLen`. */
  submit(spec: SequenceSpec, listener: SequenceListener): SequenceHandle {
    if (this.#closed) throw new Error('engine is closed');
    const reason = this.rejectReason(
      spec.promptTokens.length,
      Math.min(spec.maxTokens, spec.outputTokens.length),
    );
    if (reason) throw new Error(reason);
    const id = this.#nextId++;
    const submittedAt = this.#clock.now();
    let tracked: Tracked | undefined;
    const arrival: PendingArrival = {
      cancel: () => {},
      abort: () => {
        arrival.cancel();
        this.#arriving.delete(arrival);
        listener.finish(neverScheduled(spec, this.#clock.now() - submittedAt));
      },
    };
    // The sequence reaches the scheduler after the per-request overhead; its arrival time there
    // is its FIFO position.
    arrival.cancel = this.#clock.setTimer(this.config.prefillOverheadMs * this.config.timeScale, () => {
      this.#arriving.delete(arrival);
      const now = this.#clock.now();
      const seq = new Sequence(id, spec, now);
      tracked = { seq, listener, submittedAt, enqueuedAt: now, lastTokenAt: undefined, ttftMs: undefined };
      this.#tracked.set(seq, tracked);
      this.scheduler.add(seq);
      this.#kick(undefined);
    });
    this.#arriving.add(arrival);
    return {
      id,
      abort: () => {
        if (tracked) {
          if (this.scheduler.abort(tracked.seq)) this.#finish(tracked, this.#clock.now());
        } else if (this.#arriving.has(arrival)) {
          arrival.abort();
        }
      },
    };
  }

  /** Stops stepping and aborts every sequence (listeners get `abort`). Leaves no timer behind. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stepTimer?.();
    this.#stepTimer = undefined;
    for (const a of [...this.#arriving]) a.abort();
    const now = this.#clock.now();
    for (const t of [...this.#tracked.values()]) if (this.scheduler.abort(t.seq)) this.#finish(t, now);
  }

  /** Modelled ms of the current idle spell up to `now` (0 while stepping or at timeScale 0). */
  #idleMs(now: number): number {
    if (this.#idleSince === undefined || this.config.timeScale <= 0) return 0;
    return Math.max(0, now - this.#idleSince) / this.config.timeScale;
  }

  #kick(chainFrom: number | undefined): void {
    if (this.#stepTimer || this.#completing || this.#closed) return;
    const now = this.#clock.now();
    if (!this.scheduler.hasWork()) {
      this.#idleSince ??= now;
      return;
    }
    const start = chainFrom !== undefined && now - chainFrom <= MAX_LAG_MS ? Math.min(chainFrom, now) : now;
    const plan = this.scheduler.schedule(start);
    if (plan.preempted.length > 0) this.#observer.preempted?.(plan.preempted.length);
    for (const seq of plan.admitted)
      this.#observer.admitted?.({ queries: seq.tokens.length, hits: seq.computed });
    if (plan.chunks.length === 0) {
      // Nothing fits now; a later arrival or abort kicks again.
      this.#idleSince ??= now;
      return;
    }
    this.#modelledMs += this.#idleMs(start);
    this.#idleSince = undefined;
    const modelledMs = stepDurationMs(this.config, plan.prefillTokens, plan.decodeSeqs);
    const durationMs = modelledMs * this.config.timeScale;
    const end = start + durationMs;
    this.#stepTimer = this.#clock.setTimer(end - now, () => {
      this.#stepTimer = undefined;
      this.#completing = true;
      this.#modelledMs += modelledMs;
      try {
        this.#completeStep(plan, end, durationMs);
      } finally {
        this.#completing = false;
      }
      this.#kick(end);
    });
  }

  #completeStep(plan: StepPlan, at: number, durationMs: number): void {
    this.#steps++;
    this.#promptTokensComputed += plan.prefillTokens;
    const outcome = this.scheduler.complete(plan);
    this.#generationTokens += outcome.emitted.length;
    this.#observer.stepFinished?.({
      prefillTokens: plan.prefillTokens,
      decodeTokens: plan.decodeSeqs,
      generatedTokens: outcome.emitted.length,
      durationMs,
    });
    for (const { seq, token, index } of outcome.emitted) {
      const t = this.#tracked.get(seq);
      if (!t) continue;
      if (t.lastTokenAt === undefined) {
        t.ttftMs = at - t.submittedAt;
        this.#observer.firstToken?.({ ttftMs: t.ttftMs, promptTokens: seq.promptLength });
      } else {
        this.#observer.interToken?.(at - t.lastTokenAt);
      }
      t.lastTokenAt = at;
      t.listener.token?.(token, index);
    }
    for (const seq of outcome.finished) {
      const t = this.#tracked.get(seq);
      if (t) this.#finish(t, at);
    }
  }

  #finish(t: Tracked, at: number): void {
    this.#tracked.delete(t.seq);
    const { seq } = t;
    const result: SequenceResult = {
      finishReason: seq.finishReason ?? 'abort',
      promptTokens: seq.promptLength,
      cachedTokens: seq.cachedTokens ?? 0,
      completionTokens: seq.generated,
      preemptions: seq.preemptions,
      e2eMs: at - t.submittedAt,
      queueMs:
        seq.firstScheduledAt !== undefined ? Math.max(0, seq.firstScheduledAt - t.enqueuedAt) : undefined,
      ttftMs: t.ttftMs,
      inferenceMs: seq.firstScheduledAt !== undefined ? at - seq.firstScheduledAt : undefined,
    };
    this.#observer.finished?.(result);
    t.listener.finish(result);
    // An abort frees blocks and batch slots: a waiting sequence may fit now.
    this.#kick(undefined);
  }
}
