import { countTokens as count, decode, encode } from 'gpt-tokenizer/encoding/cl100k_base';

/**
 * Token counts from a real BPE tokenizer (cl100k_base, as `gpt-tokenizer` ships it). It is not the
 * served model's own tokenizer, but it counts within a few percent of Llama-family tokenizers on
 * English prose, which is what budgets, chunking and the simulator need.
 */
export function countTokens(text: string): number {
  return count(text);
}

export function encodeTokens(text: string): number[] {
  return encode(text);
}

/**
 * Tokens that are raw bytes, not strings, and together one whole character that starts with a
 * lead byte (`語` is two such tokens): whatever incomplete bytes precede them are decoded as U+FFFD
 * and nothing stays buffered.
 */
const FLUSH = encode('語');

/**
 * Text of a token sequence. gpt-tokenizer decodes byte tokens through one streaming TextDecoder
 * per process, so a sequence that ends inside a multi-byte character would leave bytes behind for
 * the next, unrelated call. Ending every call with FLUSH decodes them here, as U+FFFD, instead.
 */
export function decodeTokens(tokens: number[]): string {
  return decode([...tokens, ...FLUSH]).slice(0, -1);
}
