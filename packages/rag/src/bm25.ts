/**
 * The lexical ranking both backends share: BM25 with heading-weighted term frequencies (a BM25F
 * simplification: an occurrence in the title or a heading the chunk sits under counts as
 * `headingWeight` occurrences in its text), Lucene's non-negative IDF, and credit for query words
 * that stand next to each other in the passage as they do in the question. Postgres computes it in
 * SQL from its postings (postgres-retriever.ts); Qdrant from sparse vectors whose document side is
 * built here (terms.ts) and whose IDF it applies itself (`modifier: idf`, the same formula).
 */
export interface Bm25Params {
  /** Term-frequency saturation. */
  k1: number;
  /** Length normalisation: 0 none, 1 full. */
  b: number;
  /** What one occurrence in the title or a heading counts for, against 1 in the text. */
  headingWeight: number;
  /** Credit of a query word pair found as a phrase, times the mean IDF of its two words. */
  phraseWeight: number;
  /**
   * What a synonym of a question word (a `Thesaurus`) counts for against the word itself: each
   * question word scores by the best of itself and its synonyms, the synonyms' BM25 times this.
   */
  synonymWeight: number;
}

export const BM25: Readonly<Bm25Params> = Object.freeze({
  k1: 1.2,
  b: 0.75,
  headingWeight: 3,
  phraseWeight: 0.5,
  synonymWeight: 0.5,
});

/** Lucene's IDF, `ln(1 + (N - df + 0.5) / (df + 0.5))`: never negative, even for a word in every chunk. */
export function idf(documents: number, df: number): number {
  return Math.log(1 + (documents - df + 0.5) / (df + 0.5));
}

/** The saturated, length-normalised term frequency BM25 multiplies the IDF with. */
export function saturatedTf(tf: number, length: number, averageLength: number, p: Bm25Params = BM25): number {
  if (tf <= 0) return 0;
  const norm = p.k1 * (1 - p.b + (p.b * length) / Math.max(averageLength, 1));
  return (tf * (p.k1 + 1)) / (tf + norm);
}
