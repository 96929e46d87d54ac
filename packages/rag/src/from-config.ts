import type { FleetConfig } from '@agent-fleet/core';
import type { Pool } from 'pg';
import { OpenAiEmbedder } from './openai-embedder.ts';
import type { Retriever } from './ports.ts';
import { PostgresRetriever } from './postgres-retriever.ts';
import { createQdrantClient } from './qdrant-client.ts';
import { QdrantRetriever } from './qdrant-retriever.ts';

/**
 * The retriever a deployment configured: Qdrant (hybrid dense + sparse) when `RETRIEVER=qdrant`
 * or `QDRANT_URL` is set, otherwise Postgres full-text over the fleet's own database.
 */
export async function createRetriever(config: FleetConfig, pool: Pool): Promise<Retriever> {
  const kind = config.RETRIEVER ?? (config.QDRANT_URL ? 'qdrant' : 'postgres');
  if (kind === 'postgres') return new PostgresRetriever({ pool });
  if (!config.QDRANT_URL) throw new Error('RETRIEVER=qdrant needs QDRANT_URL');
  const retriever = new QdrantRetriever({
    client: createQdrantClient({
      url: config.QDRANT_URL,
      ...(config.QDRANT_API_KEY ? { apiKey: config.QDRANT_API_KEY } : {}),
    }),
    alias: config.QDRANT_COLLECTION,
    embedder: new OpenAiEmbedder({
      baseUrl: config.EMBEDDINGS_BASE_URL ?? config.LLM_BASE_URLS[0]!,
      model: config.EMBEDDINGS_MODEL,
      dimensions: config.EMBEDDINGS_DIMENSIONS,
      apiKey: config.LLM_API_KEY,
    }),
  });
  await retriever.ensureCollection();
  return retriever;
}
