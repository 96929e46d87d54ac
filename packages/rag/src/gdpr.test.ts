import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import { ingestPaths } from './ingest.ts';
import { PostgresRetriever } from './postgres-retriever.ts';

/** The 99 GDPR articles, read in place (never copied into the repo). */
const GDPR_DIR = fileURLToPath(new URL('../../../../shared/data/gdpr/', import.meta.url));
const present = existsSync(GDPR_DIR);
if (!present) console.warn(`GDPR corpus tests skipped: ${GDPR_DIR} not found`);

describe.skipIf(!present)('retrieval over a real regulation (GDPR, read in place)', () => {
  let pool: pg.Pool;
  let retriever: PostgresRetriever;
  const legal = { tenant: 'acme-bank', groups: ['legal'] };

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 4 });
    retriever = new PostgresRetriever({ pool });
    const report = await ingestPaths([GDPR_DIR], {
      tenant: 'acme-bank',
      acl: ['legal'],
      retriever,
      root: GDPR_DIR,
    });
    expect(report.failed).toBe(0);
    expect(report.ok).toBe(99);
  }, 120_000);
  afterAll(async () => {
    await retriever?.close();
    await pool?.end();
  });

  it.each([
    ['When must a personal data breach be notified to the supervisory authority?', 'article-33'],
    ['right to erasure of personal data, the right to be forgotten', 'article-17'],
    ['When must a controller designate a data protection officer?', 'article-37'],
    ['data protection impact assessment before processing likely to result in a high risk', 'article-35'],
    ['right to data portability in a structured, commonly used and machine-readable format', 'article-20'],
  ])('finds the article that answers "%s"', async (question, docId) => {
    const hits = await retriever.search(legal, question, { k: 5 });
    // docIds are the file name plus a stable hash of tenant and source
    expect(hits.map((h) => h.chunk.docId.replace(/-[0-9a-f]{12}$/, ''))).toContain(docId);
  });

  it('shows none of it to an officer outside the groups it was ingested for', async () => {
    const hits = await retriever.search(
      { tenant: 'acme-bank', groups: ['retail'] },
      'personal data breach notification',
      {
        k: 20,
      },
    );
    expect(hits).toEqual([]);
    const other = await retriever.search({ tenant: 'other-bank', groups: ['legal'] }, 'right to erasure', {
      k: 20,
    });
    expect(other).toEqual([]);
  });
});
