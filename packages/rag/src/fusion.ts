import type { SearchHit } from './ports.ts';

/**
 * How candidates from a backend become the top k, the same for every backend (`AclRetriever`):
 * chunk scores are normalised by the best one; a passage is credited with the best other passages
 * of its document (a document matched in several places is more likely the answer than one lucky
 * chunk); then the top k are picked one at a time, each passage's priority shrinking by
 * `sameDocumentDecay` for every passage of its document already picked, so five passages are five
 * neighbours of one hit only when nothing else comes close.
 */
export interface FusionParams {
  /** Credit, per unit of normalised score, from a passage's best other passages in its document. */
  documentWeight: number;
  /** How many of those other passages count. */
  documentDepth: number;
  /** Factor on a passage's priority for each passage of its document already picked (0..1). */
  sameDocumentDecay: number;
}

export const FUSION: Readonly<FusionParams> = Object.freeze({
  documentWeight: 0.3,
  documentDepth: 2,
  sameDocumentDecay: 0.5,
});

interface Candidate {
  hit: SearchHit;
  doc: string;
  priority: number;
}

/**
 * The best `k` of `hits` (best first, as the backend ranked them), each with its fused score;
 * higher is better, comparable only within one result list. Order among equal priorities follows
 * the backend's.
 */
export function fuseCandidates(hits: readonly SearchHit[], k: number, p: FusionParams = FUSION): SearchHit[] {
  if (hits.length === 0 || k <= 0) return [];
  const candidates = withDocumentCredit(normalised(hits), p);
  const picked: SearchHit[] = [];
  const perDocument = new Map<string, number>();
  const left = [...candidates];
  while (picked.length < k && left.length > 0) {
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (const [i, c] of left.entries()) {
      const value = c.priority * p.sameDocumentDecay ** (perDocument.get(c.doc) ?? 0);
      if (value > bestValue) {
        best = i;
        bestValue = value;
      }
    }
    const [chosen] = left.splice(best, 1);
    perDocument.set(chosen!.doc, (perDocument.get(chosen!.doc) ?? 0) + 1);
    picked.push({ chunk: chosen!.hit.chunk, score: bestValue });
  }
  return picked;
}

/** Scores divided by the best one; by rank when the backend's scores are not positive. */
function normalised(hits: readonly SearchHit[]): Candidate[] {
  const top = Math.max(...hits.map((h) => h.score));
  return hits.map((hit, i) => ({
    hit,
    doc: `${hit.chunk.tenant}\u0000${hit.chunk.docId}`,
    priority: top > 0 ? Math.max(hit.score, 0) / top : 1 / (i + 1),
  }));
}

function withDocumentCredit(candidates: Candidate[], p: FusionParams): Candidate[] {
  const byDocument = new Map<string, number[]>();
  for (const c of candidates) byDocument.set(c.doc, [...(byDocument.get(c.doc) ?? []), c.priority]);
  for (const scores of byDocument.values()) scores.sort((a, b) => b - a);
  return candidates.map((c) => {
    const others = [...byDocument.get(c.doc)!];
    others.splice(others.indexOf(c.priority), 1);
    const credit = others.slice(0, p.documentDepth).reduce((sum, s) => sum + s, 0);
    return { ...c, priority: c.priority + p.documentWeight * credit };
  });
}
