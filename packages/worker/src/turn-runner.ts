import { randomUUID } from 'node:crypto';
import { FleetError, type Logger, type TurnJob, turnJobSchema } from '@agent-fleet/core';
import type { LlmPool, PoolMessage } from '@agent-fleet/llm';
import {
  CITATION_INSTRUCTIONS,
  type Citation,
  citationsUsed,
  formatPassages,
  type Retriever,
} from '@agent-fleet/rag';
import type { Profile, Transcript } from '@agent-fleet/state';
import {
  type BeginResult,
  decodePending,
  type PartitionQueues,
  type Scratchpad,
  TokenBuffer,
  type TurnControl,
  type TurnEvents,
  type TurnGate,
  type TurnRecords,
} from '@agent-fleet/turns';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { type AgentLoopOptions, runAgentLoop } from './agent/loop.ts';
import type { ToolRegistry } from './agent/tools.ts';
import { type Memory, messageTokens } from './memory.ts';
import type { WorkerMetrics } from './metrics.ts';
import {
  CheckpointWriter,
  type CoalescedTurn,
  decodeCheckpoint,
  type Grounding,
  type TurnCheckpoint,
} from './turn/checkpoint.ts';
import { TurnFinisher } from './turn-finisher.ts';

export interface TurnRunnerOptions {
  gate: TurnGate;
  records: TurnRecords;
  partitions: PartitionQueues;
  transcript: Transcript;
  scratchpad: Scratchpad;
  llm: LlmPool;
  memory: Memory;
  events: TurnEvents;
  control: TurnControl;
  tools: ToolRegistry;
  maxSteps: number;
  maxTokens: number;
  /** Fault injection: SIGKILL this process right after the n-th checkpoint of a turn (0: never). */
  crashAfterCheckpoint: number;
  profiles: { get(userId: string): Promise<Profile | null> };
  retriever: Retriever;
  /** Passages retrieved per user message (0 turns retrieval off). */
  topK: number;
  /** Token budget of the passages in a prompt. */
  contextTokens: number;
  metrics: WorkerMetrics;
  logger: Logger;
  systemPrompt: string;
  attempts: number;
  parkDelayMs: number;
  gapGraceMs: number;
}

export type TurnOutcome =
  | { status: 'completed'; turnId: string; seq: number; reply: string; citations: Citation[] }
  | { status: 'cancelled' | 'interrupted'; turnId: string; seq: number }
  | { status: 'duplicate'; turnId: string; seq: number };

/**
 * Runs one delivery of a turn job: passes it through the per-user gate, runs the turn, records it
 * (Postgres, history, turn record; each idempotent on turnId/seq), finishes it in the gate and
 * wakes the user's next turn. A delivery that may not run yet gives its worker slot back.
 */
/** Why a turn stopped at a step boundary when a later message asked to interrupt it. */
class InterruptedError extends FleetError {
  constructor() {
    super('conflict', 'interrupted by a newer message', { retryable: false });
    this.name = 'InterruptedError';
  }
}

/** Why a turn stopped when someone cancelled it. */
class CancelledError extends FleetError {
  constructor() {
    super('conflict', 'cancelled by request', { retryable: false });
    this.name = 'CancelledError';
  }
}

export class TurnRunner {
  readonly #o: TurnRunnerOptions;
  readonly #finish: TurnFinisher;
  /** The turns this process runs now, to stop one at once when it is cancelled. */
  readonly #running = new Map<string, AbortController>();

  constructor(opts: TurnRunnerOptions) {
    this.#o = opts;
    this.#finish = new TurnFinisher(opts);
  }

  /** Stop a turn this process runs (a cancellation was published); false when it runs elsewhere. */
  cancel(turnId: string): boolean {
    const controller = this.#running.get(turnId);
    controller?.abort(new CancelledError());
    return controller !== undefined;
  }

  async process(job: Job, token: string | undefined): Promise<TurnOutcome> {
    const parsed = turnJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid turn job payload: ${z.prettifyError(parsed.error)}`);
    }
    const t = parsed.data;
    const lease = `${job.id}.${token ?? randomUUID()}`;
    const decision = await this.#o.gate.begin(t.userId, t.seq, t.turnId, lease);
    this.#o.metrics.gate.inc({ decision: decision.kind });
    switch (decision.kind) {
      case 'duplicate':
        return { status: 'duplicate', turnId: t.turnId, seq: t.seq };
      case 'busy':
        return this.#delay(job, token, Math.min(decision.leaseMsLeft + 25, this.#o.gate.leaseMs), t, false);
      case 'park':
        if (Date.now() - t.enqueuedAt > this.#o.gapGraceMs)
          await this.#finish.repairPredecessor(t.userId, decision.done);
        return this.#delay(job, token, this.#o.parkDelayMs, t, true);
      case 'acquired':
        return this.#run(job, t, lease, decision);
    }
  }

  /**
   * Hand the slot back: the job waits in `delayed` until its predecessor finishes and promotes it, or
   * until the safety delay passes. Checking `done` after the move closes the race with a finish
   * that tried to promote this job while it was still active.
   */
  async #delay(job: Job, token: string | undefined, ms: number, t: TurnJob, park: boolean): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    if (park) {
      const view = await this.#o.gate.peek(t.userId);
      if (view.done >= t.seq - 1) await job.promote().catch(() => {});
    }
    throw new DelayedError();
  }

  async #run(
    job: Job,
    t: TurnJob,
    lease: string,
    begun: Extract<BeginResult, { kind: 'acquired' }>,
  ): Promise<TurnOutcome> {
    const o = this.#o;
    const log = o.logger.child({
      turnId: t.turnId,
      userId: t.userId,
      seq: t.seq,
      attempt: job.attemptsMade + 1,
    });
    const startedAt = Date.now();
    o.metrics.queueSeconds.observe((startedAt - t.enqueuedAt) / 1000);
    const abort = new AbortController();
    this.#running.set(t.turnId, abort);
    let partial = '';
    const renew = setInterval(
      () => {
        o.gate.renew(t.userId, lease).then(
          (ok) => {
            if (!ok) abort.abort(new FleetError('conflict', 'turn lease lost', { retryable: true }));
          },
          () => {},
        );
      },
      Math.max(250, Math.floor(o.gate.leaseMs / 3)),
    );
    try {
      log.info('turn started');
      if (await o.control.isCancelled(t.userId, t.turnId)) throw new CancelledError();
      const resumed = decodeCheckpoint(begun.scratchpad);
      const { history, meta } = await o.memory.recall(t.userId, t.seq, begun.history, begun.meta);
      const profile = await o.profiles.get(t.userId);
      // Messages sent with `coalesce` after this one and not started yet are answered by this turn.
      const merged = resumed.coalesced ?? (await this.#coalesced(t, log));
      const asked =
        merged.length > 0 ? { ...t, text: [t.text, ...merged.map((m) => m.text)].join('\n\n') } : t;
      const grounding = resumed.grounding ?? (await this.#retrieve(asked, profile, log));
      const saved = resumed.steps;
      const checkpoint = this.#checkpoint(t, resumed, { grounding, coalesced: merged });
      if (saved.length > 0) log.info({ steps: saved.length }, 'resuming from checkpoint');
      const attempt = job.attemptsMade + 1;
      await o.events.publish(t.userId, t.turnId, { type: 'status', status: 'running', attempt });
      if (saved.length > 0 || attempt > 1)
        await o.events.publish(t.userId, t.turnId, { type: 'restart', attempt });
      const tokens = new TokenBuffer((text) => o.events.publish(t.userId, t.turnId, { type: 'token', text }));
      partial = [...saved].reverse().find((s) => s.kind === 'model')?.content ?? '';
      const found = [...grounding.citations];
      const loop = await runAgentLoop(
        this.#prompt(asked, profile, o.memory.promptMessages(history, meta), grounding),
        {
          llm: o.llm,
          registry: o.tools,
          ...agentSettings(profile),
          userId: t.userId,
          ...(profile ? { tenant: profile.tenant } : {}),
          signal: abort.signal,
          maxSteps: o.maxSteps,
          maxTokens: o.maxTokens,
          saved,
          save: (index, step) => checkpoint.save(index, step),
          guard: async () => {
            const stop = await o.control.check(t.userId, t.turnId, t.seq);
            if (stop === 'cancel') throw new CancelledError();
            if (stop === 'interrupt') throw new InterruptedError();
          },
          events: {
            token: (text) => tokens.push(text),
            step: async (index, step) => {
              if (step.kind === 'model' && step.content) partial = step.content;
              await tokens.flush();
              await o.events.publish(t.userId, t.turnId, {
                type: 'step',
                kind: step.kind,
                index,
                ...(step.kind === 'tool' ? { tool: step.name, ok: step.ok } : {}),
              });
            },
            restart: async () => {
              await tokens.flush();
              await o.events.publish(t.userId, t.turnId, { type: 'restart', attempt });
            },
          },
          toolContext: {
            userId: t.userId,
            turnId: t.turnId,
            access: profile ? { tenant: profile.tenant, groups: profile.groups } : null,
            citations: found,
            signal: abort.signal,
          },
        },
      );
      o.metrics.steps.inc(loop.modelCalls + loop.toolCalls);
      const reply = loop.reply;
      const citations = found.length > 0 ? citationsUsed(reply, found) : [];
      abort.signal.throwIfAborted();
      const completedAt = Date.now();
      await o.transcript.record({
        turnId: t.turnId,
        userId: t.userId,
        seq: t.seq,
        ...(t.threadId ? { threadId: t.threadId } : {}),
        status: 'completed',
        enqueuedAt: t.enqueuedAt,
        startedAt,
        completedAt,
        messages: [
          { role: 'user', content: t.text },
          ...merged.map((m) => ({ role: 'user' as const, content: m.text })),
          { role: 'assistant', content: reply },
        ],
        citations,
      });
      let fin = await this.#finish.commit(
        t,
        lease,
        'completed',
        reply,
        [
          { role: 'user', content: t.text, turnId: t.turnId, seq: t.seq, tokens: messageTokens(t.text) },
          ...merged.map((m) => ({
            role: 'user' as const,
            content: m.text,
            turnId: t.turnId,
            seq: t.seq,
            tokens: messageTokens(m.text),
          })),
          { role: 'assistant', content: reply, turnId: t.turnId, seq: t.seq, tokens: messageTokens(reply) },
        ],
        citations,
        merged.length === 0,
      );
      if (merged.length > 0) fin = await this.#finish.merged(t, merged, reply, citations, log);
      if (fin.kind === 'finished') {
        // The turn is done; folding old turns into the summary must not undo or fail it.
        await o.memory.foldIfNeeded(t.userId, fin.historyTokens).catch((err: unknown) => {
          log.warn(
            { err: (err as Error).message },
            'could not fold the history; will try after the next turn',
          );
        });
      }
      await o.events.publish(t.userId, t.turnId, { type: 'done', status: 'completed', reply, citations });
      o.metrics.turns.inc({ outcome: 'completed' });
      o.metrics.turnSeconds.observe((Date.now() - startedAt) / 1000);
      log.info({ ms: Date.now() - startedAt }, 'turn completed');
      return { status: 'completed', turnId: t.turnId, seq: t.seq, reply, citations };
    } catch (caught) {
      const err = abort.signal.reason instanceof CancelledError ? abort.signal.reason : caught;
      if (err instanceof CancelledError) {
        await this.#finish.cancelled(t, lease, log);
        return { status: 'cancelled', turnId: t.turnId, seq: t.seq };
      }
      if (err instanceof InterruptedError) {
        await this.#finish.interrupted(t, lease, partial, log);
        return { status: 'interrupted', turnId: t.turnId, seq: t.seq };
      }
      const retryable = !(err instanceof FleetError) || err.isRetryable;
      const final = !retryable || job.attemptsMade + 1 >= o.attempts;
      log.warn({ err, final }, 'turn attempt failed');
      if (!final) {
        await o.gate.release(t.userId, lease).catch(() => {});
        throw err;
      }
      await this.#finish.failure(t, (err as Error).message, lease);
      throw new UnrecoverableError((err as Error).message);
    } finally {
      clearInterval(renew);
      this.#running.delete(t.turnId);
    }
  }

  /**
   * Passages the user may read that match the message. Access comes only from the stored profile
   * (never from the request); a user without one gets no passages.
   */
  async #retrieve(t: TurnJob, profile: Profile | null, log: Logger): Promise<Grounding> {
    if (!profile || this.#o.topK === 0) return { context: '', citations: [] };
    const hits = await this.#o.retriever.search({ tenant: profile.tenant, groups: profile.groups }, t.text, {
      k: this.#o.topK,
    });
    log.debug({ hits: hits.length }, 'retrieved passages');
    return formatPassages(hits, { maxTokens: this.#o.contextTokens });
  }

  /**
   * Prompt layout for the servers' prefix cache: system prompt and role context first, then the
   * summary and history exactly as the last turn sent them, and this turn's passages inside the
   * newest user message only, so everything before it is a prefix the server has already cached.
   */
  #prompt(t: TurnJob, profile: Profile | null, memory: PoolMessage[], grounding: Grounding): PoolMessage[] {
    const system = profile?.roleContext
      ? `${this.#o.systemPrompt}\n\n${profile.roleContext}`
      : this.#o.systemPrompt;
    const question = grounding.context
      ? `${CITATION_INSTRUCTIONS}\n\nPassages:\n${grounding.context}\n\nQuestion: ${t.text}`
      : t.text;
    return [{ role: 'system', content: system }, ...memory, { role: 'user', content: question }];
  }

  /** The turn's checkpoint writer; with fault injection on, the process dies right after the chosen save. */
  #checkpoint(
    t: TurnJob,
    resumed: TurnCheckpoint,
    decided: { grounding: Grounding; coalesced: CoalescedTurn[] },
  ): CheckpointWriter {
    return new CheckpointWriter({
      store: this.#o.scratchpad,
      turn: t,
      resumed,
      decided,
      onSaved: (index, seconds) => {
        this.#o.metrics.checkpointSeconds.observe(seconds);
        if (this.#o.crashAfterCheckpoint === index) {
          this.#o.logger.warn(
            { turnId: t.turnId, checkpoint: index },
            'fault injection: killing this worker',
          );
          process.kill(process.pid, 'SIGKILL');
        }
      },
    });
  }

  /**
   * The later messages this turn answers too: those sent with `coalesce` right after it and not
   * started yet. Decided once, and checkpointed with the turn's first step.
   */
  async #coalesced(t: TurnJob, log: Logger): Promise<CoalescedTurn[]> {
    const merged: CoalescedTurn[] = [];
    for (const { seq, payload } of await this.#o.gate.pendingAfter(t.userId, t.seq)) {
      const next = decodePending(seq, payload);
      if (!next.coalesce) break;
      merged.push({ seq, turnId: next.turnId, text: next.text, enqueuedAt: next.enqueuedAt });
    }
    if (merged.length > 0)
      log.info({ coalesced: merged.map((m) => m.seq) }, 'answering later messages in this turn');
    return merged;
  }

  /** Record a turn whose job failed for good without the runner seeing it (it stalled too often). */
  recordFailure(t: TurnJob, error: string): Promise<void> {
    return this.#finish.failure(t, error, '');
  }
}

/** What the profile sets for the agent loop: model, sampling and tools (the deployment's when unset). */
function agentSettings(
  profile: Profile | null,
): Pick<AgentLoopOptions, 'model' | 'temperature' | 'enabledTools'> {
  const s = profile?.settings;
  return {
    ...(s?.model !== undefined ? { model: s.model } : {}),
    ...(s?.temperature !== undefined ? { temperature: s.temperature } : {}),
    ...(s?.tools !== undefined ? { enabledTools: s.tools } : {}),
  };
}
