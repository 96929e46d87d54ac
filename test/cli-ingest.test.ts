import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from './support/run-node.ts';
import { freshDatabase } from './support/stack.ts';

const CLI = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));

const fleet = (args: string[], env: Record<string, string>) => runNode(CLI, args, env);

describe('fleet ingest', () => {
  let databaseUrl: string;
  let pool: pg.Pool;
  let dir: string;

  beforeAll(async () => {
    databaseUrl = await freshDatabase();
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    dir = mkdtempSync(join(tmpdir(), 'fleet-ingest-'));
    mkdirSync(join(dir, 'nested'));
    writeFileSync(
      join(dir, 'retention.md'),
      '# Retention\n\n## Periods\n\nRecords are kept for seven years.\n',
    );
    writeFileSync(
      join(dir, 'nested', 'gifts.html'),
      '<h1>Gifts</h1><p>Gifts above 100 EUR are declared.</p>',
    );
    writeFileSync(join(dir, 'nested', 'notes.txt'), 'Plain text notes about training attestations.');
    writeFileSync(join(dir, 'broken.pdf'), '%PDF-1.7 not a real pdf');
    writeFileSync(join(dir, 'empty.md'), '');
  });
  afterAll(() => pool.end());

  it('indexes a folder, reports each bad file, goes on with the rest, and exits 1', async () => {
    const res = await fleet(['ingest', dir, '--tenant', 'acme', '--acl', 'compliance,legal'], {
      DATABASE_URL: databaseUrl,
    });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/created\s+retention\.md/);
    expect(res.stdout).toMatch(/created\s+nested\/gifts\.html/);
    expect(res.stdout).toMatch(/created\s+nested\/notes\.txt/);
    expect(res.stderr).toMatch(/failed\s+broken\.pdf/);
    expect(res.stderr).toMatch(/failed\s+empty\.md/);
    expect(res.stdout).toMatch(/3 ingested, 2 failed/);
    const docs = await pool.query<{ doc_id: string; acl: string[] }>(
      'SELECT doc_id, acl FROM rag_documents ORDER BY doc_id',
    );
    expect(docs.rowCount).toBe(3);
    for (const d of docs.rows) expect(d.acl).toEqual(['compliance', 'legal']);
  });

  it('is idempotent: a second run changes nothing', async () => {
    const res = await fleet(
      ['ingest', join(dir, 'retention.md'), '--tenant', 'acme', '--acl', 'compliance,legal'],
      {
        DATABASE_URL: databaseUrl,
      },
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/unchanged\s+retention\.md/);
  });

  it('rejects bad arguments with a message and exit code 1', async () => {
    const badTenant = await fleet(['ingest', dir, '--tenant', 'no spaces'], { DATABASE_URL: databaseUrl });
    expect(badTenant.code).toBe(1);
    expect(badTenant.stderr).toMatch(/tenant/);
    const badGroup = await fleet(['ingest', dir, '--tenant', 'acme', '--acl', 'a b'], {
      DATABASE_URL: databaseUrl,
    });
    expect(badGroup.code).toBe(1);
    expect(badGroup.stderr).toMatch(/"a b" is not a group name/);
    const noTenant = await fleet(['ingest', dir], { DATABASE_URL: databaseUrl });
    expect(noTenant.code).toBe(1);
    expect(noTenant.stderr).toMatch(/--tenant/);
    const missing = await fleet(['ingest', join(dir, 'nope.md'), '--tenant', 'acme', '--acl', 'g'], {
      DATABASE_URL: databaseUrl,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.md: no such file/);
  });

  it('says how to proceed when no fleet runs and no DATABASE_URL is set', async () => {
    const res = await fleet(['ingest', dir, '--tenant', 'acme'], {
      FLEET_DIR: mkdtempSync(join(tmpdir(), 'no-fleet-')),
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/npm start|DATABASE_URL/);
  });
});
