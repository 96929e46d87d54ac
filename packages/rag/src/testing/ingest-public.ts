import { ingestDocument } from '../ingest.ts';
import type { Retriever } from '../ports.ts';

/** Ingests `text` as a public document of `tenant`, titled by its id (what retrieval tests index). */
export function ingestPublic(retriever: Retriever, tenant: string, docId: string, text: string) {
  return ingestDocument({ tenant, docId, title: docId, text, acl: [], public: true }, { retriever });
}
