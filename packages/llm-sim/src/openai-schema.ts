import { z } from 'zod';

/** Roles vLLM's chat endpoint accepts; anything else is a 400. */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

/** A content part as OpenAI sends it; only `text` parts contribute text, others are carried along. */
const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const toolCallSchema = z.looseObject({
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string().optional() }),
});

const messageSchema = z.looseObject({
  role: z.enum(CHAT_ROLES, { error: `role must be one of ${CHAT_ROLES.join(', ')}` }),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
  tool_calls: z.array(toolCallSchema).nullish(),
  tool_call_id: z.string().nullish(),
  name: z.string().nullish(),
});

/** A JSON schema as clients send it (validated for shape only: an object or a boolean). */
const jsonSchemaSchema = z.union([z.record(z.string(), z.unknown()), z.boolean()]);

const toolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: jsonSchemaSchema.nullish(),
  }),
});
export type ChatTool = z.infer<typeof toolSchema>;

const toolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) }),
]);
export type ToolChoice = z.infer<typeof toolChoiceSchema>;

const responseFormatSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({ name: z.string().optional(), schema: jsonSchemaSchema.optional() }),
  }),
]);

/** vLLM's `structured_outputs` extra field; `json` may be a schema object or its JSON text. */
const structuredOutputsSchema = z.looseObject({
  json: z.union([jsonSchemaSchema, z.string()]).nullish(),
  choice: z.array(z.string()).min(1).nullish(),
  json_object: z.boolean().nullish(),
});

const streamOptionsSchema = z.looseObject({ include_usage: z.boolean().nullish() }).nullish();

/** Fields vLLM accepts beyond OpenAI's, shared by chat and completions. */
const vllmExtraFields = {
  priority: z.number().int().nullish(),
  cache_salt: z.string().min(1).nullish(),
  request_id: z.string().min(1).max(256).nullish(),
  structured_outputs: structuredOutputsSchema.nullish(),
};

/**
 * The part of an OpenAI chat completion request the simulator reads. Unknown fields are accepted
 * and ignored, as vLLM does; the fields below are type-checked so malformed requests get a 400.
 */
export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  messages: z.array(messageSchema).min(1, 'messages must contain at least one message'),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema,
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  n: z.literal(1, { error: 'the simulator supports n = 1 only' }).nullish(),
  user: z.string().nullish(),
  tools: z.array(toolSchema).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  response_format: responseFormatSchema.nullish(),
  ...vllmExtraFields,
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatRequestMessage = ChatRequest['messages'][number];

const tokenIds = z.array(z.number().int().min(0));

/** `/v1/completions`: `prompt` is a string, a list of strings, a token list or a list of token lists. */
export const completionRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)]),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema,
  /** OpenAI's and vLLM's default for completions is 16. */
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  n: z.literal(1, { error: 'the simulator supports n = 1 only' }).nullish(),
  echo: z.boolean().nullish(),
  user: z.string().nullish(),
  response_format: responseFormatSchema.nullish(),
  ...vllmExtraFields,
});
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  input: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).max(8192).nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

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

/**
 * The JSON schema a request asks the output to follow: `structured_outputs.json` (vLLM) or
 * `response_format` json_schema / json_object (OpenAI). `{}` means "any JSON object"; undefined
 * means free text.
 */
export function requestedJsonSchema(
  body: Pick<ChatRequest, 'response_format' | 'structured_outputs'>,
): Record<string, unknown> | boolean | undefined {
  const so = body.structured_outputs;
  if (so?.json !== undefined && so.json !== null) {
    if (typeof so.json !== 'string') return so.json;
    try {
      const parsed: unknown = JSON.parse(so.json);
      if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
    } catch {
      // Not JSON: treat as "any object" rather than failing the request.
    }
    return { type: 'object' };
  }
  if (so?.json_object) return { type: 'object' };
  const rf = body.response_format;
  if (rf?.type === 'json_schema') return rf.json_schema.schema ?? { type: 'object' };
  if (rf?.type === 'json_object') return { type: 'object' };
  return undefined;
}

/** How the output was asked to be shaped: the json_schema's name, `json_object`, or null (free text). */
export function responseFormatName(
  body: Pick<ChatRequest, 'response_format' | 'structured_outputs'>,
): string | null {
  const rf = body.response_format;
  if (rf?.type === 'json_schema') return rf.json_schema.name ?? 'json_schema';
  if (rf?.type === 'json_object' || body.structured_outputs?.json_object) return 'json_object';
  if (body.structured_outputs?.json !== undefined && body.structured_outputs.json !== null)
    return 'json_schema';
  return null;
}

export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

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
