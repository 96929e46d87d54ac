import { type FleetConfig, FleetError, idempotencyKeySchema, USER_ID_PATTERN } from '@agent-fleet/core';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { assertUserAccess, requireScope } from '../auth/guards.ts';
import type { Principal } from '../auth/principal.ts';
import type { GatewayDeps } from '../deps.ts';
import { waitForTurn } from '../wait-for-turn.ts';
import { openAiErrorHandler, openAiErrorResponses } from './openai-errors.ts';
import {
  type ChatCompletion,
  type ChatCompletionRequest,
  chatCompletionRequestSchema,
  chatCompletionSchema,
  modelListSchema,
  modelSchema,
  toOpenAiUsage,
} from './openai-schemas.ts';
import { streamChatCompletion } from './openai-stream.ts';

/** The agent models a deployment exposes when AGENT_MODELS is not set. */
export const DEFAULT_AGENT_MODELS = ['fleet-agent'] as const;
/** How long a chat completion waits for its turn when CHAT_COMPLETION_TIMEOUT_MS is not set. */
export const DEFAULT_CHAT_COMPLETION_TIMEOUT_MS = 120_000;

/** The settings these routes read; `FleetConfig` fields once core's schema declares them. */
type OpenAiConfig = Partial<{ AGENT_MODELS: readonly string[]; CHAT_COMPLETION_TIMEOUT_MS: number }>;

const bad = (message: string, param: string | null, openaiCode?: string) =>
  new FleetError('invalid_request', message, {
    details: { param, ...(openaiCode ? { openaiCode } : {}) },
  });

/**
 * OpenAI-compatible routes over the users' agents, for clients built on an OpenAI SDK:
 * `POST /v1/chat/completions` turns the last user message into the next turn of the user's agent
 * (the token's user, or `user` for a key that acts for users), waits for it, and answers a
 * `chat.completion`; `GET /v1/models` lists the agent models. Errors here are OpenAI-shaped (see
 * openai-errors.ts). With `stream: true` the answer streams as OpenAI's chunks (openai-stream.ts).
 */
export const openAiRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const cfg = deps.config as FleetConfig & OpenAiConfig;
  const models = [...(cfg.AGENT_MODELS ?? DEFAULT_AGENT_MODELS)];
  const timeoutMs = cfg.CHAT_COMPLETION_TIMEOUT_MS ?? DEFAULT_CHAT_COMPLETION_TIMEOUT_MS;
  const maxBytes = deps.config.MAX_MESSAGE_BYTES;
  const started = Math.floor(Date.now() / 1000);
  const model = (id: string) => ({ id, object: 'model' as const, created: started, owned_by: 'agent-fleet' });
  app.setErrorHandler(openAiErrorHandler(deps.logger));

  app.post(
    '/v1/chat/completions',
    {
      onRequest: [requireScope('messages:write'), deps.shedder.guard],
      bodyLimit: Math.max(1024 * 1024, maxBytes * 8 + 65_536),
      schema: {
        tags: ['openai'],
        summary: 'Ask the user’s agent (OpenAI chat completion, streamed or not)',
        description:
          'The last message (role user) becomes the next turn of the user’s agent; the answer comes when ' +
          'the turn finishes, or 504 after the deadline (the turn goes on: poll GET /v1/turns/{x-fleet-turn-id}). ' +
          'The user is the user token’s subject, or `user` for an API key that acts for users. Errors are ' +
          'OpenAI-shaped: `{ error: { message, type, param, code } }`.',
        headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
        body: chatCompletionRequestSchema,
        response: { 200: chatCompletionSchema, ...openAiErrorResponses },
      },
    },
    async (req, reply) => {
      const body = req.body;
      if (!models.includes(body.model)) {
        throw new FleetError('not_found', `The model '${body.model}' does not exist`, {
          details: { param: 'model', openaiCode: 'model_not_found' },
        });
      }
      const userId = userOf(req.principal!, body);
      assertUserAccess(req.principal, userId, 'messages:write');
      const text = lastUserText(body);
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > maxBytes) {
        throw new FleetError('payload_too_large', `the message is ${bytes} bytes; the limit is ${maxBytes}`, {
          details: { param: `messages.${body.messages.length - 1}.content`, bytes, limit: maxBytes },
        });
      }
      const idem = req.headers['idempotency-key'];
      // A stream takes its slot first: a caller over the cap gets 429 and no turn.
      const slot = body.stream === true ? deps.streams.take(req.principal!) : undefined;
      let turn: Awaited<ReturnType<typeof deps.producer.accept>>;
      try {
        turn = await deps.producer.accept({ userId, text, ...(idem ? { idempotencyKey: idem } : {}) });
      } catch (err) {
        slot?.release();
        throw err;
      }
      if (turn.created) deps.metrics.accepted.inc();
      reply.header('x-fleet-turn-id', turn.turnId);
      if (slot) {
        return streamChatCompletion(reply, {
          until: slot.signal,
          events: deps.events,
          usage: async () => (await deps.records.get(turn.turnId))?.usage ?? [],
          userId,
          turnId: turn.turnId,
          model: body.model,
          includeUsage: body.stream_options?.include_usage === true,
          timeoutMs,
          logger: deps.logger,
        }).finally(slot.release);
      }
      // A retry would ask the agent a second time (unless the client sent an Idempotency-Key): the
      // OpenAI SDKs honour this header and do not retry the 5xx answers below.
      const noRetry = () => reply.header('x-should-retry', 'false');

      const abort = new AbortController();
      reply.raw.once('close', () => abort.abort());
      const done = await waitForTurn(deps.records, turn.turnId, { timeoutMs, signal: abort.signal });
      if (!done) {
        noRetry();
        throw new FleetError(
          'timeout',
          `the agent did not answer within ${timeoutMs} ms; the turn ${turn.turnId} goes on (GET /v1/turns/${turn.turnId})`,
          { details: { turnId: turn.turnId } },
        );
      }
      if (done.status !== 'completed') {
        noRetry();
        if (done.status === 'failed')
          throw new FleetError(
            'upstream_error',
            `the agent could not answer: ${done.error ?? 'the turn failed'}`,
            {
              details: { turnId: turn.turnId },
            },
          );
        // Cancelled (the cancel API) or interrupted (a newer message of the user took over).
        throw new FleetError('conflict', `the turn ${turn.turnId} was ${done.status} before it answered`, {
          details: { turnId: turn.turnId, status: done.status },
        });
      }
      const answer = done.reply ?? '';
      const completion: ChatCompletion = {
        id: `chatcmpl-${turn.turnId}`,
        object: 'chat.completion',
        created: Math.floor((done.completedAt ?? Date.now()) / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: answer, refusal: null },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage: toOpenAiUsage(done.usage ?? []),
        system_fingerprint: null,
      };
      return completion;
    },
  );

  app.get(
    '/v1/models',
    {
      onRequest: [requireScope('messages:write')],
      schema: {
        tags: ['openai'],
        summary: 'The agent models this deployment exposes (AGENT_MODELS)',
        response: { 200: modelListSchema, ...openAiErrorResponses },
      },
    },
    async () => ({ object: 'list' as const, data: models.map(model) }),
  );

  app.get(
    '/v1/models/:model',
    {
      onRequest: [requireScope('messages:write')],
      schema: {
        tags: ['openai'],
        summary: 'One agent model',
        params: z.object({ model: z.string().min(1).max(256) }),
        response: { 200: modelSchema, ...openAiErrorResponses },
      },
    },
    async (req) => {
      if (!models.includes(req.params.model)) {
        throw new FleetError('not_found', `The model '${req.params.model}' does not exist`, {
          details: { param: 'model', openaiCode: 'model_not_found' },
        });
      }
      return model(req.params.model);
    },
  );
};

/** Whose agent answers: a user token's own user, or the `user` field for a key. */
function userOf(p: Principal, body: ChatCompletionRequest): string {
  if (p.kind === 'user') {
    if (body.user !== undefined && body.user !== p.userId)
      throw new FleetError('forbidden', `a user token may only be used for its own user (${p.userId})`, {
        details: { param: 'user' },
      });
    return p.userId;
  }
  if (body.user === undefined)
    throw bad(
      'user is required with an API key: the userId whose agent answers',
      'user',
      'missing_required_parameter',
    );
  if (!USER_ID_PATTERN.test(body.user))
    throw bad(
      'user must be a userId: 1-128 letters, digits and ._@+- starting with a letter or digit',
      'user',
    );
  return body.user;
}

/** The text of the last message, which must be a user message with text content. */
function lastUserText(body: ChatCompletionRequest): string {
  const i = body.messages.length - 1;
  const last = body.messages[i]!;
  if (last.role !== 'user')
    throw bad(`the last message must have role user, not ${last.role}`, `messages.${i}.role`);
  const content = last.content;
  let text: string;
  if (typeof content === 'string') text = content;
  else if (Array.isArray(content)) {
    if (content.some((p) => p.type !== 'text' || typeof p.text !== 'string'))
      throw bad('only text content parts are supported', `messages.${i}.content`);
    text = content.map((p) => p.text).join('\n');
  } else text = '';
  if (text.trim().length === 0) throw bad('the last user message has no text', `messages.${i}.content`);
  return text;
}
