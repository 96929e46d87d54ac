import { describe, expect, it } from 'vitest';
import { freshPool, onFreshDatabase } from '../../../test/support/postgres.ts';
import { LocalEmbedder } from './local-embedder.ts';
import { PostgresRetriever } from './postgres-retriever.ts';
import { type BackendFactory, retrieverContract } from './retriever.contract.ts';
import { ingestPublic } from './testing/ingest-public.ts';
import { WordnetThesaurus } from './wordnet-thesaurus.ts';

const embedder = new LocalEmbedder();
const thesaurus = new WordnetThesaurus();

// The ACL contract again with word vectors (the default) and WordNet (THESAURUS=wordnet): synonyms
// add candidates and vectors re-score them, and neither may let a forbidden chunk through.
const hybrid: BackendFactory = async ({ onViolation }) => {
  const pool = await freshPool();
  return {
    retriever: new PostgresRetriever({ pool, onViolation, embedder, thesaurus }),
    cleanup: () => pool.end(),
  };
};
retrieverContract('postgres (word vectors, WordNet)', hybrid);

describe('Postgres with a thesaurus and word vectors', () => {
  const db = onFreshDatabase((pool) => ({ lexical: new PostgresRetriever({ pool }) }), 2);

  /** Ingests each [docId, text] as a public document of `tenant`, in order. */
  const ingestEach = async (retriever: PostgresRetriever, tenant: string, docs: [string, string][]) => {
    for (const [docId, text] of docs) await ingestPublic(retriever, tenant, docId, text);
  };
  const docs = async (retriever: PostgresRetriever, tenant: string, q: string) =>
    (await retriever.search({ tenant, groups: [] }, q, { k: 5 })).map((h) => h.chunk.docId);

  it('finds a passage through a synonym of a question word that the passage never uses', async () => {
    const withSynonyms = new PostgresRetriever({ pool: db.pool, thesaurus });
    await ingestEach(withSynonyms, 'syn', [
      ['erasure', 'The controller shall erase personal data without undue delay.'],
      ['rectification', 'The controller shall correct inaccurate records on request.'],
    ]);
    const q = 'When must we delete records?';
    expect(await docs(db.lexical, 'syn', q)).toEqual(['rectification']);
    expect(await docs(withSynonyms, 'syn', q)).toEqual(['rectification', 'erasure']);
    // A synonym weighs less than the word itself: it does not outrank the passage with the word.
    await ingestEach(withSynonyms, 'syn', [
      ['deletion', 'The controller shall delete personal data without undue delay.'],
    ]);
    expect((await docs(withSynonyms, 'syn', q)).indexOf('deletion')).toBeLessThan(
      (await docs(withSynonyms, 'syn', q)).indexOf('erasure'),
    );
  });

  it('puts the passage that means what the question asks before one that only shares its words', async () => {
    const withVectors = new PostgresRetriever({ pool: db.pool, embedder });
    await ingestEach(withVectors, 'dense', [
      [
        'breach',
        'In the case of a personal data breach the controller shall notify the supervisory authority of the ' +
          'unauthorised access by attackers to stored data.',
      ],
      ['address', 'Anyone who moves house must notify the branch of the new postal address by letter.'],
    ]);
    const q = 'Intruders hacked our servers and stole passwords: must we notify anyone?';
    expect((await docs(db.lexical, 'dense', q))[0]).toBe('address');
    expect((await docs(withVectors, 'dense', q))[0]).toBe('breach');
  });

  it('rewrites a document embedded by another embedder (or none), even with its text unchanged', async () => {
    const withVectors = new PostgresRetriever({ pool: db.pool, embedder });
    const text = 'Records of processing activities are kept in writing.';
    expect((await ingestPublic(db.lexical, 'emb', 'records', text)).status).toBe('created');
    expect((await ingestPublic(db.lexical, 'emb', 'records', text)).status).toBe('unchanged');
    expect((await ingestPublic(withVectors, 'emb', 'records', text)).status).toBe('replaced');
    expect((await ingestPublic(withVectors, 'emb', 'records', text)).status).toBe('unchanged');
    const stored = await db.pool.query<{ embedder: string; dims: number }>(
      "SELECT embedder, cardinality(embedding) AS dims FROM rag_chunks WHERE tenant = 'emb'",
    );
    expect(stored.rows).toEqual([{ embedder: embedder.id, dims: 100 }]);
    // Vectors of another embedder are not compared with the question's: the lexical order stands.
    const other = new PostgresRetriever({ pool: db.pool, embedder: new LocalEmbedder({ smoothing: 0.1 }) });
    expect(await docs(other, 'emb', 'processing records')).toEqual(['records']);
  });
});
