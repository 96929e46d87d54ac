import { ATTR } from '@agent-fleet/core';
import type { LlmPool, PoolChatRequest, PoolChatResult, PoolMessage, PoolWaitEvent } from '@agent-fleet/llm';
import { type StageTimer, UNTIMED } from '../stage-timer.ts';
import type { AgentStep } from './steps.ts';
import type { ToolContext, ToolRegistry } from './tools.ts';

export interface AgentLoopOptions {
  /** The pool, or a metered view of it (each call held against the budgets and counted). */
  llm: Pick<LlmPool, 'chat' | 'chatStream'>;
  registry: ToolRegistry;
  /** Tool names the agent may use (all registered when undefined; none when empty). */
  enabledTools?: readonly string[];
  userId: string;
  tenant?: string;
  /** The agent's model and temperature, from its profile. */
  model?: string;
  temperature?: number;
  signal: AbortSignal;
  /** Model calls per turn; the last one may not call tools. */
  maxSteps: number;
  /** Prompt + completion tokens per turn; past it the next model call must answer. */
  maxTokens: number;
  /** Steps finished by an earlier delivery of this turn (from its checkpoint). */
  saved: AgentStep[];
  /** Checkpoint step `index` (1-based) before it counts as done. */
  save: (index: number, step: AgentStep) => Promise<void>;
  toolContext: Omit<ToolContext, 'callId'>;
  /** Times each model call, tool call and checkpoint as its stage (untimed when absent). */
  stages?: StageTimer;
  /** Called at every step boundary; throws to stop the turn there (cancelled, interrupted). */
  guard?: () => Promise<void>;
  /** Watchers of the turn: streamed tokens, finished steps, a restart on another server, waits on the model. */
  events?: {
    token(text: string): void;
    step(index: number, step: AgentStep): Promise<void>;
    restart(): Promise<void>;
    /** A model call waits: for a free slot, or for its next try after a failed one (must not throw). */
    waiting(event: PoolWaitEvent): void;
  };
}

export interface AgentLoopResult {
  reply: string;
  steps: AgentStep[];
  /** Model calls made by this delivery (replayed steps are not called again). */
  modelCalls: number;
  toolCalls: number;
}

/**
 * The agent loop of one turn: the model answers or calls tools; each tool result goes back to it;
 * until it answers, or the step or token limit makes it answer. Every step is checkpointed before
 * the next begins, and a redelivered turn replays finished steps from the checkpoint: a model call
 * or tool call that finished is never made again.
 */
export async function runAgentLoop(messages: PoolMessage[], o: AgentLoopOptions): Promise<AgentLoopResult> {
  const steps = [...o.saved];
  const convo = [...messages];
  for (const s of steps) convo.push(toMessage(s));
  const tools = o.registry.specs(o.enabledTools);
  let modelCalls = 0;
  let toolCalls = 0;
  const stages = o.stages ?? UNTIMED;
  const record = async (step: AgentStep) => {
    await stages.time('checkpoint', () => o.save(steps.length + 1, step));
    steps.push(step);
    convo.push(toMessage(step));
    await o.events?.step(steps.length, step);
  };

  for (;;) {
    const last = [...steps].reverse().find((s) => s.kind === 'model');
    if (last && last.kind === 'model') {
      const answered = new Set(steps.flatMap((s) => (s.kind === 'tool' ? [s.callId] : [])));
      const pending = last.toolCalls.filter((c) => !answered.has(c.id));
      const modelSteps = steps.filter((s) => s.kind === 'model').length;
      if (last.toolCalls.length === 0 || (modelSteps >= o.maxSteps && pending.length === 0)) {
        return {
          reply: last.content || 'I could not finish this answer within the limits set for one turn.',
          steps,
          modelCalls,
          toolCalls,
        };
      }
      for (const call of pending) {
        o.signal.throwIfAborted();
        await o.guard?.();
        const result = await stages.time(
          'tool',
          async (span) => {
            span.setAttribute('gen_ai.tool.call.id', call.id);
            const r = await o.registry.call(
              call.name,
              call.arguments,
              { ...o.toolContext, callId: call.id },
              o.enabledTools,
            );
            span.setAttribute(ATTR.toolOk, r.ok);
            return r;
          },
          call.name,
        );
        toolCalls++;
        await record({
          kind: 'tool',
          callId: call.id,
          name: call.name,
          ok: result.ok,
          content: result.content,
        });
      }
    }
    o.signal.throwIfAborted();
    await o.guard?.();
    const modelSteps = steps.filter((s) => s.kind === 'model').length;
    const used = steps.reduce(
      (n, s) => n + (s.kind === 'model' ? s.promptTokens + s.completionTokens : 0),
      0,
    );
    const mustAnswer = modelSteps + 1 >= o.maxSteps || used >= o.maxTokens;
    const res = await stages.time('model', () =>
      streamModel(o, stages, {
        userId: o.userId,
        ...(o.tenant ? { tenant: o.tenant } : {}),
        priority: 'interactive',
        ...(o.model ? { model: o.model } : {}),
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        signal: o.signal,
        messages: convo,
        ...(tools.length > 0
          ? { tools, toolChoice: mustAnswer ? ('none' as const) : ('auto' as const) }
          : {}),
      }),
    );
    modelCalls++;
    const seen = new Set<string>();
    const calls = mustAnswer
      ? []
      : res.toolCalls.map((c, i) => {
          // Ids must be unique within the turn: they key the tool results and idempotent effects.
          let id = c.id || `call_${modelSteps + 1}_${i}`;
          if (seen.has(id)) id = `${id}_${i}`;
          seen.add(id);
          return { ...c, id };
        });
    await record({
      kind: 'model',
      content: res.content,
      toolCalls: calls,
      promptTokens: res.promptTokens,
      completionTokens: res.completionTokens,
    });
  }
}

/** One model call, streamed so watchers see tokens as they come; the result is the whole answer. */
async function streamModel(
  o: AgentLoopOptions,
  stages: StageTimer,
  req: PoolChatRequest,
): Promise<PoolChatResult> {
  const events = o.events;
  if (!events) return o.llm.chat(req);
  for await (const ev of o.llm.chatStream({ ...req, onWait: (e) => events.waiting(e) })) {
    if (ev.type === 'delta') {
      stages.firstToken();
      events.token(ev.content);
    } else if (ev.type === 'restart') await events.restart();
    else return ev.result;
  }
  throw new Error('the stream ended without a result');
}

function toMessage(step: AgentStep): PoolMessage {
  if (step.kind === 'tool') return { role: 'tool', tool_call_id: step.callId, content: step.content };
  return step.toolCalls.length > 0
    ? {
        role: 'assistant',
        content: step.content || null,
        tool_calls: step.toolCalls.map((c) => ({
          id: c.id,
          type: 'function' as const,
          function: { name: c.name, arguments: c.arguments },
        })),
      }
    : { role: 'assistant', content: step.content };
}
