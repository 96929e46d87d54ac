import { describe, expect, it } from 'vitest';
import { freshPool, onFreshDatabase } from '../../../test/support/postgres.ts';
import { candidateCount } from './acl-retriever.ts';
import { BM25 } from './bm25.ts';
import { prepareDocument } from './ingest.ts';
import { PostgresRetriever } from './postgres-retriever.ts';
import { rankingContract } from './ranking.contract.ts';
import { type BackendFactory, retrieverContract } from './retriever.contract.ts';
import { ingestPublic } from './testing/ingest-public.ts';

const postgres: BackendFactory = async ({ onViolation }) => {
  const pool = await freshPool();
  return { retriever: new PostgresRetriever({ pool, onViolation }), cleanup: () => pool.end() };
};
retrieverContract('postgres', postgres);
rankingContract('postgres', postgres);

describe('Postgres BM25: term statistics, phrases, candidates', () => {
  const db = onFreshDatabase((pool) => ({ retriever: new PostgresRetriever({ pool }) }), 2);

  const ingest = (tenant: string, docId: string, text: string) =>
    ingestPublic(db.retriever, tenant, docId, text);
  const stats = async (tenant: string) => {
    const s = await db.pool.query<{ chunks: string; total_length: string }>(
      'SELECT chunks, total_length FROM rag_tenant_stats WHERE tenant = $1',
      [tenant],
    );
    const p = await db.pool.query<{ n: string; df: string }>(
      "SELECT count(*) AS n, count(*) FILTER (WHERE lexeme = 'ledger') AS df FROM rag_postings WHERE tenant = $1",
      [tenant],
    );
    return {
      chunks: Number(s.rows[0]?.chunks ?? 0),
      length: Number(s.rows[0]?.total_length ?? 0),
      postings: Number(p.rows[0]!.n),
      ledgerDf: Number(p.rows[0]!.df),
    };
  };

  it('keeps term statistics per tenant through ingest, re-ingest and delete', async () => {
    await ingest('stats-a', 'one', 'The ledger ledger review.');
    await ingest('stats-a', 'two', 'A second ledger.');
    await ingest('stats-b', 'one', 'Another tenant entirely.');
    // one: ledger ×2, review and the title "one"; two: second, ledger and "two" (no stop words)
    expect(await stats('stats-a')).toEqual({ chunks: 2, length: 7, postings: 6, ledgerDf: 2 });
    await ingest('stats-a', 'two', 'A second review.');
    expect(await stats('stats-a')).toMatchObject({ chunks: 2, ledgerDf: 1 });
    await db.retriever.deleteDocument('stats-a', 'one');
    expect(await stats('stats-a')).toEqual({ chunks: 1, length: 3, postings: 3, ledgerDf: 0 });
    expect(await stats('stats-b')).toMatchObject({ chunks: 1, postings: 4 });
  });

  it('credits the passage where the question words stand together as in the question', async () => {
    const t = 'phrase';
    // The same words, so the same BM25: only their order tells the two apart.
    await ingest(t, 'apart', 'Portability of data: rules, retention and the request form.');
    await ingest(t, 'phrase', 'Data portability: rules, retention and the request form.');
    const hits = await db.retriever.search({ tenant: t, groups: [] }, 'data portability', { k: 2 });
    expect(hits.map((h) => h.chunk.docId)).toEqual(['phrase', 'apart']);
    const flat = new PostgresRetriever({ pool: db.pool, params: { ...BM25, phraseWeight: 0 } });
    const unranked = await flat.search({ tenant: t, groups: [] }, 'data portability', { k: 2 });
    expect(unranked.map((h) => h.chunk.docId)).toEqual(['apart', 'phrase']);
    expect(unranked[0]!.score).toBe(unranked[1]!.score);
  });

  it('keeps one long document from filling every candidate the fusion picks from', async () => {
    const t = 'crowded';
    const rule = (i: number) =>
      `Rule ${i}. Escalation threshold: escalate the alert when the escalation threshold is met, ` +
      `and record the threshold and the escalation in the case file.`;
    const { doc, chunks } = await prepareDocument(
      {
        tenant: t,
        docId: 'manual',
        title: 'manual',
        text: Array.from({ length: 30 }, (_, i) => rule(i)).join('\n\n'),
        acl: [],
        public: true,
      },
      { maxTokens: 64, overlapTokens: 8 },
    );
    expect(chunks.length).toBeGreaterThan(candidateCount(5));
    await db.retriever.replaceDocument(doc, chunks);
    await ingest(
      t,
      'board',
      'The board sets the escalation threshold each year, with the budget and the staffing plan.',
    );
    const hits = await db.retriever.search({ tenant: t, groups: [] }, 'escalation threshold', { k: 5 });
    expect(hits.map((h) => h.chunk.docId)).toContain('board');
  });

  it('refuses to update chunks in place, so postings never fall behind the text', async () => {
    await ingest('update', 'doc', 'Some text.');
    await expect(
      db.pool.query("UPDATE rag_chunks SET text = 'other' WHERE tenant = 'update'"),
    ).rejects.toThrow(/replaced, not updated/);
  });
});
