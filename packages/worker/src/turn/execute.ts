import type { TurnJob } from '@agent-fleet/core';
import { type Citation, citationsUsed } from '@agent-fleet/rag';
import type { Profile } from '@agent-fleet/state';
import type { TurnControl } from '@agent-fleet/turns';
import { type AgentLoopOptions, runAgentLoop } from '../agent/loop.ts';
import type { AgentStep } from '../agent/steps.ts';
import type { ToolRegistry } from '../agent/tools.ts';
import type { StageTimer } from '../stage-timer.ts';
import { CancelledError, InterruptedError } from './errors.ts';
import type { TurnObserver } from './observer.ts';
import type { PreparedTurn } from './prepare.ts';

/** What a turn's run produced: the answer, and the sources it used. */
export interface Execution {
  reply: string;
  citations: Citation[];
}

export interface ExecutePorts {
  tools: ToolRegistry;
  control: Pick<TurnControl, 'check'>;
}

export interface AgentLimits {
  /** Model calls per turn. */
  maxSteps: number;
  /** Prompt + completion tokens per turn. */
  maxTokens: number;
}

/** What one delivery's run is bound to: its abort signal, its checkpoint, its watchers. */
export interface RunBindings {
  signal: AbortSignal;
  checkpoint: { save(index: number, step: AgentStep): Promise<void> };
  observer: TurnObserver;
  /** Times each model call, tool call and checkpoint as its stage. */
  stages: StageTimer;
}

/**
 * Runs a prepared turn's agent loop with the profile's model, sampling and tools, resuming after
 * the checkpointed steps. Every model call goes through the turn's meter: held against the budgets
 * before (a turn whose budget ran out stops there, after its last finished step, with
 * `quota_exceeded`) and counted after. It stops at a step boundary when the turn is cancelled or
 * interrupted, and at once when the signal aborts; either way it throws, and settling decides what
 * that means.
 */
export class TurnExecutor {
  readonly #ports: ExecutePorts;
  readonly #limits: AgentLimits;

  constructor(ports: ExecutePorts, limits: AgentLimits) {
    this.#ports = ports;
    this.#limits = limits;
  }

  async execute(p: PreparedTurn, run: RunBindings): Promise<Execution> {
    const { job, profile } = p;
    // Tools that show passages add their citations here, numbered after the grounding's.
    const found = [...p.grounding.citations];
    const loop = await runAgentLoop(p.prompt, {
      llm: p.meter.llm('chat'),
      registry: this.#ports.tools,
      ...agentSettings(profile),
      userId: job.userId,
      ...(profile ? { tenant: profile.tenant } : {}),
      signal: run.signal,
      maxSteps: this.#limits.maxSteps,
      maxTokens: this.#limits.maxTokens,
      saved: p.resumed.steps,
      save: (index, step) => run.checkpoint.save(index, step),
      guard: () => this.#guard(job),
      events: run.observer,
      stages: run.stages,
      toolContext: {
        userId: job.userId,
        turnId: job.turnId,
        access: profile ? { tenant: profile.tenant, groups: profile.groups } : null,
        citations: found,
        signal: run.signal,
        onEmbeddingUsage: p.meter.onEmbedding,
      },
    }).finally(() => p.meter.flush());
    run.observer.ran(loop);
    // A cancellation that arrived as the last step finished still cancels the turn.
    run.signal.throwIfAborted();
    return { reply: loop.reply, citations: found.length > 0 ? citationsUsed(loop.reply, found) : [] };
  }

  async #guard(job: TurnJob): Promise<void> {
    const stop = await this.#ports.control.check(job.userId, job.turnId, job.seq);
    if (stop === 'cancel') throw new CancelledError();
    if (stop === 'interrupt') throw new InterruptedError();
  }
}

/** What the profile sets for the agent loop: model, sampling and tools (the deployment's when unset). */
export function agentSettings(
  profile: Profile | null,
): Pick<AgentLoopOptions, 'model' | 'temperature' | 'enabledTools'> {
  const s = profile?.settings;
  return {
    ...(s?.model !== undefined ? { model: s.model } : {}),
    ...(s?.temperature !== undefined ? { temperature: s.temperature } : {}),
    ...(s?.tools !== undefined ? { enabledTools: s.tools } : {}),
  };
}
