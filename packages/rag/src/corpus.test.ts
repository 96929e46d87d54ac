import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onFreshDatabase } from '../../../test/support/postgres.ts';
import { isRelevant, loadEvalSet, SAMPLE_CORPUS_DIR, SAMPLE_TENANT } from './corpus.ts';
import { ingestPaths, prepareDocument } from './ingest.ts';
import { PostgresRetriever } from './postgres-retriever.ts';

const files = readdirSync(SAMPLE_CORPUS_DIR).filter((f) => f.endsWith('.md'));
const evalSet = loadEvalSet();

describe('sample corpus', () => {
  it('has 12-16 documents with unique ids, a few restricted to groups, the rest public', async () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    const docs = await Promise.all(
      files.map((f) =>
        prepareDocument({
          tenant: SAMPLE_TENANT,
          data: readFileSync(join(SAMPLE_CORPUS_DIR, f)),
          filename: f,
          trustFrontMatterAccess: true,
        }),
      ),
    );
    expect(new Set(docs.map((d) => d.doc.docId)).size).toBe(files.length);
    const restricted = docs.filter((d) => !d.doc.public);
    expect(restricted.length).toBeGreaterThanOrEqual(3);
    for (const d of restricted) expect(d.doc.acl.length).toBeGreaterThan(0);
  });

  it('has an eval set of at least 30 questions whose labels point at real sections', async () => {
    expect(evalSet.questions.length).toBeGreaterThanOrEqual(30);
    expect(evalSet.questions.some((q) => q.groups.length > 0)).toBe(true);
    const headings = new Map<string, Set<string>>();
    for (const f of files) {
      const { chunks } = await prepareDocument({
        tenant: SAMPLE_TENANT,
        data: readFileSync(join(SAMPLE_CORPUS_DIR, f)),
        filename: f,
        trustFrontMatterAccess: true,
      });
      headings.set(chunks[0]!.docId, new Set(chunks.flatMap((c) => c.sectionPath)));
    }
    for (const q of evalSet.questions)
      expect(headings.get(q.docId)?.has(q.section), `${q.id}: ${q.docId} / ${q.section}`).toBe(true);
  });

  describe('retrieval over the sample corpus (Postgres)', () => {
    const db = onFreshDatabase(async (pool) => {
      const retriever = new PostgresRetriever({ pool });
      const report = await ingestPaths([SAMPLE_CORPUS_DIR], { tenant: SAMPLE_TENANT, retriever });
      expect(report.failed).toBe(0);
      return { retriever };
    });

    it('finds the answering section in the top 5 for most questions', async () => {
      let found = 0;
      for (const q of evalSet.questions) {
        const hits = await db.retriever.search({ tenant: SAMPLE_TENANT, groups: q.groups }, q.question, {
          k: 5,
        });
        if (hits.some((h) => isRelevant(q, h.chunk))) found++;
      }
      expect(found / evalSet.questions.length).toBeGreaterThanOrEqual(0.7);
    });

    it('never shows restricted documents to users without their groups', async () => {
      for (const q of evalSet.questions.filter((x) => x.groups.length > 0)) {
        const hits = await db.retriever.search({ tenant: SAMPLE_TENANT, groups: ['staff'] }, q.question, {
          k: 20,
        });
        expect(hits.filter((h) => h.chunk.docId === q.docId)).toEqual([]);
      }
    });
  });
});
