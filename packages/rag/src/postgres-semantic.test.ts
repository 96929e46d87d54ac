import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import { prepareDocument } from './ingest.ts';
import { LocalEmbedder } from './local-embedder.ts';
import { PostgresRetriever } from './postgres-retriever.ts';
import { type BackendFactory, retrieverContract } from './retriever.contract.ts';
import { WordnetThesaurus } from './wordnet-thesaurus.ts';

const embedder = new LocalEmbedder();
const thesaurus = new WordnetThesaurus();

// The ACL contract again with word vectors (the default) and WordNet (THESAURUS=wordnet): synonyms
// add candidates and vectors re-score them, and neither may let a forbidden chunk through.
const hybrid: BackendFactory = async ({ onViolation }) => {
  const pool = new pg.Pool({ connectionString: await freshDatabase(), max: 4 });
  return {
    retriever: new PostgresRetriever({ pool, onViolation, embedder, thesaurus }),
    cleanup: () => pool.end(),
  };
};
retrieverContract('postgres (word vectors, WordNet)', hybrid);

describe('Postgres with a thesaurus and word vectors', () => {
  let pool: pg.Pool;
  let lexical: PostgresRetriever;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 2 });
    lexical = new PostgresRetriever({ pool });
  });
  afterAll(async () => {
    await pool?.end();
  });

  const ingest = async (retriever: PostgresRetriever, tenant: string, docId: string, text: string) => {
    const { doc, chunks } = await prepareDocument({
      tenant,
      docId,
      title: docId,
      text,
      acl: [],
      public: true,
    });
    return retriever.replaceDocument(doc, chunks);
  };
  const docs = async (retriever: PostgresRetriever, tenant: string, q: string) =>
    (await retriever.search({ tenant, groups: [] }, q, { k: 5 })).map((h) => h.chunk.docId);

  it('finds a passage through a synonym of a question word that the passage never uses', async () => {
    const withSynonyms = new PostgresRetriever({ pool, thesaurus });
    await ingest(
      withSynonyms,
      'syn',
      'erasure',
      'The controller shall erase personal data without undue delay.',
    );
    await ingest(
      withSynonyms,
      'syn',
      'rectification',
      'The controller shall correct inaccurate records on request.',
    );
    const q = 'When must we delete records?';
    expect(await docs(lexical, 'syn', q)).toEqual(['rectification']);
    expect(await docs(withSynonyms, 'syn', q)).toEqual(['rectification', 'erasure']);
    // A synonym weighs less than the word itself: it does not outrank the passage with the word.
    await ingest(
      withSynonyms,
      'syn',
      'deletion',
      'The controller shall delete personal data without undue delay.',
    );
    expect((await docs(withSynonyms, 'syn', q)).indexOf('deletion')).toBeLessThan(
      (await docs(withSynonyms, 'syn', q)).indexOf('erasure'),
    );
  });

  it('puts the passage that means what the question asks before one that only shares its words', async () => {
    const withVectors = new PostgresRetriever({ pool, embedder });
    await ingest(
      withVectors,
      'dense',
      'breach',
      'In the case of a personal data breach the controller shall notify the supervisory authority of the ' +
        'unauthorised access by attackers to stored data.',
    );
    await ingest(
      withVectors,
      'dense',
      'address',
      'Anyone who moves house must notify the branch of the new postal address by letter.',
    );
    const q = 'Intruders hacked our servers and stole passwords: must we notify anyone?';
    expect((await docs(lexical, 'dense', q))[0]).toBe('address');
    expect((await docs(withVectors, 'dense', q))[0]).toBe('breach');
  });

  it('rewrites a document embedded by another embedder (or none), even with its text unchanged', async () => {
    const withVectors = new PostgresRetriever({ pool, embedder });
    const text = 'Records of processing activities are kept in writing.';
    expect((await ingest(lexical, 'emb', 'records', text)).status).toBe('created');
    expect((await ingest(lexical, 'emb', 'records', text)).status).toBe('unchanged');
    expect((await ingest(withVectors, 'emb', 'records', text)).status).toBe('replaced');
    expect((await ingest(withVectors, 'emb', 'records', text)).status).toBe('unchanged');
    const stored = await pool.query<{ embedder: string; dims: number }>(
      "SELECT embedder, cardinality(embedding) AS dims FROM rag_chunks WHERE tenant = 'emb'",
    );
    expect(stored.rows).toEqual([{ embedder: embedder.id, dims: 100 }]);
    // Vectors of another embedder are not compared with the question's: the lexical order stands.
    const other = new PostgresRetriever({ pool, embedder: new LocalEmbedder({ smoothing: 0.1 }) });
    expect(await docs(other, 'emb', 'processing records')).toEqual(['records']);
  });
});
