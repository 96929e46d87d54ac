import type { TurnJob } from '@agent-fleet/core';
import type { PoolWaitEvent } from '@agent-fleet/llm';
import { TokenBuffer, type TurnEvent, type TurnEvents } from '@agent-fleet/turns';
import type { AgentStep } from '../agent/steps.ts';
import type { TenantTokenWindow } from '../heartbeat/tenant-tokens.ts';
import type { WorkerMetrics } from '../metrics.ts';

/** Watches one delivery of a turn run: its start, streamed tokens, finished steps, and the calls it made. */
export interface TurnObserver {
  /** The delivery starts running; `resumedSteps` were finished by earlier ones. */
  started(resumedSteps: number): Promise<void>;
  token(text: string): void;
  step(index: number, step: AgentStep): Promise<void>;
  /** A model call restarted on another server: tokens since the last step are void. */
  restart(): Promise<void>;
  /** A model call waits (see PoolWaitEvent); must not throw. */
  waiting(event: PoolWaitEvent): void;
  /** The loop ended: the model and tool calls this delivery made (replayed steps excluded). */
  ran(calls: { modelCalls: number; toolCalls: number }): void;
}

/**
 * Tells the turn's watchers (its event stream) and the worker's metrics what the run does. Tokens
 * are coalesced and flushed at every step boundary, so a `step` event follows the text it ended.
 */
export class EventsObserver implements TurnObserver {
  readonly #events: Pick<TurnEvents, 'publish'>;
  readonly #metrics: Pick<WorkerMetrics, 'steps'>;
  readonly #job: TurnJob;
  readonly #attempt: number;
  readonly #tokens: TokenBuffer;
  readonly #usage: { tenant: string; window: Pick<TenantTokenWindow, 'add'> } | undefined;

  constructor(opts: {
    events: Pick<TurnEvents, 'publish'>;
    metrics: Pick<WorkerMetrics, 'steps'>;
    job: TurnJob;
    attempt: number;
    /** Where each model step's tokens are counted for the turn's tenant (turns without a profile have none). */
    tokens?: { tenant: string; window: Pick<TenantTokenWindow, 'add'> };
  }) {
    this.#usage = opts.tokens;
    this.#events = opts.events;
    this.#metrics = opts.metrics;
    this.#job = opts.job;
    this.#attempt = opts.attempt;
    this.#tokens = new TokenBuffer((text) => this.#publish({ type: 'token', text }));
  }

  async started(resumedSteps: number): Promise<void> {
    await this.#publish({ type: 'status', status: 'running', attempt: this.#attempt });
    if (resumedSteps > 0 || this.#attempt > 1)
      await this.#publish({ type: 'restart', attempt: this.#attempt });
  }

  token(text: string): void {
    this.#tokens.push(text);
  }

  async step(index: number, step: AgentStep): Promise<void> {
    if (step.kind === 'model')
      this.#usage?.window.add(this.#usage.tenant, step.promptTokens, step.completionTokens);
    await this.#tokens.flush();
    await this.#publish({
      type: 'step',
      kind: step.kind,
      index,
      ...(step.kind === 'tool' ? { tool: step.name, ok: step.ok } : {}),
    });
  }

  async restart(): Promise<void> {
    await this.#tokens.flush();
    await this.#publish({ type: 'restart', attempt: this.#attempt });
  }

  /**
   * Tells the watchers the turn waits on the model (no free slot, or a failed call tried again in
   * `retryInMs`), and that it runs again once a queued call got its slot.
   */
  waiting(event: PoolWaitEvent): void {
    const e: TurnEvent =
      event.type === 'queued'
        ? { type: 'status', status: 'waiting', reason: 'llm' }
        : event.type === 'retrying'
          ? { type: 'status', status: 'waiting', reason: 'llm', retryInMs: Math.round(event.delayMs) }
          : { type: 'status', status: 'running', attempt: this.#attempt };
    void this.#tokens
      .flush()
      .then(() => this.#publish(e))
      .catch(() => {});
  }

  ran(calls: { modelCalls: number; toolCalls: number }): void {
    this.#metrics.steps.inc(calls.modelCalls + calls.toolCalls);
  }

  #publish(event: TurnEvent): Promise<void> {
    return this.#events.publish(this.#job.userId, this.#job.turnId, event);
  }
}
