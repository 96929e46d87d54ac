import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import { orQuery, PostgresRetriever } from './postgres-retriever.ts';
import { retrieverContract } from './retriever.contract.ts';

retrieverContract('postgres', async ({ onViolation }) => {
  const pool = new pg.Pool({ connectionString: await freshDatabase(), max: 4 });
  return { retriever: new PostgresRetriever({ pool, onViolation }), cleanup: () => pool.end() };
});

describe('orQuery', () => {
  it('joins the words of a question with or, dropping stop words and operators', () => {
    expect(orQuery('What is the deadline for a SAR, or "STR"?')).toBe('deadline or sar or str');
    expect(orQuery('-- the of --')).toBe('');
  });
});
