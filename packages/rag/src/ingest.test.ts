import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import { ingestDocument, ingestPaths, prepareDocument, stableDocId } from './ingest.ts';
import { PostgresRetriever } from './postgres-retriever.ts';
import { minimalPdf } from './testing/pdf-fixtures.ts';

describe('ingestion', () => {
  let pool: pg.Pool;
  let retriever: PostgresRetriever;
  let dir: string;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 4 });
    retriever = new PostgresRetriever({ pool });
    dir = mkdtempSync(join(tmpdir(), 'rag-ingest-'));
    mkdirSync(join(dir, 'policies', 'restricted'), { recursive: true });
    writeFileSync(
      join(dir, 'policies', 'gifts.md'),
      '---\ntitle: Gifts\npublic: true\n---\n# Gifts\n\nGifts above 100 EUR are registered.\n',
    );
    writeFileSync(
      join(dir, 'policies', 'restricted', 'sar.md'),
      '---\nid: sar-playbook\nacl: [aml-investigators]\n---\n# SAR playbook\n\nFile the SAR within 30 days.\n',
    );
    writeFileSync(join(dir, 'policies', 'scan.pdf'), minimalPdf(['Sanctions screening runs nightly']));
    writeFileSync(join(dir, 'policies', 'broken.pdf'), minimalPdf(['x']).slice(0, 90));
    writeFileSync(join(dir, 'policies', 'locked.pdf'), minimalPdf(['x'], { encrypt: true }));
    writeFileSync(join(dir, 'policies', 'empty.txt'), '');
    writeFileSync(join(dir, 'policies', 'junk.html'), randomBytes(2048));
    writeFileSync(join(dir, 'policies', 'notes.json'), '{}');
    writeFileSync(join(dir, 'policies', '.hidden.md'), '# hidden');
  });
  afterAll(async () => {
    await pool.end();
    rmSync(dir, { recursive: true, force: true });
  });

  const chunkRows = async (tenant: string) =>
    (
      await pool.query(
        'SELECT doc_id, chunk_index, acl, public FROM rag_chunks WHERE tenant = $1 ORDER BY 1, 2',
        [tenant],
      )
    ).rows;

  it('ingests a folder, reporting each bad file and going on with the rest; re-running changes nothing', async () => {
    const progress: string[] = [];
    let total = 0;
    const run = () =>
      ingestPaths([join(dir, 'policies'), join(dir, 'missing.md')], {
        tenant: 'acme',
        retriever,
        root: dir,
        concurrency: 2,
        onStart: (n) => {
          total = n;
        },
        onProgress: (p) => progress.push(`${p.done}/${p.total} ${p.file.source} ${p.file.status}`),
      });
    const report = await run();
    expect(total).toBe(8);
    expect(progress).toHaveLength(8);
    const bySource = Object.fromEntries(report.files.map((f) => [f.source, f]));
    expect(bySource['policies/gifts.md']).toMatchObject({ status: 'created', chunks: 1 });
    expect(bySource['policies/restricted/sar.md']).toMatchObject({
      status: 'created',
      docId: 'sar-playbook',
    });
    expect(bySource['policies/broken.pdf']?.error).toMatchObject({ reason: 'malformed_pdf' });
    expect(bySource['policies/locked.pdf']?.error).toMatchObject({ reason: 'encrypted_pdf' });
    expect(bySource['policies/empty.txt']?.error).toMatchObject({ reason: 'empty' });
    expect(bySource['policies/junk.html']?.error).toMatchObject({ reason: 'binary' });
    expect(bySource['missing.md']?.error).toMatchObject({ code: 'not_found' });
    // The PDF has no front matter and no --acl/--public: nobody could read it, so it is refused.
    expect(bySource['policies/scan.pdf']?.error).toMatchObject({ reason: 'no_readers' });
    expect(report).toMatchObject({ ok: 2, failed: 6 });

    const before = await chunkRows('acme');
    expect(before).toEqual([
      { doc_id: stableDocId('acme', 'policies/gifts.md'), chunk_index: 0, acl: [], public: true },
      { doc_id: 'sar-playbook', chunk_index: 0, acl: ['aml-investigators'], public: false },
    ]);
    const again = await run();
    expect(again.files.filter((f) => f.status !== 'failed').map((f) => f.status)).toEqual([
      'unchanged',
      'unchanged',
    ]);
    expect(await chunkRows('acme')).toEqual(before);
  });

  it('lets explicit options win over front matter, field by field', async () => {
    const report = await ingestPaths(
      [join(dir, 'policies', 'restricted', 'sar.md'), join(dir, 'policies', 'scan.pdf')],
      {
        tenant: 'acme2',
        acl: ['legal'],
        retriever,
        root: dir,
      },
    );
    expect(report.failed).toBe(0);
    expect(await chunkRows('acme2')).toEqual([
      { doc_id: 'sar-playbook', chunk_index: 0, acl: ['legal'], public: false },
      { doc_id: stableDocId('acme2', 'policies/scan.pdf'), chunk_index: 0, acl: ['legal'], public: false },
    ]);
  });

  it('ignores access fields in the front matter of uploaded content', async () => {
    const data = new TextEncoder().encode(
      '---\npublic: true\nacl: [everyone]\n---\n# Upload\n\nConfidential.',
    );
    const r = await ingestDocument(
      { tenant: 'acme3', filename: 'up.md', data, acl: ['legal'] },
      { retriever },
    );
    expect(r).toMatchObject({ status: 'created', title: 'Upload', chunks: 1 });
    expect(await chunkRows('acme3')).toEqual([
      { doc_id: r.docId, chunk_index: 0, acl: ['legal'], public: false },
    ]);
  });

  it('API documents: re-ingest replaces, delete removes, both idempotent', async () => {
    const base = { tenant: 'acme4', docId: 'memo-7', title: 'Memo', acl: ['legal'] };
    const long = Array.from({ length: 40 }, (_, i) => `Clause ${i}: the desk must escalate breaches.`).join(
      '\n\n',
    );
    const first = await ingestDocument({ ...base, text: long }, { retriever, chunking: { maxTokens: 60 } });
    expect(first.chunks).toBeGreaterThan(3);
    expect(
      (await ingestDocument({ ...base, text: long }, { retriever, chunking: { maxTokens: 60 } })).status,
    ).toBe('unchanged');
    const second = await ingestDocument({ ...base, text: 'Only one clause now.' }, { retriever });
    expect(second).toMatchObject({ status: 'replaced', chunks: 1 });
    expect(await chunkRows('acme4')).toHaveLength(1);
    expect(await retriever.deleteDocument('acme4', 'memo-7')).toEqual({ deleted: true });
    expect(await retriever.deleteDocument('acme4', 'memo-7')).toEqual({ deleted: false });
    expect(await chunkRows('acme4')).toEqual([]);
  });

  it('refuses documents nobody could read and malformed ids or groups', async () => {
    await expect(prepareDocument({ tenant: 'a', text: 'x', acl: [] })).rejects.toMatchObject({
      details: { reason: 'no_readers' },
    });
    await expect(
      prepareDocument({ tenant: 'a', text: 'x', docId: 'a/b', public: true }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(prepareDocument({ tenant: 'a', text: 'x', acl: ['{bad}'] })).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });

  it('derives a stable, readable docId from tenant and source', () => {
    expect(stableDocId('acme', 'policies/Gifts & Hospitality.md')).toMatch(
      /^gifts-hospitality-[0-9a-f]{12}$/,
    );
    expect(stableDocId('acme', 'a.md')).toBe(stableDocId('acme', 'a.md'));
    expect(stableDocId('acme', 'a.md')).not.toBe(stableDocId('other', 'a.md'));
  });
});
