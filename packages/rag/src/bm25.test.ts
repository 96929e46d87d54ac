import { describe, expect, it } from 'vitest';
import { BM25, idf, saturatedTf } from './bm25.ts';

describe('BM25 weighting', () => {
  it('gives a rare term more weight than a frequent one, and never a negative one', () => {
    expect(idf(1000, 1)).toBeGreaterThan(idf(1000, 100));
    expect(idf(1000, 1000)).toBeGreaterThan(0);
  });

  it('saturates term frequency and favours shorter passages', () => {
    expect(saturatedTf(0, 100, 100)).toBe(0);
    expect(saturatedTf(2, 100, 100)).toBeGreaterThan(saturatedTf(1, 100, 100));
    expect(saturatedTf(100, 100, 100)).toBeLessThan(BM25.k1 + 1);
    expect(saturatedTf(1, 50, 100)).toBeGreaterThan(saturatedTf(1, 200, 100));
  });
});
