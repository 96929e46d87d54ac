import type { Embedder } from './ports.ts';
import { termIndex, terms } from './terms.ts';

/**
 * A deterministic stand-in for an embeddings server: feature-hashed word and word-pair counts,
 * L2-normalised. It carries no meaning beyond shared words, but it exercises the dense path of a
 * backend in tests and offline demos without a model.
 */
export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;

  constructor(dimensions = 256) {
    this.dimensions = dimensions;
    this.id = `hashing-${dimensions}`;
  }

  async embed(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.#vector(t));
  }

  #vector(text: string): number[] {
    const v = new Array<number>(this.dimensions).fill(0);
    const ts = terms(text);
    const features = [...ts, ...ts.slice(1).map((t, i) => `${ts[i]} ${t}`)];
    for (const f of features) {
      const h = termIndex(f);
      v[h % this.dimensions]! += h & 0x80000000 ? -1 : 1;
    }
    const norm = Math.hypot(...v) || 1;
    return v.map((x) => x / norm);
  }
}
