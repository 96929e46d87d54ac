import type { FastifyInstance } from 'fastify';
import { renderChatPrompt } from '../chat-template.ts';
import {
  chatRequestSchema,
  describeZodError,
  lastUserText,
  messageText,
  requestedJsonSchema,
  responseFormatName,
} from '../openai-schema.ts';
import { createPrng } from '../prng.ts';
import { breakJson } from '../review.ts';
import { encodeText } from '../tokens.ts';
import { namedTool } from '../tool-calls.ts';
import { type SimContext, sendError } from './context.ts';
import {
  applyFaults,
  assembleMessage,
  clientFinishReason,
  completionId,
  openScope,
  planOutput,
  runSequence,
  sendUnavailable,
  usageOf,
  wait,
} from './inference.ts';
import { SseStream } from './sse.ts';

/**
 * `POST /v1/chat/completions` as vLLM serves it: the conversation is rendered with the simulator's
 * chat template and tokenized, the reply (text, tool calls, or JSON following the requested schema)
 * is produced by the content mode, and the engine emits it token by token, streamed or not.
 */
export function registerChatRoute(app: FastifyInstance, ctx: SimContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const parsed = chatRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const { message, param } = describeZodError(parsed.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_request', param);
    }
    const body = parsed.data;
    const tools = body.tools ?? [];
    const named = namedTool(tools, body.tool_choice);
    if (typeof named === 'string')
      return sendError(reply, 400, named, 'invalid_request_error', 'invalid_request', 'tool_choice');
    if (body.tool_choice === 'required' && tools.length === 0) {
      return sendError(
        reply,
        400,
        'tool_choice "required" needs tools',
        'invalid_request_error',
        'invalid_request',
        'tool_choice',
      );
    }
    const promptTokens = encodeText(renderChatPrompt(body.messages, tools));
    const maxTokens =
      body.max_completion_tokens ??
      body.max_tokens ??
      Math.max(1, ctx.engine.config.maxModelLen - promptTokens.length);
    const rejection = ctx.engine.rejectReason(promptTokens.length, maxTokens);
    if (rejection)
      return sendError(reply, 400, rejection, 'invalid_request_error', 'invalid_request', 'messages');

    const scope = openScope(ctx, request, reply, body.user);
    ctx.stats.recordRequest(scope.user);
    ctx.requests.record(
      {
        user: scope.user ?? null,
        model: body.model ?? null,
        temperature: body.temperature ?? null,
        tools: tools.map((t) => t.function.name),
        stream: body.stream === true,
        priority: body.priority ?? 0,
        responseFormat: responseFormatName(body),
      },
      body.messages.map(messageText).join('\n'),
    );
    const userText = lastUserText(body.messages);
    const plan = ctx.faults.plan({
      user: body.user ?? undefined,
      headerUser: scope.headerUser,
      lastUserText: userText,
    });
    if (!(await applyFaults(ctx, scope, reply, plan))) return reply;

    const model = body.model ?? ctx.modelName;
    const jsonSchema = requestedJsonSchema(body);
    const generated = ctx.generate({
      model,
      messages: body.messages,
      user: scope.user,
      tools,
      toolChoice: body.tool_choice,
      jsonSchema,
      choice: body.structured_outputs?.choice ?? undefined,
      jsonSchemaName:
        body.response_format?.type === 'json_schema' ? body.response_format.json_schema.name : undefined,
      review: {
        fabricatedQuoteRate: ctx.faults.config.fabricatedQuoteRate,
        random: createPrng(plan.contentSeed),
      },
    });
    const output = planOutput(
      plan.breakJson && jsonSchema !== undefined && generated.kind === 'text'
        ? { kind: 'text', text: breakJson(generated.text) }
        : generated,
    );
    const spec = {
      promptTokens,
      outputTokens: output.tokens,
      maxTokens,
      priority: body.priority ?? 0,
      cacheSalt: body.cache_salt ?? undefined,
    };
    const id = completionId('chatcmpl', request, body.request_id);
    const created = Math.floor(Date.now() / 1000);

    if (!body.stream) {
      const result = await runSequence(ctx, spec, scope.signal);
      if (result.finishReason === 'abort') return sendUnavailable(reply);
      if (!(await wait(plan.tokenLatencyMs * result.completionTokens, scope.signal)))
        return sendUnavailable(reply);
      const message = assembleMessage(output, result.completionTokens);
      const usage = usageOf([result]);
      ctx.stats.recordUsage(scope.user, usage);
      return reply.send({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: message.content, tool_calls: message.toolCalls },
            logprobs: null,
            finish_reason: clientFinishReason(result, output),
            stop_reason: null,
          },
        ],
        usage,
      });
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const usageField = includeUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...usageField,
    });
    const expected = Math.min(output.tokens.length, maxTokens);
    const dropAt =
      plan.dropAtFraction === undefined ? undefined : Math.max(1, Math.floor(plan.dropAtFraction * expected));
    const sse = new SseStream(reply, plan.tokenLatencyMs, scope.signal);
    sse.open();
    let sentRole = false;
    let cut = false;
    const startedCalls = new Set<number>();
    const sendRole = () => {
      if (sentRole) return;
      sentRole = true;
      sse.send(chunk({ role: 'assistant', content: '' }));
    };
    const result = await runSequence(ctx, spec, scope.signal, (_token, index) => {
      if (cut) return;
      sendRole();
      const piece = output.pieces[index]!;
      const call = output.callOf[index]!;
      const cutHere = dropAt !== undefined && index + 1 >= dropAt;
      let delta: Record<string, unknown> | undefined;
      if (call < 0) {
        if (piece !== '' || cutHere) delta = { content: piece };
      } else if (!startedCalls.has(call)) {
        startedCalls.add(call);
        const planned = output.calls[call]!;
        delta = {
          tool_calls: [
            {
              index: call,
              id: planned.id,
              type: 'function',
              function: { name: planned.name, arguments: piece },
            },
          ],
        };
      } else {
        delta = { tool_calls: [{ index: call, function: { arguments: piece } }] };
      }
      if (delta) sse.send(chunk(delta), { paced: true, cut: cutHere });
      if (cutHere) {
        cut = true;
        ctx.stats.recordDroppedStream();
      }
    });
    if (cut || result.finishReason === 'abort') {
      sse.end();
      return reply;
    }
    sendRole();
    output.calls.forEach((planned, i) => {
      // A call whose arguments had no tokens still has to be announced.
      if (!startedCalls.has(i) && result.finishReason === 'stop') {
        sse.send(
          chunk({
            tool_calls: [
              { index: i, id: planned.id, type: 'function', function: { name: planned.name, arguments: '' } },
            ],
          }),
        );
      }
    });
    sse.send(chunk({}, clientFinishReason(result, output)));
    // Counted whether or not the client asked to be told: the work was done and answered.
    ctx.stats.recordUsage(scope.user, usageOf([result]));
    if (includeUsage) {
      sse.send({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage: usageOf([result]),
      });
    }
    sse.send('[DONE]');
    sse.end();
    return reply;
  });
}
