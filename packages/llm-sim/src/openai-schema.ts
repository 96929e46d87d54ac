import { z } from 'zod';

/** Roles vLLM's chat endpoint accepts; anything else is a 400. */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

/** A content part as OpenAI sends it; only `text` parts contribute text, others are carried along. */
const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const messageSchema = z.looseObject({
  role: z.enum(CHAT_ROLES, { error: `role must be one of ${CHAT_ROLES.join(', ')}` }),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
});

/**
 * The part of an OpenAI chat completion request the simulator reads. Unknown fields are accepted
 * and ignored, as vLLM does; the fields below are type-checked so malformed requests get a 400.
 */
export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  messages: z.array(messageSchema).min(1, 'messages must contain at least one message'),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  user: z.string().nullish(),
  priority: z.number().int().nullish(),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatRequestMessage = ChatRequest['messages'][number];

/** The plain text of a message: the string itself, or its text parts joined; '' when it has none. */
export function messageText(message: ChatRequestMessage): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('');
}

/** The text of the last `user` message, or '' when the conversation has none. */
export function lastUserText(messages: readonly ChatRequestMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.role === 'user') return messageText(message);
  }
  return '';
}

/** Rough token count used until a real tokenizer is plugged in: ceil(chars / 4). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export type OpenAiErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error';

/** The error envelope OpenAI clients parse: `{ error: { message, type, param, code } }`. */
export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: string | null };
}

export function openAiError(
  message: string,
  type: OpenAiErrorType,
  code: string | null = null,
  param: string | null = null,
): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

/** The first zod issue as one readable line plus the dotted path of the offending field. */
export function describeZodError(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0];
  if (!issue) return { message: 'invalid request', param: null };
  const param = issue.path.length > 0 ? issue.path.map(String).join('.') : null;
  return { message: param ? `${param}: ${issue.message}` : issue.message, param };
}
