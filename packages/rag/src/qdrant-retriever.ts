import { FleetError } from '@agent-fleet/core';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { AclRetriever, type ViolationHandler } from './acl-retriever.ts';
import type { FusionParams } from './fusion.ts';
import { indexText, stableUuid } from './hashing.ts';
import type {
  ChunkRecord,
  DocumentRecord,
  DocumentSummary,
  Embedder,
  ReplaceStatus,
  SearchHit,
  SearchOptions,
  UserAccess,
} from './ports.ts';
import { chunkSparseVector, querySparseVector, type SparseVector } from './terms.ts';

/** The part of the Qdrant REST client this backend uses (tests pass a recording fake). */
export type QdrantApi = Pick<
  QdrantClient,
  | 'collectionExists'
  | 'createCollection'
  | 'createPayloadIndex'
  | 'getAliases'
  | 'updateCollectionAliases'
  | 'deleteCollection'
  | 'upsert'
  | 'delete'
  | 'count'
  | 'retrieve'
  | 'scroll'
  | 'query'
>;

type Filter = NonNullable<Parameters<QdrantClient['query']>[1]['filter']>;
type QueryRequest = Parameters<QdrantClient['query']>[1];

export const DENSE = 'dense';
export const SPARSE = 'bm25';

/**
 * The visibility rule as a Qdrant filter: tenant must match, and the chunk must be public or share a
 * group with the user (`match.any` on the `acl` array matches when any element is listed).
 */
export function aclFilter(access: UserAccess): Filter {
  const should: object[] = [{ key: 'public', match: { value: true } }];
  if (access.groups.length > 0) should.push({ key: 'acl', match: { any: [...access.groups] } });
  return { must: [{ key: 'tenant', match: { value: access.tenant } }, { should }] } as Filter;
}

/**
 * A hybrid query: dense and sparse prefetches, each filtered, fused by reciprocal rank; the filter
 * also stands at the top level so no stage can bring in a point the rule rejects. With one kind of
 * vector only (no embedder), that one is queried directly, so its BM25 scores reach the fusion of
 * `AclRetriever` instead of ranks.
 */
export function hybridQuery(
  access: UserAccess,
  vectors: { dense?: number[]; sparse: SparseVector },
  k: number,
  prefetchLimit: number,
): QueryRequest | null {
  const prefetch: NonNullable<QueryRequest['prefetch']> & object[] = [];
  const limit = Math.max(prefetchLimit, k);
  if (vectors.dense) prefetch.push({ query: vectors.dense, using: DENSE, filter: aclFilter(access), limit });
  if (vectors.sparse.indices.length > 0)
    prefetch.push({ query: vectors.sparse, using: SPARSE, filter: aclFilter(access), limit });
  const [only, ...more] = prefetch;
  if (!only) return null;
  if (more.length === 0) return { ...only, limit: k, with_payload: true };
  return { prefetch, query: { fusion: 'rrf' }, filter: aclFilter(access), limit: k, with_payload: true };
}

export interface QdrantRetrieverOptions {
  client: QdrantApi;
  /** The alias queries go through; collections are `<alias>_v<n>` behind it. Defaults to `fleet_chunks`. */
  alias?: string;
  /** Without one the collection holds only the sparse vector (lexical search). */
  embedder?: Embedder;
  /** Candidates each prefetch brings to the fusion; defaults to 50. */
  prefetchLimit?: number;
  onViolation?: ViolationHandler;
  /** How candidates become the top k; the default is what every backend ranks with. */
  fusion?: FusionParams;
  /** Runs when the retriever closes, after its writes: releases what was built for it (an embeddings pool). */
  onClose?: () => void | Promise<void>;
}

/**
 * Qdrant backend: one point per chunk with a named dense vector and a sparse `bm25` vector (IDF
 * applied by Qdrant), payload indexes on tenant (as the tenant index), acl, docId and public, and
 * hybrid queries filtered by the visibility rule at every stage. Call `ensureCollection()` once at
 * start. Writes of one process are serialised with `reindex()`; run a re-index while no other process
 * ingests.
 */
export class QdrantRetriever extends AclRetriever {
  readonly name = 'qdrant';
  readonly alias: string;
  readonly #client: QdrantApi;
  readonly #embedder: Embedder | undefined;
  readonly #prefetchLimit: number;
  readonly #onClose: (() => void | Promise<void>) | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(opts: QdrantRetrieverOptions) {
    super(opts);
    this.#client = opts.client;
    this.alias = opts.alias ?? 'fleet_chunks';
    this.#embedder = opts.embedder;
    this.#prefetchLimit = opts.prefetchLimit ?? 50;
    this.#onClose = opts.onClose;
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(this.alias))
      throw new FleetError(
        'invalid_config',
        `Qdrant alias ${JSON.stringify(this.alias)} must be letters, digits, _ and -`,
      );
  }

  /**
   * Creates `<alias>_v1` and the alias when the alias does not exist yet. Idempotent, and safe when
   * several processes start at once: whoever loses the race finds the winner's collection and alias.
   */
  async ensureCollection(): Promise<string> {
    const current = await this.currentCollection();
    if (current) return current;
    const name = `${this.alias}_v1`;
    try {
      if (!(await this.#client.collectionExists(name)).exists) await this.#createCollection(name);
      await this.#client.updateCollectionAliases({
        actions: [{ create_alias: { collection_name: name, alias_name: this.alias } }],
      });
    } catch (err) {
      const winner = await this.currentCollection();
      if (winner) return winner;
      throw err;
    }
    return name;
  }

  /** The collection the alias points at, or null. */
  async currentCollection(): Promise<string | null> {
    const { aliases } = await this.#client.getAliases();
    return aliases.find((a) => a.alias_name === this.alias)?.collection_name ?? null;
  }

  /**
   * Builds `<alias>_v<n+1>` from the current collection's payloads (vectors recomputed with the
   * current embedder and term hashing), then swaps the alias in one atomic operation and drops the
   * old collection. Queries run against the old collection until the swap: no downtime.
   */
  async reindex(opts: { keepOld?: boolean } = {}): Promise<{ from: string; to: string; points: number }> {
    return this.#exclusive(async () => {
      const from = await this.currentCollection();
      if (!from) throw new FleetError('not_found', `Qdrant alias ${this.alias} does not exist`);
      const version = Number(/_v(\d+)$/.exec(from)?.[1] ?? 0);
      const to = `${this.alias}_v${version + 1}`;
      if ((await this.#client.collectionExists(to)).exists) await this.#client.deleteCollection(to);
      await this.#createCollection(to);
      let points = 0;
      let offset: string | number | undefined;
      do {
        const page = await this.#client.scroll(from, {
          limit: 128,
          with_payload: true,
          with_vector: false,
          ...(offset === undefined ? {} : { offset }),
        });
        const chunks = page.points.map((p) => chunkOf(p.payload)).filter((c): c is ChunkRecord => c !== null);
        const extras = page.points.map((p) => ({
          revision: p.payload?.revision,
          chunkCount: p.payload?.chunkCount,
        }));
        await this.#upsert(to, chunks, extras);
        points += chunks.length;
        const next = page.next_page_offset;
        offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
      } while (offset !== undefined);
      await this.#client.updateCollectionAliases({
        actions: [
          { delete_alias: { alias_name: this.alias } },
          { create_alias: { collection_name: to, alias_name: this.alias } },
        ],
      });
      if (!opts.keepOld) await this.#client.deleteCollection(from);
      return { from, to, points };
    });
  }

  protected async readVisible(access: UserAccess, docId: string): Promise<ChunkRecord[]> {
    const filter = {
      must: [...(aclFilter(access).must as object[]), { key: 'docId', match: { value: docId } }],
    } as Filter;
    const chunks: ChunkRecord[] = [];
    let offset: string | number | undefined;
    do {
      const page = await this.#client.scroll(this.alias, {
        filter,
        limit: 128,
        with_payload: true,
        with_vector: false,
        ...(offset === undefined ? {} : { offset }),
      });
      for (const p of page.points) {
        const c = chunkOf(p.payload);
        if (c) chunks.push(c);
      }
      const next = page.next_page_offset;
      offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
    } while (offset !== undefined);
    return chunks.sort((a, b) => a.chunkIndex - b.chunkIndex);
  }

  protected async searchVisible(
    access: UserAccess,
    query: string,
    n: number,
    observe: Pick<SearchOptions, 'onUsage'>,
  ): Promise<SearchHit[]> {
    const dense = this.#embedder ? (await this.#embedder.embed([query], observe))[0] : undefined;
    const req = hybridQuery(
      access,
      { ...(dense ? { dense } : {}), sparse: querySparseVector(query) },
      n,
      this.#prefetchLimit,
    );
    if (!req) return [];
    const res = await this.#client.query(this.alias, req);
    const hits: SearchHit[] = [];
    for (const p of res.points) {
      const chunk = chunkOf(p.payload);
      if (chunk) hits.push({ chunk, score: p.score });
    }
    return hits;
  }

  protected replaceChecked(doc: DocumentRecord, chunks: ChunkRecord[]): Promise<{ status: ReplaceStatus }> {
    return this.#exclusive(async () => {
      const docFilter = documentFilter(doc.tenant, doc.docId);
      const { count } = await this.#client.count(this.alias, { filter: docFilter, exact: true });
      if (count === chunks.length && chunks.length > 0) {
        const [first] = await this.#client.retrieve(this.alias, {
          ids: [pointId(doc.tenant, doc.docId, 0)],
          with_payload: ['revision'],
        });
        if (first?.payload?.revision === doc.revision) return { status: 'unchanged' as const };
      }
      await this.#upsert(
        this.alias,
        chunks,
        chunks.map(() => ({ revision: doc.revision, chunkCount: chunks.length })),
      );
      // Points of the previous revision that the new one did not overwrite.
      const ids = chunks.map((c) => pointId(c.tenant, c.docId, c.chunkIndex));
      await this.#client.delete(this.alias, {
        wait: true,
        filter: ids.length > 0 ? { ...docFilter, must_not: [{ has_id: ids }] } : docFilter,
      });
      return { status: count === 0 ? ('created' as const) : ('replaced' as const) };
    });
  }

  protected deleteChecked(tenant: string, docId: string): Promise<{ deleted: boolean }> {
    return this.#exclusive(async () => {
      const filter = documentFilter(tenant, docId);
      const { count } = await this.#client.count(this.alias, { filter, exact: true });
      if (count > 0) await this.#client.delete(this.alias, { wait: true, filter });
      return { deleted: count > 0 };
    });
  }

  /**
   * Scrolls the tenant's first chunks (one per document) and filters the prefix here: Qdrant has no
   * prefix match on keywords. Costs one pass over the tenant's documents per call.
   */
  protected async listChecked(
    tenant: string,
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<DocumentSummary[]> {
    const out: DocumentSummary[] = [];
    let offset: string | number | undefined;
    do {
      const page = await this.#client.scroll(this.alias, {
        filter: {
          must: [
            { key: 'tenant', match: { value: tenant } },
            { key: 'chunkIndex', match: { value: 0 } },
          ],
        } as Filter,
        limit: 256,
        with_payload: ['tenant', 'docId', 'title', 'acl', 'public', 'chunkCount'],
        with_vector: false,
        ...(offset === undefined ? {} : { offset }),
      });
      for (const p of page.points) {
        const s = summaryOf(p.payload);
        if (s?.docId.startsWith(prefix) && (after === undefined || s.docId > after)) out.push(s);
      }
      const next = page.next_page_offset;
      offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
    } while (offset !== undefined);
    return out.sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0)).slice(0, limit);
  }

  protected async getChecked(tenant: string, docId: string): Promise<DocumentSummary | null> {
    const [first] = await this.#client.retrieve(this.alias, {
      ids: [pointId(tenant, docId, 0)],
      with_payload: ['tenant', 'docId', 'title', 'acl', 'public', 'chunkCount'],
    });
    return summaryOf(first?.payload);
  }

  async close(): Promise<void> {
    await this.#writes.catch(() => {});
    await this.#onClose?.();
  }

  async #createCollection(name: string): Promise<void> {
    await this.#client.createCollection(name, {
      // Without an embedder the collection is sparse-only (no `vectors` at all).
      ...(this.#embedder
        ? { vectors: { [DENSE]: { size: this.#embedder.dimensions, distance: 'Cosine' } } }
        : {}),
      sparse_vectors: { [SPARSE]: { modifier: 'idf' } },
    });
    const indexes = [
      { field_name: 'tenant', field_schema: { type: 'keyword', is_tenant: true } },
      { field_name: 'acl', field_schema: 'keyword' },
      { field_name: 'docId', field_schema: 'keyword' },
      { field_name: 'public', field_schema: 'bool' },
    ] as const;
    for (const idx of indexes) await this.#client.createPayloadIndex(name, { wait: true, ...idx });
  }

  async #upsert(
    collection: string,
    chunks: ChunkRecord[],
    extras: { revision: unknown; chunkCount: unknown }[],
  ): Promise<void> {
    for (let i = 0; i < chunks.length; i += 64) {
      const batch = chunks.slice(i, i + 64);
      const texts = batch.map(indexText);
      const dense = this.#embedder ? await this.#embedder.embed(texts) : undefined;
      await this.#client.upsert(collection, {
        wait: true,
        points: batch.map((c, j) => ({
          id: pointId(c.tenant, c.docId, c.chunkIndex),
          vector: {
            ...(dense ? { [DENSE]: dense[j]! } : {}),
            [SPARSE]: chunkSparseVector(c),
          },
          payload: { ...c, ...extras[i + j] },
        })),
      });
    }
  }

  /** Runs `fn` after every write this instance started before it. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(fn, fn);
    this.#writes = run.catch(() => {});
    return run;
  }
}

export const pointId = (tenant: string, docId: string, chunkIndex: number): string =>
  stableUuid('chunk', tenant, docId, chunkIndex);

function documentFilter(tenant: string, docId: string): Filter {
  return {
    must: [
      { key: 'tenant', match: { value: tenant } },
      { key: 'docId', match: { value: docId } },
    ],
  };
}

/** A first chunk's payload as its document's summary; null when it is not one of ours. */
function summaryOf(payload: Record<string, unknown> | null | undefined): DocumentSummary | null {
  const p = payload ?? {};
  const acl = p.acl;
  if (typeof p.tenant !== 'string' || typeof p.docId !== 'string' || typeof p.title !== 'string') return null;
  if (!Array.isArray(acl) || !acl.every((g) => typeof g === 'string') || typeof p.public !== 'boolean')
    return null;
  return {
    tenant: p.tenant,
    docId: p.docId,
    title: p.title,
    acl,
    public: p.public,
    chunkCount: typeof p.chunkCount === 'number' ? p.chunkCount : 0,
  };
}

/** A payload back into a chunk; null when it is not one of ours (it is then dropped). */
function chunkOf(payload: Record<string, unknown> | null | undefined): ChunkRecord | null {
  if (!payload) return null;
  const p = payload as Record<string, unknown>;
  const str = (k: string) => typeof p[k] === 'string';
  const num = (k: string) => typeof p[k] === 'number';
  const strs = (k: string) => Array.isArray(p[k]) && (p[k] as unknown[]).every((x) => typeof x === 'string');
  if (!['tenant', 'docId', 'title', 'source', 'contentHash', 'text'].every(str)) return null;
  if (!['chunkIndex', 'tokenCount', 'start', 'end'].every(num) || !strs('acl') || !strs('sectionPath'))
    return null;
  if (typeof p.public !== 'boolean') return null;
  return {
    tenant: p.tenant as string,
    docId: p.docId as string,
    chunkIndex: p.chunkIndex as number,
    title: p.title as string,
    sectionPath: p.sectionPath as string[],
    acl: p.acl as string[],
    public: p.public,
    source: p.source as string,
    contentHash: p.contentHash as string,
    text: p.text as string,
    tokenCount: p.tokenCount as number,
    start: p.start as number,
    end: p.end as number,
  };
}
