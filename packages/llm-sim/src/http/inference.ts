import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ContentReply } from '../content.ts';
import type { SequenceResult } from '../engine/engine.ts';
import type { SequenceSpec } from '../engine/sequence.ts';
import type { FaultPlan } from '../faults.ts';
import { encodeText, tokenPieces } from '../tokens.ts';
import type { PlannedToolCall } from '../tool-calls.ts';
import { firstHeader, type SimContext, sendError } from './context.ts';

/** One inference request's lifetime: aborted when the client goes away or the simulator closes. */
export interface RequestScope {
  /** Fires when the client disconnects before the response finished. */
  clientGone: AbortSignal;
  /** Either of the above or the simulator closing. */
  signal: AbortSignal;
  /** The body `user` field, else the `x-user-id` header. */
  user: string | undefined;
  headerUser: string | undefined;
}

/** The completion id: `<prefix>-<request_id>` when the body or the `x-request-id` header gives one (as vLLM). */
export function completionId(
  prefix: string,
  request: FastifyRequest,
  bodyRequestId: string | null | undefined,
): string {
  const given = bodyRequestId ?? firstHeader(request.headers['x-request-id']);
  return `${prefix}-${given ?? randomUUID().replaceAll('-', '')}`;
}

/** Opens a scope and counts the request in flight until its response closes. */
export function openScope(
  ctx: SimContext,
  request: FastifyRequest,
  reply: FastifyReply,
  bodyUser: string | null | undefined,
): RequestScope {
  const clientGone = new AbortController();
  const done = ctx.track();
  const onClose = () => {
    if (!reply.raw.writableFinished) clientGone.abort();
    done();
  };
  if (reply.raw.closed) onClose();
  else reply.raw.once('close', onClose);
  const headerUser = firstHeader(request.headers['x-user-id']);
  return {
    clientGone: clientGone.signal,
    signal: AbortSignal.any([clientGone.signal, ctx.shutdown]),
    user: bodyUser ?? headerUser,
    headerUser,
  };
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Resolves after `ms` (at once when 0); false when the scope was aborted first. */
export async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (isAbortError(error)) return false;
    throw error;
  }
}

/** Resolves when `signal` fires; sets no timer, so a hung request leaks nothing once it ends. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Ends a request the simulator is closing under: a 503 (nobody reads it when the client is gone). */
export function sendUnavailable(reply: FastifyReply): FastifyReply {
  return sendError(reply, 503, 'simulator is shutting down', 'server_error', 'unavailable');
}

/**
 * Applies the request's fault plan before it reaches the engine: die, 429, delay (base latency,
 * rules, spike), 500, hang. Returns true when the request should go on to the engine; otherwise
 * the reply has been dealt with.
 */
export async function applyFaults(
  ctx: SimContext,
  scope: RequestScope,
  reply: FastifyReply,
  plan: FaultPlan,
): Promise<boolean> {
  if (plan.die) {
    reply.hijack();
    ctx.die();
    return false;
  }
  if (plan.rateLimited) {
    ctx.stats.recordRateLimited();
    const retryAfter = ctx.faults.config.retryAfterSeconds;
    reply.header('retry-after', String(retryAfter));
    sendError(
      reply,
      429,
      'simulated rate limit: too many requests',
      'rate_limit_error',
      'rate_limit_exceeded',
    );
    return false;
  }
  if (!(await wait(plan.delayMs, scope.signal))) {
    sendUnavailable(reply);
    return false;
  }
  if (plan.fail) {
    ctx.stats.recordFailure();
    sendError(reply, 500, 'simulated failure', 'server_error');
    return false;
  }
  if (plan.hang) {
    ctx.stats.recordHang();
    await untilAborted(scope.signal);
    sendUnavailable(reply);
    return false;
  }
  return true;
}

/** The tokens the engine will emit for a reply, and what each one adds to the output. */
export interface OutputPlan {
  tokens: number[];
  /** Text each token adds (content, or arguments of its tool call). */
  pieces: string[];
  /** Per token: the tool call it belongs to, or -1 for content. */
  callOf: number[];
  calls: PlannedToolCall[];
}

export function planOutput(reply: ContentReply): OutputPlan {
  if (reply.kind === 'text') {
    const tokens = encodeText(reply.text);
    return {
      tokens,
      pieces: tokenPieces(reply.text, tokens.length),
      callOf: tokens.map(() => -1),
      calls: [],
    };
  }
  const plan: OutputPlan = { tokens: [], pieces: [], callOf: [], calls: reply.calls };
  reply.calls.forEach((call, i) => {
    const tokens = encodeText(call.arguments);
    plan.tokens.push(...tokens);
    plan.pieces.push(...tokenPieces(call.arguments, tokens.length));
    plan.callOf.push(...tokens.map(() => i));
  });
  return plan;
}

/** The message an OpenAI client sees once `count` tokens of `plan` were emitted. */
export function assembleMessage(
  plan: OutputPlan,
  count: number,
): {
  content: string | null;
  toolCalls: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
} {
  if (plan.calls.length === 0) return { content: plan.pieces.slice(0, count).join(''), toolCalls: [] };
  const args = plan.calls.map(() => '');
  let lastCall = -1;
  for (let i = 0; i < count; i++) {
    const c = plan.callOf[i]!;
    args[c] += plan.pieces[i]!;
    lastCall = c;
  }
  // Calls are complete up to the last one reached; all of them when every token was emitted.
  const reached = count >= plan.tokens.length ? plan.calls.length : lastCall + 1;
  return {
    content: null,
    toolCalls: plan.calls.slice(0, reached).map((call, i) => ({
      id: call.id,
      type: 'function' as const,
      function: { name: call.name, arguments: args[i]! },
    })),
  };
}

/** The finish reason a client sees: `tool_calls` for a completed tool-call reply. */
export function clientFinishReason(result: SequenceResult, plan: OutputPlan): string {
  if (result.finishReason === 'stop' && plan.calls.length > 0) return 'tool_calls';
  return result.finishReason;
}

/**
 * Runs one sequence through the engine, aborting it when `signal` fires. Resolves with the result
 * (reason `abort` when cut short); `onToken` sees each token as the engine emits it.
 */
export function runSequence(
  ctx: SimContext,
  spec: SequenceSpec,
  signal: AbortSignal,
  onToken?: (token: number, index: number) => void,
): Promise<SequenceResult> {
  return new Promise((resolve) => {
    let handle: { abort(): void };
    const abort = () => handle.abort();
    try {
      handle = ctx.engine.submit(spec, {
        token: onToken,
        finish: (result) => {
          signal.removeEventListener('abort', abort);
          resolve(result);
        },
      });
    } catch {
      // The engine closed under us (the simulator is closing or died).
      resolve(abortedBeforeStart(spec));
      return;
    }
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

function abortedBeforeStart(spec: SequenceSpec): SequenceResult {
  return {
    finishReason: 'abort',
    promptTokens: spec.promptTokens.length,
    cachedTokens: 0,
    completionTokens: 0,
    preemptions: 0,
    e2eMs: 0,
    queueMs: undefined,
    ttftMs: undefined,
    inferenceMs: undefined,
  };
}

/** OpenAI's usage block, with vLLM's `prompt_tokens_details.cached_tokens`. */
export function usageOf(results: readonly SequenceResult[]) {
  const prompt = results.reduce((s, r) => s + r.promptTokens, 0);
  const completion = results.reduce((s, r) => s + r.completionTokens, 0);
  const cached = results.reduce((s, r) => s + r.cachedTokens, 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}
