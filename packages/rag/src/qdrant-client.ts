import { QdrantClient } from '@qdrant/js-client-rest';
import type { QdrantApi } from './qdrant-retriever.ts';

/**
 * A Qdrant REST client for `QdrantRetriever`, so deployables need no direct dependency on the
 * client package. The version check is off: the retriever uses only long-stable endpoints.
 */
export function createQdrantClient(opts: { url: string; apiKey?: string; timeoutMs?: number }): QdrantApi {
  return new QdrantClient({
    url: opts.url,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    timeout: opts.timeoutMs ?? 30_000,
    checkCompatibility: false,
  });
}
