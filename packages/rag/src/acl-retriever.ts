import { FleetError } from '@agent-fleet/core';
import { checkAccess, isValidGroup, isValidTenant, visibleTo } from './access.ts';
import { FUSION, type FusionParams, fuseCandidates } from './fusion.ts';
import type {
  ChunkRecord,
  DocumentRecord,
  DocumentSummary,
  ListDocumentsOptions,
  ReplaceStatus,
  Retriever,
  SearchHit,
  SearchOptions,
  UserAccess,
} from './ports.ts';

export const DEFAULT_K = 5;
export const MAX_K = 100;
/** The most chunks one `readDocument` returns: enough for a whole long document (a batch review). */
export const MAX_READ_CHUNKS = 100_000;
export const DEFAULT_LIST_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;

/**
 * Candidates a backend ranks for `k` results: a few more than k, for the fusion to pick a diverse
 * top k from. Few, because every candidate is a whole passage read and sent: on the GDPR tuning
 * split k + 5 ranked as well as 3k, and the sample corpus the same (scripts/bench/rag.ts).
 */
export function candidateCount(k: number): number {
  return Math.min(2 * MAX_K, Math.max(10, k + 5));
}

/** Called when a backend returned a chunk the rule forbids (a bug): the chunk was dropped. */
export type ViolationHandler = (info: { backend: string; access: UserAccess; chunk: ChunkRecord }) => void;

/**
 * The shared front of every backend. `search` refuses to run without a valid access, hands the
 * backend a checked, frozen access to build its filter from, checks every returned chunk against
 * `visibleTo` again before it can reach a prompt (defence in depth), and only then fuses the
 * backend's candidates into the top k (`fuseCandidates`), so every backend ranks the same way from
 * its chunk scores. Writes are checked for consistency so a chunk can never carry other
 * permissions than its document.
 */
export abstract class AclRetriever implements Retriever {
  abstract readonly name: string;
  readonly #onViolation: ViolationHandler | undefined;
  readonly #fusion: FusionParams;

  constructor(opts: { onViolation?: ViolationHandler; fusion?: FusionParams } = {}) {
    this.#onViolation = opts.onViolation;
    this.#fusion = opts.fusion ?? FUSION;
  }

  async search(access: UserAccess, query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const checked = checkAccess(access);
    const k = Math.min(MAX_K, Math.max(1, Math.floor(opts.k ?? DEFAULT_K)));
    if (typeof query !== 'string' || query.trim() === '') return [];
    const hits = await this.searchVisible(
      checked,
      query,
      candidateCount(k),
      opts.onUsage ? { onUsage: opts.onUsage } : {},
    );
    const safe: SearchHit[] = [];
    for (const hit of hits) {
      if (visibleTo(checked, hit.chunk)) safe.push(hit);
      else this.#onViolation?.({ backend: this.name, access: checked, chunk: hit.chunk });
    }
    return fuseCandidates(safe, k, this.#fusion);
  }

  async readDocument(
    access: UserAccess,
    docId: string,
    opts: { section?: string; maxChunks?: number } = {},
  ): Promise<ChunkRecord[]> {
    const checked = checkAccess(access);
    if (typeof docId !== 'string' || docId === '') return [];
    const limit = Math.min(MAX_READ_CHUNKS, Math.max(1, Math.floor(opts.maxChunks ?? 20)));
    const chunks = await this.readVisible(checked, docId);
    const want = opts.section?.trim().toLowerCase();
    const out: ChunkRecord[] = [];
    for (const chunk of chunks) {
      if (!visibleTo(checked, chunk)) {
        this.#onViolation?.({ backend: this.name, access: checked, chunk });
        continue;
      }
      if (want && !chunk.sectionPath.join(' > ').toLowerCase().startsWith(want)) continue;
      out.push(chunk);
      if (out.length >= limit) break;
    }
    return out;
  }

  async replaceDocument(doc: DocumentRecord, chunks: ChunkRecord[]): Promise<{ status: ReplaceStatus }> {
    checkDocument(doc, chunks);
    return this.replaceChecked(doc, chunks);
  }

  async deleteDocument(tenant: string, docId: string): Promise<{ deleted: boolean }> {
    if (!isValidTenant(tenant)) throw new FleetError('invalid_request', 'invalid tenant');
    return this.deleteChecked(tenant, docId);
  }

  async listDocuments(tenant: string, opts: ListDocumentsOptions = {}): Promise<DocumentSummary[]> {
    if (!isValidTenant(tenant)) throw new FleetError('invalid_request', 'invalid tenant');
    const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIST_LIMIT)));
    return this.listChecked(tenant, opts.prefix ?? '', opts.after, limit);
  }

  async getDocument(tenant: string, docId: string): Promise<DocumentSummary | null> {
    if (!isValidTenant(tenant)) throw new FleetError('invalid_request', 'invalid tenant');
    if (typeof docId !== 'string' || docId === '') return null;
    return this.getChecked(tenant, docId);
  }

  abstract close(): Promise<void>;

  /**
   * The best `n` chunks by the backend's own score, best first. Must filter by `access` itself
   * (tenant, then public or ACL overlap) inside the query, before ranking limits anything.
   */
  protected abstract searchVisible(
    access: UserAccess,
    query: string,
    n: number,
    observe: Pick<SearchOptions, 'onUsage'>,
  ): Promise<SearchHit[]>;
  /** Every chunk of `docId` visible to `access`, ordered by chunkIndex; filtered inside the query. */
  protected abstract readVisible(access: UserAccess, docId: string): Promise<ChunkRecord[]>;
  protected abstract replaceChecked(
    doc: DocumentRecord,
    chunks: ChunkRecord[],
  ): Promise<{ status: ReplaceStatus }>;
  protected abstract deleteChecked(tenant: string, docId: string): Promise<{ deleted: boolean }>;
  /** Summaries of the tenant's documents whose docId starts with `prefix` and sorts after `after`, by docId. */
  protected abstract listChecked(
    tenant: string,
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<DocumentSummary[]>;
  protected abstract getChecked(tenant: string, docId: string): Promise<DocumentSummary | null>;
}

function checkDocument(doc: DocumentRecord, chunks: ChunkRecord[]): void {
  const bad = (m: string) => new FleetError('invalid_request', m, { details: { docId: doc.docId } });
  if (!isValidTenant(doc.tenant)) throw bad('invalid tenant');
  if (!doc.docId) throw bad('docId is required');
  if (!doc.acl.every(isValidGroup)) throw bad('invalid ACL group');
  const sameAcl = (a: string[]) => a.length === doc.acl.length && a.every((g, i) => g === doc.acl[i]);
  chunks.forEach((c, i) => {
    if (c.tenant !== doc.tenant || c.docId !== doc.docId || c.public !== doc.public || !sameAcl(c.acl))
      throw bad(`chunk ${i} does not carry its document's tenant, docId and permissions`);
    if (c.chunkIndex !== i) throw bad(`chunk ${i} has chunkIndex ${c.chunkIndex}`);
  });
}
