import { countTokens } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { EmbeddingBatcher, shareOut } from './embed-batcher.ts';

describe('EmbeddingBatcher', () => {
  // A server that counts a request's tokens as the fleet's tokenizer does, plus 1 per request.
  const fakeSend = (calls: string[][]) => async (texts: string[]) => {
    calls.push(texts);
    return {
      vectors: texts.map((t) => [t.length]),
      promptTokens: texts.reduce((n, t) => n + countTokens(t), 1),
    };
  };
  const vectors = (r: { vectors: number[][] }) => r.vectors;

  it('coalesces concurrent calls into one request and hands each caller its own vectors', async () => {
    const calls: string[][] = [];
    const b = new EmbeddingBatcher(fakeSend(calls), { maxInputs: 100, maxWaitMs: 5 });
    const results = await Promise.all([b.embed(['a']), b.embed(['bb', 'ccc']), b.embed(['dddd'])]);
    expect(calls).toEqual([['a', 'bb', 'ccc', 'dddd']]);
    expect(results.map(vectors)).toEqual([[[1]], [[2], [3]], [[4]]]);
    // The request's 5 tokens (4 texts of one token, plus 1) are shared out and add up exactly.
    expect(results.reduce((n, r) => n + r.promptTokens, 0)).toBe(5);
  });

  it('sends as soon as a batch is full', async () => {
    const calls: string[][] = [];
    const b = new EmbeddingBatcher(fakeSend(calls), { maxInputs: 2, maxWaitMs: 10_000 });
    await Promise.all([b.embed(['a']), b.embed(['b']), b.embed(['c', 'd'])]);
    expect(calls).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('never sends more than maxInputs texts in one request', async () => {
    const calls: string[][] = [];
    const b = new EmbeddingBatcher(fakeSend(calls), { maxInputs: 2, maxWaitMs: 10_000 });
    const results = await Promise.all([b.embed(['a', 'bb', 'ccc', 'dddd', 'eeeee'])]);
    expect(calls).toEqual([['a', 'bb'], ['ccc', 'dddd'], ['eeeee']]);
    expect(results.map(vectors)).toEqual([[[1], [2], [3], [4], [5]]]);
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
    expect(results[0]!.promptTokens).toBe(texts.reduce((n, t) => n + countTokens(t), 3));
  });

  it('shares a count out in proportion to token counts, in whole tokens that add up', () => {
    const texts = ['one', 'two words here', 'a much longer text with many more words in it'];
    const shares = shareOut(100, texts);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(100);
    expect(shares[0]!).toBeLessThan(shares[1]!);
    expect(shares[1]!).toBeLessThan(shares[2]!);
    expect(shareOut(7, ['x'])).toEqual([7]);
    expect(shareOut(0, ['x', 'y'])).toEqual([0, 0]);
    expect(shareOut(3, ['x', 'y', 'z', 'w']).reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('fails every caller of a failed batch', async () => {
    const b = new EmbeddingBatcher(async () => {
      throw new Error('down');
    });
    const settled = await Promise.allSettled([b.embed(['a']), b.embed(['b'])]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
