export { accessFor, checkAccess, MissingAccessError, type ProfileSource, visibleTo } from './access.ts';
export { AclRetriever, DEFAULT_K, MAX_K, MAX_READ_CHUNKS, type ViolationHandler } from './acl-retriever.ts';
export { BM25, type Bm25Params } from './bm25.ts';
export { type ChunkOptions, chunkText, DEFAULT_CHUNKING, type TextChunk } from './chunker.ts';
export {
  CITATION_INSTRUCTIONS,
  type Citation,
  citationsUsed,
  formatPassages,
  passageText,
} from './citations.ts';
export {
  type EvalQuestion,
  type EvalSet,
  isRelevant,
  loadEvalSet,
  SAMPLE_CORPUS_DIR,
  SAMPLE_TENANT,
} from './corpus.ts';
export {
  type ArticleEvalSet,
  type ArticleQuestion,
  articleOf,
  EVAL_SPLITS,
  type EvalSplit,
  GDPR_EVAL_PATH,
  hitAt,
  type Judgement,
  loadArticleEvalSet,
  ndcgAt,
  type RankingQuality,
  rankingQuality,
  reciprocalRankAt,
} from './evaluation.ts';
export {
  type ConfiguredEmbedder,
  createEmbedder,
  createRetriever,
  type RetrievalWiring,
} from './from-config.ts';
export { type FrontMatter, splitFrontMatter } from './front-matter.ts';
export { FUSION, type FusionParams } from './fusion.ts';
export { HashingEmbedder } from './hashing-embedder.ts';
export {
  DOC_ID_PATTERN,
  type DocumentInput,
  discoverFiles,
  documentInputSchema,
  type FileResult,
  type IngestPathsOptions,
  type IngestReport,
  type IngestResult,
  ingestDocument,
  ingestPaths,
  MAX_DOCUMENT_BYTES,
  type PreparedDocument,
  prepareDocument,
  stableDocId,
} from './ingest.ts';
export { LocalEmbedder, type LocalEmbedderOptions } from './local-embedder.ts';
export {
  type DocumentFormat,
  formatOf,
  type ParsedDocument,
  ParseError,
  type ParseFailure,
  parseDocument,
  SUPPORTED_EXTENSIONS,
} from './parse.ts';
export { type EmbeddingsPool, PoolEmbedder, type PoolEmbedderOptions } from './pool-embedder.ts';
export type {
  ChunkRecord,
  DocumentRecord,
  DocumentSummary,
  Embedder,
  EmbeddingUsage,
  EmbeddingUsageListener,
  ListDocumentsOptions,
  ReplaceStatus,
  Retriever,
  SearchHit,
  SearchOptions,
  Thesaurus,
  UserAccess,
} from './ports.ts';
export { DENSE, type DenseParams } from './postgres-bm25.ts';
export { PostgresRetriever } from './postgres-retriever.ts';
export { createQdrantClient } from './qdrant-client.ts';
export { type QdrantApi, QdrantRetriever, type QdrantRetrieverOptions } from './qdrant-retriever.ts';
export { isWeakRetrieval, SEARCH_AGAIN_INSTRUCTIONS, termCoverage, WEAK_COVERAGE } from './search-again.ts';
export { terms, words } from './terms.ts';
export {
  DEFAULT_WORD_LIMIT,
  loadWordVectors,
  prepareWordVectors,
  type WordVectors,
  type WordVectorsOptions,
} from './word-vectors.ts';
export { WordnetThesaurus } from './wordnet-thesaurus.ts';
