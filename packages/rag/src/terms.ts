/**
 * Lexical terms for the sparse (BM25-style) vectors: words lower-cased, English stop words
 * dropped, a light suffix stemmer, each term hashed to a stable u32 index. Stable across processes
 * and versions of this file only as long as `termIndex` and `stem` do not change: changing either
 * needs a re-index (`QdrantRetriever.reindex`).
 */

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

const K1 = 1.2;
const B = 0.75;
const AVG_LEN = 120;

/**
 * The document side of BM25: saturated term frequency with length normalisation. The IDF half is
 * applied by Qdrant at query time (sparse vector `modifier: idf`). Indices are sorted and unique.
 */
export function documentSparseVector(text: string): SparseVector {
  const ts = terms(text);
  const tf = new Map<number, number>();
  for (const t of ts) {
    const i = termIndex(t);
    tf.set(i, (tf.get(i) ?? 0) + 1);
  }
  const norm = K1 * (1 - B + (B * ts.length) / AVG_LEN);
  return sortedVector([...tf].map(([i, f]) => [i, (f * (K1 + 1)) / (f + norm)]));
}

/** The query side: each distinct term once with weight 1, so the score is a sum of IDF × TF. */
export function querySparseVector(text: string): SparseVector {
  return sortedVector([...new Set(terms(text).map(termIndex))].map((i) => [i, 1]));
}

function sortedVector(entries: [number, number][]): SparseVector {
  entries.sort((a, b) => a[0] - b[0]);
  return { indices: entries.map((e) => e[0]), values: entries.map((e) => e[1]) };
}
