import { contentWords, extractiveAnswer, findPassages, type Passage } from './extractive.ts';
import { exampleFromSchema, type JsonSchema } from './json-schema-example.ts';
import {
  type ChatRequestMessage,
  type ChatTool,
  lastUserText,
  messageText,
  type ToolChoice,
} from './openai-schema.ts';
import { REVIEW_SCHEMA_NAME, type ReviewKnobs, reviewReply } from './review.ts';
import type { ScriptStore } from './script.ts';
import { chooseTool, newToolCallId, type PlannedToolCall, planToolCall } from './tool-calls.ts';

/**
 * How replies are produced:
 * - `echo`: `Echo [n=<messages.length>]: <last user text>`, so a test sees what the user said and
 *   how much history was sent;
 * - `extractive`: an answer built from the context passages that share the most words with the
 *   question, keeping their citation markers (see {@link extractiveReply});
 * - `script`: fixtures set through options or `PUT /sim/script`, consumed in order; echo when none
 *   matches.
 * In every mode a request for tools or JSON is honoured (see {@link createContentGenerator}).
 */
export const CONTENT_MODES = ['echo', 'extractive', 'script'] as const;
export type ContentMode = (typeof CONTENT_MODES)[number];

/** What a generator sees of a request. */
export interface ContentRequest {
  model: string;
  messages: readonly ChatRequestMessage[];
  /** The body `user` field, else the `x-user-id` header. */
  user?: string;
  tools?: readonly ChatTool[];
  toolChoice?: ToolChoice | null;
  /** The JSON schema the output must follow (`response_format` / `structured_outputs.json`). */
  jsonSchema?: JsonSchema;
  /** `structured_outputs.choice`: the output is exactly one of these. */
  choice?: readonly string[];
  /** `response_format.json_schema.name`: `document_review` asks for review findings. */
  jsonSchemaName?: string;
  /** Randomness and knobs of review answers (a PRNG seeded per request from the fault seed). */
  review?: ReviewKnobs;
}

/** The reply the simulated model gives: text, or tool calls. */
export type ContentReply = { kind: 'text'; text: string } | { kind: 'tool_calls'; calls: PlannedToolCall[] };

/** Produces a request's reply; it may keep state across calls (a script). */
export type ContentGenerator = (request: ContentRequest) => ContentReply;

/** `Echo [n=<messages.length>]: <text of the last user message>`. */
export function echoReply(request: Pick<ContentRequest, 'messages'>): string {
  return `Echo [n=${request.messages.length}]: ${lastUserText(request.messages)}`;
}

/**
 * The extractive answer to the last user message. Passages come from system/developer messages,
 * the last user message and tool results after it (retrieval puts them there); the question is
 * the last user message without its passages (the whole message when that leaves nothing).
 */
export function extractiveReply(messages: readonly ChatRequestMessage[]): string {
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === 'user') {
      lastUser = i;
      break;
    }
  }
  const passages: Passage[] = [];
  let question = '';
  messages.forEach((m, i) => {
    const isContext = m.role === 'system' || m.role === 'developer' || (m.role === 'tool' && i > lastUser);
    if (!isContext && i !== lastUser) return;
    const found = findPassages(messageText(m));
    passages.push(...found.passages);
    if (i === lastUser) question = found.rest || messageText(m);
  });
  return extractiveAnswer(question, passages);
}

function pickChoice(choices: readonly string[], text: string): string {
  const words = contentWords(text);
  let best = choices[0]!;
  let bestScore = -1;
  for (const c of choices) {
    let score = 0;
    for (const w of contentWords(c)) if (words.has(w)) score++;
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

function isFreeObject(schema: JsonSchema): boolean {
  return (
    typeof schema === 'object' &&
    (schema.type === 'object' || schema.type === undefined) &&
    schema.properties === undefined &&
    schema.additionalProperties !== false &&
    schema.$ref === undefined &&
    schema.anyOf === undefined &&
    schema.oneOf === undefined &&
    schema.allOf === undefined &&
    schema.enum === undefined &&
    !('const' in schema)
  );
}

/**
 * One generator per app, so the script keeps its state per simulator. Precedence: a matching
 * script fixture (script mode); then a tool call when the tool choice calls for one; then
 * `structured_outputs.choice`; then a document review for the `document_review` schema (extractive
 * findings, see `review.ts`); then JSON for a requested schema (an example that validates, its
 * first free string holding the mode's text; a schema-less JSON object becomes
 * `{"answer": <text>}`); else the mode's text.
 */
export function createContentGenerator(mode: ContentMode, script: ScriptStore): ContentGenerator {
  const baseText = (request: ContentRequest): string =>
    mode === 'extractive' ? extractiveReply(request.messages) : echoReply(request);
  return (request) => {
    if (mode === 'script') {
      const reply = script.take({ user: request.user, text: lastUserText(request.messages) });
      if (typeof reply === 'string') return { kind: 'text', text: reply };
      if (reply && 'raw' in reply) return { kind: 'text', text: reply.raw };
      if (reply) {
        return {
          kind: 'tool_calls',
          calls: reply.tool_calls.map((c) => ({
            id: c.id ?? newToolCallId(),
            name: c.name,
            arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
          })),
        };
      }
    }
    const tool = chooseTool(request.messages, request.tools ?? [], request.toolChoice);
    if (tool) return { kind: 'tool_calls', calls: [planToolCall(tool, lastUserText(request.messages))] };
    if (request.choice && request.choice.length > 0) {
      return { kind: 'text', text: pickChoice(request.choice, lastUserText(request.messages)) };
    }
    if (request.jsonSchema !== undefined && request.jsonSchemaName === REVIEW_SCHEMA_NAME) {
      const knobs = request.review ?? { fabricatedQuoteRate: 0, random: Math.random };
      return { kind: 'text', text: JSON.stringify(reviewReply(request.messages, request.jsonSchema, knobs)) };
    }
    const text = baseText(request);
    if (request.jsonSchema !== undefined) {
      const value = isFreeObject(request.jsonSchema)
        ? { answer: text }
        : exampleFromSchema(request.jsonSchema, { text });
      return { kind: 'text', text: JSON.stringify(value) };
    }
    return { kind: 'text', text };
  };
}
