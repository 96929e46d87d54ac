import { randomUUID } from 'node:crypto';
import { exampleFromSchema, type JsonSchema } from './json-schema-example.ts';
import { type ChatRequestMessage, type ChatTool, lastUserText, type ToolChoice } from './openai-schema.ts';

/** A tool call the simulated model makes; `arguments` is the JSON text, as OpenAI sends it. */
export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** vLLM's tool-call id format. */
export function newToolCallId(): string {
  return `chatcmpl-tool-${randomUUID().replaceAll('-', '')}`;
}

/** The tool a `{type:'function', function:{name}}` choice names, or an error message when it is not offered. */
export function namedTool(
  tools: readonly ChatTool[],
  choice: ToolChoice | null | undefined,
): ChatTool | string | undefined {
  if (typeof choice !== 'object' || choice === null) return undefined;
  const tool = tools.find((t) => t.function.name === choice.function.name);
  return tool ?? `tool_choice names "${choice.function.name}", which is not in tools`;
}

/** The offered tool whose name appears in `text` (the longest such name), if any. */
function toolNamedIn(tools: readonly ChatTool[], text: string): ChatTool | undefined {
  let best: ChatTool | undefined;
  for (const t of tools) {
    if (text.includes(t.function.name) && (!best || t.function.name.length > best.function.name.length))
      best = t;
  }
  return best;
}

/** True when a tool result came after the last user message (the model already called a tool for it). */
function answeredByTool(messages: readonly ChatRequestMessage[]): boolean {
  for (let i = messages.length - 1; i >= 0; i--) {
    const role = messages[i]!.role;
    if (role === 'tool') return true;
    if (role === 'user') return false;
  }
  return false;
}

/**
 * Which tool the simulated model calls, if any:
 * - `none` (or no tools): never;
 * - a named function: that one;
 * - `required`: the tool the last user message names, else the first tool;
 * - `auto` (the default): the tool whose name appears in the last user message, unless a tool
 *   result already follows that message, so an agent loop ends with a text answer.
 */
export function chooseTool(
  messages: readonly ChatRequestMessage[],
  tools: readonly ChatTool[],
  choice: ToolChoice | null | undefined,
): ChatTool | undefined {
  if (tools.length === 0 || choice === 'none') return undefined;
  const named = namedTool(tools, choice);
  if (typeof named === 'object') return named;
  const text = lastUserText(messages);
  if (choice === 'required') return toolNamedIn(tools, text) ?? tools[0];
  if (answeredByTool(messages)) return undefined;
  return toolNamedIn(tools, text);
}

/** A call of `tool` whose arguments satisfy its parameters schema; the first free string gets `text`. */
export function planToolCall(tool: ChatTool, text: string): PlannedToolCall {
  const schema = (tool.function.parameters ?? { type: 'object', properties: {} }) as JsonSchema;
  return {
    id: newToolCallId(),
    name: tool.function.name,
    arguments: JSON.stringify(exampleFromSchema(schema, { text })),
  };
}
