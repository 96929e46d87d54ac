import { LlmPool } from '@agent-fleet/llm';
import { type RunningSim, startSim } from '@agent-fleet/llm-sim';
import { ingestDocument, PostgresRetriever } from '@agent-fleet/rag';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import type { Checklist } from './checklist.ts';
import type { Finding } from './finding.ts';
import { DocumentReviewer, type TaskResult } from './reviewer.ts';

const POLICY = `# Record Retention

## Periods

Customer due diligence records are kept for five years after the relationship ends.
Transaction records are kept for seven years.

## Gifts

Staff do not accept gifts above fifty euros without written approval.`;

const CHECKLIST: Checklist = {
  items: [
    { id: 'cdd', requirement: 'Customer due diligence records must be kept for five years.' },
    { id: 'gifts', requirement: 'Gifts above fifty euros need written approval.' },
    { id: 'cars', requirement: 'Company vehicles receive an annual service.' },
  ],
};

/**
 * The reviewer against the simulator over HTTP and Postgres retrieval: the trust path with real
 * fabricated quotes and real broken JSON, and permissions.
 */
describe('the document reviewer', () => {
  let pool: pg.Pool;
  let retriever: PostgresRetriever;
  const sims: RunningSim[] = [];
  const llms: LlmPool[] = [];
  const profiles = {
    get: async (userId: string) =>
      userId === 'ann'
        ? { tenant: 'acme', groups: ['compliance'] }
        : userId === 'bob'
          ? { tenant: 'acme', groups: ['hr'] }
          : null,
  };

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 4 });
    retriever = new PostgresRetriever({ pool });
    await ingestDocument(
      { tenant: 'acme', docId: 'retention', text: POLICY, acl: ['compliance'] },
      { retriever },
    );
  });
  afterEach(async () => {
    for (const l of llms.splice(0)) l.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await pool?.end();
  });

  const review = async (simOptions: Parameters<typeof startSim>[0], userId = 'ann') => {
    const sim = await startSim({ engine: { timeScale: 0 }, ...simOptions });
    sims.push(sim);
    const llm = new LlmPool({ servers: [sim.url], apiKey: 'k', model: 'fleet-sim', healthIntervalMs: 0 });
    llms.push(llm);
    const reviewer = new DocumentReviewer(
      { llm, retriever, profiles },
      { itemsPerCall: 8, documentTokens: 6000, policyTokens: 500, jsonRetries: 2 },
    );
    const recorded: Finding[] = [];
    const result: TaskResult = await reviewer.review({
      userId,
      docId: 'retention',
      items: CHECKLIST.items,
      signal: AbortSignal.timeout(20_000),
      shouldStop: async () => false,
      record: async ({ findings }) => {
        recorded.push(...findings);
      },
    });
    const requests = (await (await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/requests`)).json()) as {
      requests: { priority: number; responseFormat: string }[];
    };
    return { result, findings: new Map(recorded.map((f) => [f.itemId, f])), requests: requests.requests };
  };

  it('records verdicts with evidence that occurs in the document, asked at batch priority', async () => {
    const { result, findings, requests } = await review({});
    expect(result.kind).toBe('reviewed');
    expect(findings.get('cdd')).toMatchObject({
      verdict: 'compliant',
      evidence: [
        {
          quote: expect.stringContaining('Customer due diligence records are kept for five years'),
          section: 'Record Retention > Periods',
        },
      ],
    });
    expect(findings.get('gifts')).toMatchObject({
      verdict: 'non_compliant',
      evidence: [{ section: 'Record Retention > Gifts' }],
    });
    expect(findings.get('cars')).toMatchObject({ verdict: 'not_applicable', evidence: [] });
    expect(requests).toEqual([{ ...requests[0], priority: 10, responseFormat: 'document_review' }]);
  });

  it('asks again once about fabricated quotes, then records unclear (unverifiable_evidence)', async () => {
    const { findings, requests } = await review({ fabricatedQuoteRate: 1 });
    expect(requests).toHaveLength(2);
    for (const id of ['cdd', 'gifts'])
      expect(findings.get(id)).toMatchObject({
        verdict: 'unclear',
        reason: 'unverifiable_evidence',
        evidence: [],
      });
    // An item without evidence had nothing to fabricate.
    expect(findings.get('cars')).toMatchObject({ verdict: 'not_applicable' });
  });

  it('asks again about invalid JSON a bounded number of times, then records unclear (invalid_output)', async () => {
    const { findings, requests } = await review({ brokenJsonRate: 1 });
    expect(requests).toHaveLength(3);
    expect(
      [...findings.values()].every((f) => f.verdict === 'unclear' && f.reason === 'invalid_output'),
    ).toBe(true);
    expect(findings.size).toBe(3);
  });

  it('recovers when only some replies are broken or fabricated: every recorded quote is real', async () => {
    const { findings } = await review({ brokenJsonRate: 0.4, fabricatedQuoteRate: 0.4, seed: 11 });
    expect(findings.size).toBe(3);
    const flat = POLICY.replace(/\s+/g, ' ');
    for (const f of findings.values())
      for (const e of f.evidence) expect(flat).toContain(e.quote.replace(/\s+/g, ' '));
  });

  it('never sends a document the user may not read to the model', async () => {
    const { result, requests } = await review({}, 'bob');
    expect(result.kind).toBe('not_permitted');
    expect(requests).toEqual([]);
    expect((await review({}, 'nobody')).result.kind).toBe('not_permitted');
  });
});
