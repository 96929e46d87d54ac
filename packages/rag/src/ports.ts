/**
 * The retrieval ports: plain types, no runtime dependencies. Backends implement `Retriever`
 * (through `AclRetriever`, which applies the visibility rule to every result) and receive their
 * clients through their constructors.
 */

/**
 * Who is asking, as far as retrieval is concerned. Built server-side from the user's stored
 * profile only (`accessFor`), never from fields of a request.
 */
export interface UserAccess {
  tenant: string;
  groups: string[];
}

/** A document as registered: the unit that is replaced or deleted as a whole. */
export interface DocumentRecord {
  tenant: string;
  docId: string;
  title: string;
  /** Where it came from: a path relative to the ingestion root, `api`, or a URL. */
  source: string;
  /** Groups that may read it (any one suffices). */
  acl: string[];
  /** Visible to every user of the tenant, whatever their groups. */
  public: boolean;
  /** sha256 of the document's text. */
  contentHash: string;
  /** Hash of text, metadata and chunking options: a backend skips rewriting an unchanged revision. */
  revision: string;
}

/** One retrievable passage. `text` is an exact slice `[start, end)` of the document's text. */
export interface ChunkRecord {
  tenant: string;
  docId: string;
  chunkIndex: number;
  title: string;
  /** Headings from the outermost to the one this chunk sits under. */
  sectionPath: string[];
  acl: string[];
  public: boolean;
  source: string;
  /** sha256 of `text`. */
  contentHash: string;
  text: string;
  tokenCount: number;
  start: number;
  end: number;
}

export interface SearchHit {
  chunk: ChunkRecord;
  /** Backend-specific; higher is better, comparable only within one result list. */
  score: number;
}

export interface SearchOptions {
  /** How many hits at most; defaults to 5. */
  k?: number;
  /** Told what an embeddings call made for this search cost (none on a lexical backend). */
  onUsage?: EmbeddingUsageListener;
}

/** The tokens an embeddings server reported for a caller's texts (its share of a batched request). */
export interface EmbeddingUsage {
  model: string;
  promptTokens: number;
}

export type EmbeddingUsageListener = (usage: EmbeddingUsage) => void;

export type ReplaceStatus = 'created' | 'replaced' | 'unchanged';

/**
 * What the registry says of a document: its permissions and size, never its text. Enough to decide
 * who may read it (`visibleTo`) before anything of it is read.
 */
export interface DocumentSummary {
  tenant: string;
  docId: string;
  title: string;
  acl: string[];
  public: boolean;
  chunkCount: number;
}

export interface ListDocumentsOptions {
  /** Only documents whose docId starts with this (case-sensitive). */
  prefix?: string;
  /** Only documents whose docId sorts after this: the cursor of the next page. */
  after?: string;
  /** At most this many; defaults to 1000. */
  limit?: number;
}

export interface Retriever {
  /** Which backend answers (`postgres`, `qdrant`), for logs and metrics. */
  readonly name: string;
  /**
   * Makes `chunks` the document's only chunks. Idempotent: the same revision again changes
   * nothing; a new revision leaves no chunk of the old one behind.
   */
  replaceDocument(doc: DocumentRecord, chunks: ChunkRecord[]): Promise<{ status: ReplaceStatus }>;
  /** Removes the document and all its chunks. Idempotent; resolves whether anything was there. */
  deleteDocument(tenant: string, docId: string): Promise<{ deleted: boolean }>;
  /**
   * The best chunks for `query` among those visible to `access`. Throws `MissingAccessError`
   * without a valid access; never returns a chunk that `visibleTo(access, chunk)` rejects.
   */
  search(access: UserAccess, query: string, opts?: SearchOptions): Promise<SearchHit[]>;
  /**
   * The chunks of one document visible to `access`, in order; with `section`, only those whose
   * section path starts with it (case-insensitive). Same refusal and re-check as `search`.
   */
  readDocument(
    access: UserAccess,
    docId: string,
    opts?: { section?: string; maxChunks?: number },
  ): Promise<ChunkRecord[]>;
  /**
   * The tenant's documents in docId order, as summaries (no text). For operators and batch runs that
   * must report documents a user may not read; callers decide visibility with `visibleTo`.
   */
  listDocuments(tenant: string, opts?: ListDocumentsOptions): Promise<DocumentSummary[]>;
  /** The summary of one document of the tenant (no text), or null when there is none. */
  getDocument(tenant: string, docId: string): Promise<DocumentSummary | null>;
  /** Releases what the retriever opened itself; clients passed in stay open. */
  close(): Promise<void>;
}

/**
 * Dense embeddings: any OpenAI-compatible `/v1/embeddings` server through the LLM pool
 * (`PoolEmbedder`), word vectors shipped in an npm package (`LocalEmbedder`), or a stand-in for
 * tests (`HashingEmbedder`).
 */
export interface Embedder {
  /**
   * What makes the vectors: two embedders with the same id give comparable vectors. Stored with
   * each vector, so vectors of another embedder are never compared with a question's.
   */
  readonly id: string;
  readonly dimensions: number;
  /** One vector of `dimensions` numbers per text, in order; `onUsage` hears what the server counted. */
  embed(texts: string[], opts?: { onUsage?: EmbeddingUsageListener }): Promise<number[][]>;
}

/**
 * Other words for a word of a question, from a general-purpose resource (`WordnetThesaurus`), never
 * fitted to a tenant's questions. The ranking matches them in the documents below the question's
 * own words.
 */
export interface Thesaurus {
  readonly id: string;
  /** Synonyms of `word` (lower-case, one word each, never `word` itself); none when it is unknown. */
  synonyms(word: string): Promise<readonly string[]>;
}
