import { describe, expect, it } from 'vitest';
import { fuseCandidates } from './fusion.ts';
import type { ChunkRecord, SearchHit } from './ports.ts';

const hit = (docId: string, chunkIndex: number, score: number): SearchHit => ({
  score,
  chunk: { tenant: 't', docId, chunkIndex } as ChunkRecord,
});
const ids = (hits: SearchHit[]) => hits.map((h) => `${h.chunk.docId}#${h.chunk.chunkIndex}`);

describe('fuseCandidates', () => {
  it('keeps the backend order when every passage comes from another document', () => {
    const hits = [hit('a', 0, 9), hit('b', 0, 5), hit('c', 0, 1)];
    expect(ids(fuseCandidates(hits, 3))).toEqual(['a#0', 'b#0', 'c#0']);
    expect(ids(fuseCandidates(hits, 2))).toEqual(['a#0', 'b#0']);
    expect(fuseCandidates([], 5)).toEqual([]);
  });

  it('lets a passage of another document in before the third neighbour of one hit', () => {
    const hits = [hit('a', 0, 10), hit('a', 1, 9.5), hit('a', 2, 9), hit('a', 3, 8.5), hit('b', 0, 6)];
    expect(ids(fuseCandidates(hits, 3))).toEqual(['a#0', 'a#1', 'b#0']);
    // Without the decay, the neighbours fill the top k.
    const flat = { documentWeight: 0, documentDepth: 0, sameDocumentDecay: 1 };
    expect(ids(fuseCandidates(hits, 3, flat))).toEqual(['a#0', 'a#1', 'a#2']);
  });

  it('puts a document matched in several passages before one matched once as strongly', () => {
    const hits = [hit('once', 0, 10), hit('many', 0, 9.5), hit('many', 5, 8), hit('many', 9, 8)];
    expect(ids(fuseCandidates(hits, 1))).toEqual(['many#0']);
    expect(fuseCandidates(hits, 4).map((h) => h.score)).toEqual(
      [...fuseCandidates(hits, 4).map((h) => h.score)].sort((a, b) => b - a),
    );
  });

  it('ranks by position when the backend gives no positive scores', () => {
    expect(ids(fuseCandidates([hit('a', 0, 0), hit('b', 0, 0)], 2))).toEqual(['a#0', 'b#0']);
  });
});
