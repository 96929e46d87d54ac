import { describe, expect, it } from 'vitest';
import {
  articleOf,
  hitAt,
  loadArticleEvalSet,
  ndcgAt,
  rankingQuality,
  reciprocalRankAt,
} from './evaluation.ts';

describe('the GDPR evaluation set', () => {
  const set = loadArticleEvalSet();

  it('has at least 60 questions with unique ids, each labelled with real article numbers', () => {
    expect(set.questions.length).toBeGreaterThanOrEqual(60);
    expect(new Set(set.questions.map((q) => q.id)).size).toBe(set.questions.length);
    expect(new Set(set.questions.map((q) => q.question)).size).toBe(set.questions.length);
  });

  it('holds out every third question, as fixed before anything was measured', () => {
    for (const [i, q] of set.questions.entries()) {
      expect(q.id).toBe(`q${String(i + 1).padStart(2, '0')}`);
      expect(q.split, q.id).toBe((i + 1) % 3 === 0 ? 'held-out' : 'tuning');
    }
    const heldOut = set.questions.filter((q) => q.split === 'held-out').length;
    expect(heldOut).toBeGreaterThanOrEqual(set.questions.length / 3 - 1);
  });
});

describe('article-level ranking metrics', () => {
  const relevant = new Set([33, 34]);

  it('maps a GDPR source to its article', () => {
    expect(articleOf('article-33.md')).toBe(33);
    expect(articleOf('gdpr/article-05.md')).toBe(5);
    expect(articleOf('recital-33.md')).toBeNull();
  });

  it('counts a hit within k, and the reciprocal rank of the first answering result', () => {
    expect(hitAt(5, { ranked: [1, 2, 3, 4, 33], relevant })).toBe(1);
    expect(hitAt(5, { ranked: [1, 2, 3, 4, 5, 33], relevant })).toBe(0);
    expect(reciprocalRankAt(10, { ranked: [1, 34, 33], relevant })).toBe(0.5);
    expect(reciprocalRankAt(2, { ranked: [1, 2, 33], relevant })).toBe(0);
  });

  it('gains once per answering article in nDCG, however many of its passages come back', () => {
    expect(ndcgAt(10, { ranked: [33, 34], relevant })).toBeCloseTo(1);
    expect(ndcgAt(10, { ranked: [33, 33, 33], relevant })).toBeCloseTo(1 / (1 + 1 / Math.log2(3)));
    expect(ndcgAt(10, { ranked: [1, 33], relevant: new Set([33]) })).toBeCloseTo(1 / Math.log2(3));
    expect(ndcgAt(10, { ranked: [], relevant })).toBe(0);
  });

  it('averages over questions', () => {
    const q = rankingQuality([
      { ranked: [33], relevant: new Set([33]) },
      { ranked: [1, 2], relevant: new Set([2]) },
    ]);
    expect(q).toEqual({ questions: 2, recall5: 1, mrr10: 0.75, ndcg10: (1 + 1 / Math.log2(3)) / 2 });
  });
});
