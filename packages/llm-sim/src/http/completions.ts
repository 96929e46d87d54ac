import { decodeTokens } from '@agent-fleet/core';
import type { FastifyInstance } from 'fastify';
import type { SequenceSpec } from '../engine/sequence.ts';
import { completionRequestSchema, describeZodError, requestedJsonSchema } from '../openai-schema.ts';
import { encodeText } from '../tokens.ts';
import { type SimContext, sendError } from './context.ts';
import {
  applyFaults,
  assembleMessage,
  completionId,
  type OutputPlan,
  openScope,
  planOutput,
  runSequence,
  sendUnavailable,
  usageOf,
  wait,
} from './inference.ts';
import { SseStream } from './sse.ts';

/** OpenAI's and vLLM's default `max_tokens` for `/v1/completions`. */
const DEFAULT_COMPLETION_MAX_TOKENS = 16;

/** The prompts of a completion request: each as text (for the content mode) and as token ids. */
function promptsOf(prompt: string | string[] | number[] | number[][]): { text: string; tokens: number[] }[] {
  if (typeof prompt === 'string') return [{ text: prompt, tokens: encodeText(prompt) }];
  if (prompt.every((p) => typeof p === 'string'))
    return prompt.map((text) => ({ text, tokens: encodeText(text) }));
  if (prompt.every((p) => typeof p === 'number')) return [{ text: decodeTokens(prompt), tokens: prompt }];
  return (prompt as number[][]).map((tokens) => ({ text: decodeTokens(tokens), tokens }));
}

/**
 * `POST /v1/completions`: a prompt or a list of prompts (strings or token ids), one choice per
 * prompt, every prompt a sequence of its own in the engine (they batch like separate requests).
 * The content mode sees each prompt as a one-message conversation.
 */
export function registerCompletionsRoute(app: FastifyInstance, ctx: SimContext): void {
  app.post('/v1/completions', async (request, reply) => {
    const parsed = completionRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const { message, param } = describeZodError(parsed.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_request', param);
    }
    const body = parsed.data;
    const prompts = promptsOf(body.prompt);
    const maxTokens = body.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS;
    for (const p of prompts) {
      const rejection = ctx.engine.rejectReason(p.tokens.length, maxTokens);
      if (rejection)
        return sendError(reply, 400, rejection, 'invalid_request_error', 'invalid_request', 'prompt');
    }

    const scope = openScope(ctx, request, reply, body.user);
    ctx.stats.recordRequest(scope.user);
    const plan = ctx.faults.plan({
      user: body.user ?? undefined,
      headerUser: scope.headerUser,
      lastUserText: prompts.map((p) => p.text).join('\n'),
    });
    if (!(await applyFaults(ctx, scope, reply, plan))) return reply;

    const model = body.model ?? ctx.modelName;
    const jsonSchema = requestedJsonSchema(body);
    const outputs: OutputPlan[] = prompts.map((p) =>
      planOutput(
        ctx.generate({
          model,
          messages: [{ role: 'user', content: p.text }],
          user: scope.user,
          jsonSchema,
          choice: body.structured_outputs?.choice ?? undefined,
        }),
      ),
    );
    const specs: SequenceSpec[] = prompts.map((p, i) => ({
      promptTokens: p.tokens,
      outputTokens: outputs[i]!.tokens,
      maxTokens,
      priority: body.priority ?? 0,
      cacheSalt: body.cache_salt ?? undefined,
    }));
    const id = completionId('cmpl', request, body.request_id);
    const created = Math.floor(Date.now() / 1000);
    const choice = (index: number, text: string, finishReason: string | null) => ({
      index,
      text,
      logprobs: null,
      finish_reason: finishReason,
      stop_reason: null,
    });

    if (!body.stream) {
      const results = await Promise.all(specs.map((spec) => runSequence(ctx, spec, scope.signal)));
      if (results.some((r) => r.finishReason === 'abort')) return sendUnavailable(reply);
      const generated = results.reduce((s, r) => s + r.completionTokens, 0);
      if (!(await wait(plan.tokenLatencyMs * generated, scope.signal))) return sendUnavailable(reply);
      ctx.stats.recordUsage(scope.user, usageOf(results));
      return reply.send({
        id,
        object: 'text_completion',
        created,
        model,
        choices: results.map((r, i) =>
          choice(i, assembleMessage(outputs[i]!, r.completionTokens).content ?? '', r.finishReason),
        ),
        usage: usageOf(results),
      });
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const usageField = includeUsage ? { usage: null } : {};
    const chunk = (choices: unknown[], extra: Record<string, unknown> = usageField) => ({
      id,
      object: 'text_completion',
      created,
      model,
      choices,
      ...extra,
    });
    const expected = specs.reduce((s, spec) => s + Math.min(spec.outputTokens.length, maxTokens), 0);
    const dropAt =
      plan.dropAtFraction === undefined ? undefined : Math.max(1, Math.floor(plan.dropAtFraction * expected));
    const sse = new SseStream(reply, plan.tokenLatencyMs, scope.signal);
    sse.open();
    let sent = 0;
    let cut = false;
    const results = await Promise.all(
      specs.map(async (spec, i) => {
        const result = await runSequence(ctx, spec, scope.signal, (_token, index) => {
          if (cut) return;
          const cutHere = dropAt !== undefined && ++sent >= dropAt;
          sse.send(chunk([choice(i, outputs[i]!.pieces[index]!, null)]), { paced: true, cut: cutHere });
          if (cutHere) {
            cut = true;
            ctx.stats.recordDroppedStream();
          }
        });
        if (!cut && result.finishReason !== 'abort') sse.send(chunk([choice(i, '', result.finishReason)]));
        return result;
      }),
    );
    if (cut || results.some((r) => r.finishReason === 'abort')) {
      sse.end();
      return reply;
    }
    ctx.stats.recordUsage(scope.user, usageOf(results));
    if (includeUsage) sse.send(chunk([], { usage: usageOf(results) }));
    sse.send('[DONE]');
    sse.end();
    return reply;
  });
}
