import type { ChunkRecord } from './ports.ts';

/** A `rag_chunks` row as the retriever selects it, with its score (0 where nothing ranks). */
export interface ChunkRow {
  tenant: string;
  doc_id: string;
  chunk_index: number;
  title: string;
  section_path: string[];
  acl: string[];
  public: boolean;
  source: string;
  content_hash: string;
  text: string;
  token_count: number;
  start_offset: number;
  end_offset: number;
  score: number;
}

export function chunkOfRow(r: ChunkRow): ChunkRecord {
  return {
    tenant: r.tenant,
    docId: r.doc_id,
    chunkIndex: r.chunk_index,
    title: r.title,
    sectionPath: r.section_path,
    acl: r.acl,
    public: r.public,
    source: r.source,
    contentHash: r.content_hash,
    text: r.text,
    tokenCount: r.token_count,
    start: r.start_offset,
    end: r.end_offset,
  };
}
