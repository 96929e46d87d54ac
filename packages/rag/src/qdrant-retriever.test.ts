import { LlmPool } from '@agent-fleet/llm';
import { startSim } from '@agent-fleet/llm-sim';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { visibleTo } from './access.ts';
import { candidateCount } from './acl-retriever.ts';
import { HashingEmbedder } from './hashing-embedder.ts';
import { prepareDocument } from './ingest.ts';
import { PoolEmbedder } from './pool-embedder.ts';
import { createQdrantClient } from './qdrant-client.ts';
import { aclFilter, hybridQuery, pointId, type QdrantApi, QdrantRetriever } from './qdrant-retriever.ts';
import { rankingContract } from './ranking.contract.ts';
import { type BackendFactory, retrieverContract } from './retriever.contract.ts';
import { chunkSparseVector, querySparseVector, termIndex } from './terms.ts';
import { FakeQdrant, matchesFilter } from './testing/fake-qdrant.ts';
import { ingestPublic } from './testing/ingest-public.ts';

const asApi = (fake: FakeQdrant) => fake as unknown as QdrantApi;

const QDRANT_URL = process.env.QDRANT_URL;
if (QDRANT_URL) {
  const client = createQdrantClient({
    url: QDRANT_URL,
    ...(process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {}),
  });
  /** A backend on the server under a fresh alias, whose collection is deleted after its suite. */
  const onServer =
    (aliasPrefix: string, embedder?: HashingEmbedder): BackendFactory =>
    async ({ onViolation }) => {
      const alias = `${aliasPrefix}_${Date.now().toString(36)}`;
      const retriever = new QdrantRetriever({
        client,
        alias,
        ...(embedder ? { embedder } : {}),
        onViolation,
      });
      await retriever.ensureCollection();
      return {
        retriever,
        cleanup: async () => {
          const current = await retriever.currentCollection();
          if (current) await client.deleteCollection(current);
        },
      };
    };
  retrieverContract('qdrant (server)', onServer('contract', new HashingEmbedder(64)));
  rankingContract('qdrant (server, sparse only)', onServer('ranking'));
} else {
  console.log('Qdrant contract suite skipped: QDRANT_URL not set');
  describe('Retriever contract: qdrant (server)', () => {
    it.skip('Qdrant contract suite skipped: QDRANT_URL not set', () => {});
  });
}

rankingContract('qdrant (in-memory fake of the REST API, sparse only)', async ({ onViolation }) => {
  const retriever = new QdrantRetriever({ client: asApi(new FakeQdrant()), onViolation });
  await retriever.ensureCollection();
  return { retriever };
});

retrieverContract('qdrant (in-memory fake of the REST API)', async ({ onViolation }) => {
  const retriever = new QdrantRetriever({
    client: asApi(new FakeQdrant()),
    embedder: new HashingEmbedder(32),
    onViolation,
  });
  await retriever.ensureCollection();
  return { retriever };
});

retrieverContract(
  'qdrant (fake) with dense vectors through the LLM pool from the simulator',
  async (opts) => {
    const sim = await startSim({ engine: { timeScale: 0 } });
    const llm = new LlmPool({ servers: [sim.url], apiKey: 'k', model: 'fleet-sim', healthIntervalMs: 0 });
    const retriever = new QdrantRetriever({
      client: asApi(new FakeQdrant()),
      embedder: new PoolEmbedder({ pool: llm, model: 'fleet-sim', dimensions: 64, sendDimensions: true }),
      onViolation: opts.onViolation,
      onClose: () => llm.close(),
    });
    await retriever.ensureCollection();
    return { retriever, cleanup: () => sim.close() };
  },
);

describe('Qdrant requests', () => {
  const access = { tenant: 'acme-bank', groups: ['legal', 'aml-investigators'] };

  it('creates a versioned collection behind an alias, with sparse IDF and the payload indexes', async () => {
    const fake = new FakeQdrant();
    const r = new QdrantRetriever({
      client: asApi(fake),
      alias: 'chunks',
      embedder: new HashingEmbedder(16),
    });
    expect(await r.ensureCollection()).toBe('chunks_v1');
    expect(await r.ensureCollection()).toBe('chunks_v1');
    const create = fake.calls.filter((c) => c.method === 'createCollection');
    expect(create).toEqual([
      {
        method: 'createCollection',
        args: [
          'chunks_v1',
          {
            vectors: { dense: { size: 16, distance: 'Cosine' } },
            sparse_vectors: { bm25: { modifier: 'idf' } },
          },
        ],
      },
    ]);
    expect(fake.collections.get('chunks_v1')!.indexes).toEqual({
      tenant: { type: 'keyword', is_tenant: true },
      acl: 'keyword',
      docId: 'keyword',
      public: 'bool',
    });
    expect([...fake.aliases]).toEqual([['chunks', 'chunks_v1']]);
  });

  it('puts the ACL filter on every prefetch and at the top level, fused by RRF', async () => {
    const fake = new FakeQdrant();
    const r = new QdrantRetriever({ client: asApi(fake), embedder: new HashingEmbedder(16) });
    await r.ensureCollection();
    await r.search(access, 'Who approves a suspicious activity report?', { k: 3 });
    const [name, req] = fake.calls.find((c) => c.method === 'query')!.args as [
      string,
      Record<string, unknown>,
    ];
    expect(name).toBe('fleet_chunks');
    const filter = aclFilter(access);
    expect(filter).toEqual({
      must: [
        { key: 'tenant', match: { value: 'acme-bank' } },
        {
          should: [
            { key: 'public', match: { value: true } },
            { key: 'acl', match: { any: ['legal', 'aml-investigators'] } },
          ],
        },
      ],
    });
    // The fusion of AclRetriever picks the top 3 from more candidates.
    expect(req).toMatchObject({
      query: { fusion: 'rrf' },
      filter,
      limit: candidateCount(3),
      with_payload: true,
    });
    const prefetch = req.prefetch as Record<string, unknown>[];
    expect(prefetch.map((p) => p.using)).toEqual(['dense', 'bm25']);
    for (const p of prefetch) expect(p.filter).toEqual(filter);
    expect(prefetch[1]!.query).toEqual(querySparseVector('Who approves a suspicious activity report?'));
  });

  it('without groups, filters to public chunks of the tenant; without an embedder, queries sparse only', () => {
    const req = hybridQuery(
      { tenant: 't', groups: [] },
      { sparse: querySparseVector('gift register') },
      5,
      50,
    )!;
    expect(req).toEqual({
      query: querySparseVector('gift register'),
      using: 'bm25',
      limit: 5,
      with_payload: true,
      filter: {
        must: [
          { key: 'tenant', match: { value: 't' } },
          { should: [{ key: 'public', match: { value: true } }] },
        ],
      },
    });
    expect(
      hybridQuery({ tenant: 't', groups: [] }, { sparse: querySparseVector('the of') }, 5, 50),
    ).toBeNull();
  });

  it('the filter admits exactly the chunks visibleTo admits (property, Qdrant filter semantics)', () => {
    const group = fc.constantFrom('g1', 'g2', 'g3', 'legal');
    fc.assert(
      fc.property(
        fc.record({ tenant: fc.constantFrom('a', 'b'), groups: fc.uniqueArray(group) }),
        fc.record({
          tenant: fc.constantFrom('a', 'b', 'c'),
          acl: fc.uniqueArray(group),
          public: fc.boolean(),
        }),
        (user, chunk) => {
          expect(matchesFilter(aclFilter(user), { id: 1, payload: chunk })).toBe(visibleTo(user, chunk));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('replaces by upserting stable point ids, then deleting the document points not among them', async () => {
    const fake = new FakeQdrant();
    const r = new QdrantRetriever({ client: asApi(fake) });
    await r.ensureCollection();
    // No embedder: a sparse-only collection.
    expect(fake.calls.find((c) => c.method === 'createCollection')!.args[1]).toEqual({
      sparse_vectors: { bm25: { modifier: 'idf' } },
    });
    const input = { tenant: 't', docId: 'd', title: 'D', acl: ['g1'] };
    const v1 = await prepareDocument(
      { ...input, text: 'one\n\ntwo\n\nthree '.repeat(80) },
      { maxTokens: 40 },
    );
    const v2 = await prepareDocument({ ...input, text: 'short' }, { maxTokens: 40 });
    await r.replaceDocument(v1.doc, v1.chunks);
    fake.calls.length = 0;
    expect(await r.replaceDocument(v2.doc, v2.chunks)).toEqual({ status: 'replaced' });
    const upsert = fake.calls.find((c) => c.method === 'upsert')!.args[1] as { points: { id: string }[] };
    expect(upsert.points.map((p) => p.id)).toEqual([pointId('t', 'd', 0)]);
    const del = fake.calls.find((c) => c.method === 'delete')!.args[1];
    expect(del).toEqual({
      wait: true,
      filter: {
        must: [
          { key: 'tenant', match: { value: 't' } },
          { key: 'docId', match: { value: 'd' } },
        ],
        must_not: [{ has_id: [pointId('t', 'd', 0)] }],
      },
    });
    expect(fake.collections.get('fleet_chunks_v1')!.points.size).toBe(1);
  });

  it('re-indexes into a new collection and swaps the alias in one atomic call', async () => {
    const fake = new FakeQdrant();
    const r = new QdrantRetriever({ client: asApi(fake), alias: 'kb', embedder: new HashingEmbedder(8) });
    await r.ensureCollection();
    await ingestPublic(r, 't', 'd', 'gift register rules');
    const next = new QdrantRetriever({ client: asApi(fake), alias: 'kb', embedder: new HashingEmbedder(12) });
    fake.calls.length = 0;
    expect(await next.reindex()).toEqual({ from: 'kb_v1', to: 'kb_v2', points: 1 });
    const swaps = fake.calls.filter((c) => c.method === 'updateCollectionAliases');
    expect(swaps.map((c) => c.args[0])).toEqual([
      {
        actions: [
          { delete_alias: { alias_name: 'kb' } },
          { create_alias: { collection_name: 'kb_v2', alias_name: 'kb' } },
        ],
      },
    ]);
    expect([...fake.collections.keys()]).toEqual(['kb_v2']);
    const hits = await next.search({ tenant: 't', groups: [] }, 'gift register');
    expect(hits.map((h) => h.chunk.docId)).toEqual(['d']);
    expect(await ingestPublic(next, 't', 'd', 'gift register rules')).toMatchObject({ status: 'unchanged' });
  });
});

describe('Qdrant search: what its embeddings cost', () => {
  it('tells the caller the tokens the embeddings server reported for the query', async () => {
    const sim = await startSim({ engine: { timeScale: 0 } });
    const llm = new LlmPool({ servers: [sim.url], apiKey: 'k', model: 'fleet-sim', healthIntervalMs: 0 });
    try {
      const r = new QdrantRetriever({
        client: asApi(new FakeQdrant()),
        embedder: new PoolEmbedder({ pool: llm, model: 'emb', dimensions: 16, sendDimensions: true }),
      });
      await r.ensureCollection();
      await ingestPublic(r, 't', 'd', 'gift rules');
      const before = await simPromptTokens(sim.url);
      const seen: { model: string; promptTokens: number }[] = [];
      await r.search({ tenant: 't', groups: [] }, 'which gifts may I accept?', {
        onUsage: (u) => seen.push(u),
      });
      expect(seen).toEqual([{ model: 'emb', promptTokens: (await simPromptTokens(sim.url)) - before }]);
      expect(seen[0]!.promptTokens).toBeGreaterThan(0);
    } finally {
      llm.close();
      await sim.close();
    }
  });
});

async function simPromptTokens(url: string): Promise<number> {
  const stats = (await (await fetch(`${url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
    usage: { total: { promptTokens: number } };
  };
  return stats.usage.total.promptTokens;
}

describe('sparse vectors', () => {
  it('hash terms stably to sorted unique indices with saturated positive weights', () => {
    const v = chunkSparseVector({
      title: '',
      sectionPath: [],
      text: 'Gifts, gifts and more gifts: the gift register records gifts.',
    });
    expect(v.indices).toEqual([...v.indices].sort((a, b) => a - b));
    expect(new Set(v.indices).size).toBe(v.indices.length);
    expect(v.values.every((x) => x > 0 && x < 2.2)).toBe(true);
    const gift = v.values[v.indices.indexOf(termIndex('gift'))]!;
    const register = v.values[v.indices.indexOf(termIndex('register'))]!;
    expect(gift).toBeGreaterThan(register);
    expect(termIndex('gift')).toBe(termIndex('gift'));
    expect(querySparseVector('gift GIFTS register')).toEqual({
      indices: [termIndex('gift'), termIndex('register')].sort((a, b) => a - b),
      values: [1, 1],
    });
  });

  it('weight a word of the title or a heading above the same word in the text', () => {
    const v = chunkSparseVector({
      title: 'Hospitality',
      sectionPath: ['Hospitality', 'Limits'],
      text: 'Limits on hospitality and on gifts.',
    });
    const weight = (t: string) => v.values[v.indices.indexOf(termIndex(t))]!;
    expect(weight('hospitality')).toBeGreaterThan(weight('limit'));
    expect(weight('limit')).toBeGreaterThan(weight('gift'));
  });
});
