import { type ChatRequestMessage, lastUserText } from './openai-schema.ts';

/**
 * How replies are produced. `echo` is deterministic: `Echo [n=<messages.length>]: <last user text>`,
 * so a test can check both what the user said and how much history was sent.
 * Later modes (`extractive`, `script`) are added here.
 */
export const CONTENT_MODES = ['echo'] as const;
export type ContentMode = (typeof CONTENT_MODES)[number];

/** What a generator sees of a request. */
export interface ContentRequest {
  model: string;
  messages: readonly ChatRequestMessage[];
}

/** Produces the full reply text for a request; it may keep state across calls (e.g. a script). */
export type ContentGenerator = (request: ContentRequest) => string;

/** One generator per app, so stateful modes keep their state per simulator instance. */
export function createContentGenerator(mode: ContentMode): ContentGenerator {
  switch (mode) {
    case 'echo':
      return echoReply;
  }
}

/** `Echo [n=<messages.length>]: <text of the last user message>`. */
export function echoReply(request: ContentRequest): string {
  return `Echo [n=${request.messages.length}]: ${lastUserText(request.messages)}`;
}

/**
 * Splits a reply into stream pieces of about one token each (4 characters, matching the token
 * estimate). Never splits a surrogate pair; joining the pieces always gives back the reply exactly.
 */
export function splitIntoTokens(text: string, charsPerToken = 4): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += charsPerToken)
    pieces.push(chars.slice(i, i + charsPerToken).join(''));
  return pieces;
}
