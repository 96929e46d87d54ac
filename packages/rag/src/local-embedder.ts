import type { Embedder } from './ports.ts';
import { words } from './terms.ts';
import { DEFAULT_WORD_LIMIT, loadWordVectors, type WordVectors } from './word-vectors.ts';

export interface LocalEmbedderOptions {
  /** SIF smoothing: a word of estimated frequency p weighs a / (a + p). */
  smoothing?: number;
  /** Words kept from the vector table (most frequent first). */
  wordLimit?: number;
  /** Where the compact vector table is cached (`word-vectors.ts`). */
  cacheDir?: string;
}

/** Rows of the vector table the common direction is estimated from. */
const COMMON_DIRECTION_WORDS = 50_000;
/** Size of the vocabulary the package's frequency ranks come from (Zipf's law normalises by it). */
const VOCABULARY = 400_000;

/**
 * Sentence vectors without a model server: the SIF-weighted average of the text's word vectors
 * (`word-vectors.ts`, shipped in an npm package), with the direction every average shares removed,
 * L2-normalised. A word's frequency is estimated from its rank by Zipf's law, so frequent words
 * weigh little and every text is embedded alike, whoever holds it. Carries what words mean, not
 * what sentences say: "erase" is near "wipe" and "delete", but word order counts for nothing.
 * Deterministic, in-process, well under a millisecond per passage; the first call loads the vectors.
 */
export class LocalEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions = 100;
  readonly #smoothing: number;
  readonly #limit: number;
  readonly #cacheDir: string | undefined;
  #ready: Promise<{ vectors: WordVectors; common: Float32Array }> | undefined;

  constructor(opts: LocalEmbedderOptions = {}) {
    this.#smoothing = opts.smoothing ?? 1e-3;
    this.#limit = opts.wordLimit ?? DEFAULT_WORD_LIMIT;
    this.#cacheDir = opts.cacheDir;
    this.id = `glove-sif-100d-q8/a=${this.#smoothing}/n=${this.#limit}`;
  }

  async embed(texts: string[]): Promise<number[][]> {
    const { vectors, common } = await this.#load();
    return texts.map((t) => Array.from(this.#vector(vectors, common, t)));
  }

  /** Loads the word vectors now rather than on the first `embed` (resolves when they are in memory). */
  async warm(): Promise<void> {
    await this.#load();
  }

  #load() {
    const options = { limit: this.#limit, ...(this.#cacheDir ? { cacheDir: this.#cacheDir } : {}) };
    this.#ready ??= loadWordVectors(options).then((vectors) => ({
      vectors,
      common: this.#commonDirection(vectors),
    }));
    return this.#ready;
  }

  /** Zipf's estimate of the probability of the word at `row` (0 = most frequent). */
  #weight(row: number): number {
    const p = 1 / ((row + 1) * (Math.log(VOCABULARY) + 0.5772));
    return this.#smoothing / (this.#smoothing + p);
  }

  #vector(vectors: WordVectors, common: Float32Array, text: string): Float32Array {
    const v = new Float32Array(vectors.dimensions);
    for (const w of words(text)) {
      const row = vectors.rowOf(w);
      if (row === undefined) continue;
      vectors.addTo(v, row, this.#weight(row));
    }
    return unit(removeDirection(v, common));
  }

  /** The frequency-weighted mean of the most frequent words: what every average leans towards. */
  #commonDirection(vectors: WordVectors): Float32Array {
    const mean = new Float32Array(vectors.dimensions);
    const n = Math.min(COMMON_DIRECTION_WORDS, vectors.size);
    for (let row = 0; row < n; row++) vectors.addTo(mean, row, 1 / (row + 1));
    return unit(mean);
  }
}

function removeDirection(v: Float32Array, direction: Float32Array): Float32Array {
  let projection = 0;
  for (let d = 0; d < v.length; d++) projection += v[d]! * direction[d]!;
  for (let d = 0; d < v.length; d++) v[d]! -= projection * direction[d]!;
  return v;
}

function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let d = 0; d < v.length; d++) v[d]! /= norm;
  return v;
}
