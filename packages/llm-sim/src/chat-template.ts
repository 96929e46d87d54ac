import { type ChatRequestMessage, type ChatTool, messageText } from './openai-schema.ts';

/**
 * Renders a conversation to the prompt text the engine tokenizes, with a minimal chat template:
 * the tool list first (when any), then `<|role|>\n<content>\n` per message, then `<|assistant|>\n`.
 * Every message renders the same way whatever follows it, so a conversation's history is a stable
 * prefix of its next turn and the prefix cache hits on it, as with real templates.
 */
export function renderChatPrompt(
  messages: readonly ChatRequestMessage[],
  tools: readonly ChatTool[] = [],
): string {
  let out = '';
  if (tools.length > 0) out += `<|tools|>\n${JSON.stringify(tools.map((t) => t.function))}\n`;
  for (const m of messages) {
    out += `<|${m.role}|>\n${messageText(m)}`;
    for (const call of m.tool_calls ?? []) {
      out += `<tool_call>${JSON.stringify({ name: call.function.name, arguments: call.function.arguments ?? '' })}</tool_call>`;
    }
    out += '\n';
  }
  return `${out}<|assistant|>\n`;
}
