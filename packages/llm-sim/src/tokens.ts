import { countTokens, encodeTokens } from '@agent-fleet/core';

/** cl100k's special tokens; plain text containing them must not be encoded as control tokens. */
const SPECIAL_TOKEN =
  /<\|(endoftext|fim_prefix|fim_middle|fim_suffix|im_start|im_end|im_sep|endofprompt)\|>/g;

/** Text as the tokenizer may see it: special-token strings are broken up (`<|x|>` → `< |x|>`). */
function neutralize(text: string): string {
  return text.replace(SPECIAL_TOKEN, '< |$1|>');
}

/** Token ids of `text` with the shared BPE tokenizer; never throws on special-token strings. */
export function encodeText(text: string): number[] {
  return encodeTokens(neutralize(text));
}

/**
 * cl100k's pre-tokenizer: BPE never merges across these pieces, so the tokens of a text are the
 * tokens of its pieces, in order.
 */
const PRE_TOKEN =
  /'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+(?!\S)|\s/gu;

/** Splits a string into `n` pieces of about equal code-point length (some may be empty). */
function splitEvenly(text: string, n: number): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < n; i++) {
    pieces.push(
      chars.slice(Math.floor((i * chars.length) / n), Math.floor(((i + 1) * chars.length) / n)).join(''),
    );
  }
  return pieces;
}

/**
 * The text each of the `tokenCount` tokens of `text` adds when streamed, joining back to `text`
 * exactly. A pre-token of one token maps to that token exactly; a word of k tokens is split into
 * k pieces of about equal length (the tokenizer's byte boundaries can fall inside a character,
 * which a text stream cannot show). Falls back to an even split if the counts disagree.
 */
export function tokenPieces(text: string, tokenCount: number): string[] {
  if (tokenCount <= 0) return [];
  const safe = neutralize(text);
  const pieces: string[] = [];
  if (safe === text) {
    for (const match of text.matchAll(PRE_TOKEN)) {
      const word = match[0];
      const k = countTokens(word);
      if (k === 1) pieces.push(word);
      else pieces.push(...splitEvenly(word, k));
    }
    if (pieces.length === tokenCount && pieces.join('') === text) return pieces;
  }
  return splitEvenly(text, tokenCount);
}
