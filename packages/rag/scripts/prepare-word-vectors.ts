/**
 * Builds the compact word-vector table the local embedder reads (`src/word-vectors.ts`) unless an
 * up-to-date one is cached: the bootstrap and the worker image run it, so no worker ever streams
 * the package's 300 MB JSON itself. `WORD_VECTORS_CACHE_DIR` overrides where it is written.
 */
import { prepareWordVectors } from '../src/word-vectors.ts';

const dir = process.env.WORD_VECTORS_CACHE_DIR;
const started = performance.now();
const path = await prepareWordVectors(dir ? { cacheDir: dir } : {});
console.log(`word vectors: ${path} (${Math.round(performance.now() - started)} ms)`);
