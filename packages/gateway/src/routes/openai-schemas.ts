import { sumUsage, type UsageLine } from '@agent-fleet/core';
import { z } from 'zod';

/** A content part of a message; only `text` parts can become a turn. */
const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
  name: z.string().optional(),
});

/**
 * The part of OpenAI's chat completion request the fleet reads. Other fields (temperature,
 * max_tokens, tools, …) are accepted and ignored: the agent's model settings live in its profile.
 */
export const chatCompletionRequestSchema = z
  .object({
    model: z.string().min(1).max(256).meta({ description: 'one of the agent models of GET /v1/models' }),
    messages: z
      .array(chatMessageSchema)
      .min(1)
      .max(4096)
      .meta({
        description:
          'Only the last message is read, and it must be a user message: it becomes the next turn of the ' +
          'user’s agent, which keeps the conversation itself (earlier messages are ignored).',
      }),
    stream: z
      .boolean()
      .nullable()
      .optional()
      .meta({ description: 'stream the answer as chat.completion.chunk events' }),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    user: z
      .string()
      .max(256)
      .optional()
      .meta({ description: 'the userId whose agent answers; required with an API key that acts for users' }),
  })
  .meta({ id: 'ChatCompletionRequest' });

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/**
 * OpenAI's `usage`: the turn's real totals as the model servers reported them, over every call the
 * agent made for it (each step, the embeddings of its retrieval and searches).
 */
export const openAiUsageSchema = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int() }),
});
export type OpenAiUsage = z.infer<typeof openAiUsageSchema>;

/** The `usage` of a turn from the usage its record holds. */
export function toOpenAiUsage(lines: readonly UsageLine[]): OpenAiUsage {
  const u = sumUsage(lines);
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

export const chatCompletionSchema = z
  .object({
    id: z.string().meta({ description: '`chatcmpl-` and the turn id' }),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string(),
          refusal: z.null(),
        }),
        finish_reason: z.literal('stop'),
        logprobs: z.null(),
      }),
    ),
    usage: openAiUsageSchema,
    system_fingerprint: z.null(),
  })
  .meta({ id: 'ChatCompletion' });

export type ChatCompletion = z.infer<typeof chatCompletionSchema>;

export const modelSchema = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    owned_by: z.string(),
  })
  .meta({ id: 'Model' });

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) });
