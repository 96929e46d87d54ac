import { describe, expect, it } from 'vitest';
import { EmbeddingBatcher } from './embed-batcher.ts';

describe('EmbeddingBatcher', () => {
  const fakeSend = (calls: string[][]) => async (texts: string[]) => {
    calls.push(texts);
    return texts.map((t) => [t.length]);
  };

  it('coalesces concurrent calls into one request and hands each caller its own vectors', async () => {
    const calls: string[][] = [];
    const b = new EmbeddingBatcher(fakeSend(calls), { maxInputs: 100, maxWaitMs: 5 });
    const results = await Promise.all([b.embed(['a']), b.embed(['bb', 'ccc']), b.embed(['dddd'])]);
    expect(calls).toEqual([['a', 'bb', 'ccc', 'dddd']]);
    expect(results).toEqual([[[1]], [[2], [3]], [[4]]]);
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
    expect(results).toEqual([[[1], [2], [3], [4], [5]]]);
  });

  it('fails every caller of a failed batch', async () => {
    const b = new EmbeddingBatcher(async () => {
      throw new Error('down');
    });
    const settled = await Promise.allSettled([b.embed(['a']), b.embed(['b'])]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
