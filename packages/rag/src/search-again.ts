import { terms } from './terms.ts';

/**
 * Below this share of the question's words found in the passages, a retrieval counts as weak: the
 * question is probably phrased in other words than the documents (a paraphrase, everyday words for
 * legal terms), which a search in the documents' own vocabulary may find.
 */
export const WEAK_COVERAGE = 0.6;

/**
 * The share (0 to 1) of the question's distinct terms (stemmed, stop words dropped) that occur in
 * `passages`. It depends only on the texts, not on a backend's scores, so every backend's results
 * are judged alike and a resumed turn, given the same passages, judges them the same way.
 */
export function termCoverage(question: string, passages: string): number {
  const wanted = new Set(terms(question));
  if (wanted.size === 0) return 1;
  const present = new Set(terms(passages));
  let found = 0;
  for (const t of wanted) if (present.has(t)) found++;
  return found / wanted.size;
}

/** Whether the passages retrieved for `question` match too little of it to be trusted. */
export function isWeakRetrieval(question: string, passages: string): boolean {
  return passages.trim() === '' || termCoverage(question, passages) < WEAK_COVERAGE;
}

/**
 * What the model is told when the passages retrieved for a message are weak and it may search: one
 * more search, in the documents' own words, before answering.
 */
export const SEARCH_AGAIN_INSTRUCTIONS =
  'These passages match few of the words of the question. If they do not answer it, call ' +
  'search_documents once with the terms the documents themselves would use (their legal or ' +
  'technical vocabulary rather than the words of the question), then answer.';
