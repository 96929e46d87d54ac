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

export function decodeTokens(tokens: number[]): string {
  return decode(tokens);
}
