import type { ToolCall } from '@agent-fleet/llm';
import { z } from 'zod';

const toolCallSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  arguments: z.string(),
}) satisfies z.ZodType<ToolCall>;

/** One finished step of a turn, as checkpointed: a model answer, or one tool call's result. */
export const agentStepSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('model'),
    content: z.string(),
    toolCalls: z.array(toolCallSchema),
    promptTokens: z.number().int().nonnegative(),
    completionTokens: z.number().int().nonnegative(),
  }),
  z.object({
    kind: z.literal('tool'),
    callId: z.string().min(1),
    name: z.string(),
    ok: z.boolean(),
    content: z.string(),
  }),
]);
export type AgentStep = z.infer<typeof agentStepSchema>;
