import type { FleetConfig, Logger } from '@agent-fleet/core';
import { LlmPool } from '@agent-fleet/llm';
import type { Pool } from 'pg';
import { LocalEmbedder } from './local-embedder.ts';
import { PoolEmbedder } from './pool-embedder.ts';
import type { Embedder, Retriever } from './ports.ts';
import { PostgresRetriever } from './postgres-retriever.ts';
import { createQdrantClient } from './qdrant-client.ts';
import { QdrantRetriever } from './qdrant-retriever.ts';
import { WordnetThesaurus } from './wordnet-thesaurus.ts';

/** What a deployable hands the retrieval wiring besides its configuration. */
export interface RetrievalWiring {
  /**
   * The process's LLM pool: embeddings go through it when `EMBEDDINGS_BASE_URL` is unset or names
   * the same servers. Without one (the gateway, the CLI) they get a pool of their own.
   */
  llm?: LlmPool;
  logger?: Logger;
}

/** An embedder and what closes the pool it built for itself (nothing when it shares `wiring.llm`). */
export interface ConfiguredEmbedder {
  embedder: Embedder;
  /** The pool it sends through (shared or its own). */
  pool: LlmPool;
  close(): void;
}

/**
 * The embedder a deployment configured: `EMBEDDINGS_MODEL` and `EMBEDDINGS_DIMENSIONS` through the
 * LLM pool. `EMBEDDINGS_BASE_URL` naming other servers than the LLM pool's gets a pool of its own
 * over them (with `EMBEDDINGS_API_KEY`, else `LLM_API_KEY`), with the same timeouts and retries.
 */
export function createEmbedder(config: FleetConfig, wiring: RetrievalWiring = {}): ConfiguredEmbedder {
  const urls = config.EMBEDDINGS_BASE_URL ?? config.LLM_BASE_URLS;
  const shared = wiring.llm && sameServers(urls, wiring.llm.servers) ? wiring.llm : undefined;
  const pool =
    shared ??
    new LlmPool({
      servers: urls,
      apiKey: config.EMBEDDINGS_API_KEY ?? config.LLM_API_KEY,
      model: config.EMBEDDINGS_MODEL,
      routing: config.LLM_ROUTING,
      maxInFlightPerServer: config.LLM_MAX_IN_FLIGHT_PER_SERVER,
      requestTimeoutMs: config.LLM_TIMEOUT_MS,
      maxAttempts: config.LLM_MAX_ATTEMPTS,
      healthIntervalMs: config.LLM_HEALTH_INTERVAL_MS,
      ...(wiring.logger ? { logger: wiring.logger } : {}),
    });
  const embedder = new PoolEmbedder({
    pool,
    model: config.EMBEDDINGS_MODEL,
    dimensions: config.EMBEDDINGS_DIMENSIONS,
  });
  return { embedder, pool, close: () => (shared ? undefined : pool.close()) };
}

/**
 * The retriever a deployment configured: Qdrant (hybrid dense + sparse) when `RETRIEVER=qdrant` or
 * `QDRANT_URL` is set, otherwise Postgres over the fleet's own database (BM25, dense vectors from
 * the local word vectors unless `EMBEDDER` says otherwise, WordNet synonyms with
 * `THESAURUS=wordnet`). `EMBEDDER` picks the dense side of either: `local`, `server` ({@link createEmbedder})
 * or `none`; by default `local` for Postgres and `server` for Qdrant. Closing the retriever closes
 * an embeddings pool it built.
 */
export async function createRetriever(
  config: FleetConfig,
  pool: Pool,
  wiring: RetrievalWiring = {},
): Promise<Retriever> {
  const kind = config.RETRIEVER ?? (config.QDRANT_URL ? 'qdrant' : 'postgres');
  const embedderKind = config.EMBEDDER ?? (kind === 'postgres' ? 'local' : 'server');
  if (kind === 'postgres') {
    const embeddings = configuredEmbedder(embedderKind, config, wiring);
    return new PostgresRetriever({
      pool,
      ...(embeddings ? { embedder: embeddings.embedder, onClose: embeddings.close } : {}),
      ...(config.THESAURUS === 'wordnet' ? { thesaurus: new WordnetThesaurus() } : {}),
    });
  }
  if (!config.QDRANT_URL) throw new Error('RETRIEVER=qdrant needs QDRANT_URL');
  const embeddings = configuredEmbedder(embedderKind, config, wiring);
  const retriever = new QdrantRetriever({
    client: createQdrantClient({
      url: config.QDRANT_URL,
      ...(config.QDRANT_API_KEY ? { apiKey: config.QDRANT_API_KEY } : {}),
    }),
    alias: config.QDRANT_COLLECTION,
    ...(embeddings ? { embedder: embeddings.embedder, onClose: embeddings.close } : {}),
  });
  try {
    await retriever.ensureCollection();
  } catch (err) {
    embeddings?.close();
    throw err;
  }
  return retriever;
}

function configuredEmbedder(
  kind: 'local' | 'server' | 'none',
  config: FleetConfig,
  wiring: RetrievalWiring,
): { embedder: Embedder; close(): void } | undefined {
  if (kind === 'none') return undefined;
  if (kind === 'local') {
    const cacheDir = config.WORD_VECTORS_CACHE_DIR;
    return { embedder: new LocalEmbedder(cacheDir ? { cacheDir } : {}), close: () => {} };
  }
  return createEmbedder(config, wiring);
}

function sameServers(a: readonly string[], b: readonly string[]): boolean {
  const norm = (urls: readonly string[]) =>
    [...new Set(urls.map((u) => u.replace(/\/+$/, '')))].sort().join(' ');
  return norm(a) === norm(b);
}
