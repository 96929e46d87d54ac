import { decodeTokens } from '@agent-fleet/core';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_EMBEDDING_DIMENSIONS, embeddingToBase64, embedText } from '../embeddings.ts';
import { describeZodError, embeddingRequestSchema } from '../openai-schema.ts';
import { encodeText } from '../tokens.ts';
import { type SimContext, sendError } from './context.ts';
import { applyFaults, completionId, openScope } from './inference.ts';

/**
 * `POST /v1/embeddings`: deterministic unit-length feature-hashing vectors (see {@link embedText}),
 * `float` or `base64` encoded, `dimensions` from the request or the simulator's default. Faults
 * apply as for generation; embeddings do not go through the generation engine.
 */
export function registerEmbeddingsRoute(
  app: FastifyInstance,
  ctx: SimContext,
  defaultDimensions: number,
): void {
  app.post('/v1/embeddings', async (request, reply) => {
    const parsed = embeddingRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const { message, param } = describeZodError(parsed.error);
      return sendError(reply, 400, message, 'invalid_request_error', 'invalid_request', param);
    }
    const body = parsed.data;
    const input = body.input;
    const texts =
      typeof input === 'string'
        ? [input]
        : input.every((x) => typeof x === 'string')
          ? input
          : input.every((x) => typeof x === 'number')
            ? [decodeTokens(input)]
            : (input as number[][]).map((ids) => decodeTokens(ids));
    const promptTokens =
      typeof input === 'string' || input.every((x) => typeof x === 'string')
        ? texts.reduce((s, t) => s + encodeText(t).length, 0)
        : input.every((x) => typeof x === 'number')
          ? input.length
          : (input as number[][]).reduce((s, ids) => s + ids.length, 0);

    const scope = openScope(ctx, request, reply, body.user);
    ctx.stats.recordRequest(scope.user);
    const plan = ctx.faults.plan({
      user: body.user ?? undefined,
      headerUser: scope.headerUser,
      lastUserText: texts.join('\n'),
    });
    if (!(await applyFaults(ctx, scope, reply, plan))) return reply;

    const dimensions = body.dimensions ?? defaultDimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
    const base64 = body.encoding_format === 'base64';
    const usage = {
      prompt_tokens: promptTokens,
      total_tokens: promptTokens,
      completion_tokens: 0,
      prompt_tokens_details: null,
    };
    ctx.stats.recordUsage(scope.user, usage);
    return reply.send({
      id: completionId('embd', request, undefined),
      object: 'list',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? ctx.modelName,
      data: texts.map((text, index) => {
        const vector = embedText(text, dimensions);
        return { index, object: 'embedding', embedding: base64 ? embeddingToBase64(vector) : vector };
      }),
      usage,
    });
  });
}
