/**
 * Lexical terms for the sparse (BM25-style) vectors: words lower-cased, English stop words
 * dropped, a light suffix stemmer, each term hashed to a stable u32 index. Stable across processes
 * and versions of this file only as long as `termIndex`, `stem` and the weighting (bm25.ts) do not
 * change: changing any of them needs a re-index (`QdrantRetriever.reindex`).
 */

import { BM25, saturatedTf } from './bm25.ts';
import type { ChunkRecord } from './ports.ts';

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;

// A short list: long lists drop words such as "first" that questions depend on.
const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her his how i if in ' +
    'into is it its may me might my no not of on or our shall she should so than that the their them then ' +
    'there these they this those to was we were what when where which who whom why will with would you your'
  ).split(' '),
);

/** Words of `text` in order, lower-cased, without stop words or possessives. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const w = m[0].replace(/['’]s$/, '').replace(/['’]/g, '');
    if (w && !STOP_WORDS.has(w)) out.push(w);
  }
  return out;
}

/** A light English stemmer: enough to match plurals and common verb forms, never below 3 letters. */
export function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  const apply = (rules: [RegExp, string][]) => {
    for (const [re, rep] of rules) {
      if (!re.test(w)) continue;
      const s = w.replace(re, rep);
      if (s.length >= 3) w = s;
      return;
    }
  };
  apply([
    [/ies$/, 'y'],
    [/sses$/, 'ss'],
    [/([^su])s$/, '$1'],
  ]);
  apply([
    [/ation$/, 'ate'],
    [/ing$/, ''],
    [/ed$/, ''],
    [/ly$/, ''],
  ]);
  return w;
}

export function terms(text: string): string[] {
  return words(text).map(stem);
}

/** FNV-1a, 32 bits: a stable term → sparse-vector index. */
export function termIndex(term: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(term)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface SparseVector {
  indices: number[];
  values: number[];
}

/** Expected chunk length in terms: Qdrant keeps no average, so the document side assumes one. */
const AVG_LEN = 120;

/**
 * The document side of BM25 for a chunk, weighted as the Postgres backend weights it (bm25.ts):
 * saturated term frequency with length normalisation, an occurrence in the title or a heading
 * counting `headingWeight` times. The IDF half is applied by Qdrant at query time (sparse vector
 * `modifier: idf`, Lucene's formula). Indices are sorted and unique.
 */
export function chunkSparseVector(chunk: Pick<ChunkRecord, 'title' | 'sectionPath' | 'text'>): SparseVector {
  const heading = terms([chunk.title, ...chunk.sectionPath].join(' '));
  const body = terms(chunk.text);
  const tf = new Map<number, number>();
  const add = (ts: string[], weight: number) => {
    for (const t of ts) {
      const i = termIndex(t);
      tf.set(i, (tf.get(i) ?? 0) + weight);
    }
  };
  add(heading, BM25.headingWeight);
  add(body, 1);
  const length = heading.length + body.length;
  return sortedVector([...tf].map(([i, f]) => [i, saturatedTf(f, length, AVG_LEN)]));
}

/** The query side: each distinct term once with weight 1, so the score is a sum of IDF × TF. */
export function querySparseVector(text: string): SparseVector {
  return sortedVector([...new Set(terms(text).map(termIndex))].map((i) => [i, 1]));
}

function sortedVector(entries: [number, number][]): SparseVector {
  entries.sort((a, b) => a[0] - b[0]);
  return { indices: entries.map((e) => e[0]), values: entries.map((e) => e[1]) };
}
