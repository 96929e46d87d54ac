import { describe, expect, it } from 'vitest';
import { onFreshDatabase } from '../../../test/support/postgres.ts';
import type { Finding, Usage } from './finding.ts';
import { newRunId } from './runs.ts';
import { ReviewStore } from './store.ts';

const usage = (calls: number): Usage => ({
  promptTokens: 100 * calls,
  completionTokens: 10 * calls,
  cachedTokens: 0,
  calls,
});
const finding = (itemId: string): Finding => ({
  itemId,
  verdict: 'compliant',
  evidence: [{ quote: 'a quote long enough', section: 'Scope' }],
  rationale: 'because',
  confidence: 0.8,
});
const facts = { title: 'Doc', contentHash: 'h' };

describe('the review store', () => {
  const db = onFreshDatabase((pool) => ({ store: new ReviewStore({ pool }) }), 8);

  const newRun = async (items: string[]) => {
    const runId = newRunId();
    await db.store.createRun({
      runId,
      userId: 'ann',
      tenant: 'acme',
      priority: 'normal',
      checklist: { items: items.map((id) => ({ id, requirement: `requirement ${id}` })) },
      spec: { documents: ['d1', 'd2'] },
      createdBy: 'key-1',
    });
    await db.store.addDocuments(runId, [
      { docId: 'd1', ordinal: 0, itemsTotal: items.length, chunkCount: 1 },
      { docId: 'd2', ordinal: 1, itemsTotal: items.length, chunkCount: 1 },
      { docId: 'gone', ordinal: 2, itemsTotal: items.length, chunkCount: 0, outcome: 'not_found' },
    ]);
    return runId;
  };

  it('carries findings of unchanged content to a rerun once, and marks changed and new documents', async () => {
    const previous = await newRun(['a', 'b']);
    await db.store.recordFindings(previous, 'd1', facts, [finding('a'), finding('b')], usage(1));
    await db.store.recordFindings(previous, 'd2', facts, [finding('a'), finding('b')], usage(1));
    const rerun = await newRun(['a', 'b']);
    // Same content: both findings copied, naming the run that produced them; the document settles.
    const d1 = await db.store.carryFindings(rerun, 'd1', previous, facts, ['a', 'b']);
    expect({ ...d1, carried: [...d1.carried].sort() }).toEqual({ settled: true, carried: ['a', 'b'] });
    expect(await db.store.carryFindings(rerun, 'd1', previous, facts, ['a', 'b'])).toEqual({
      settled: false,
      carried: [],
    });
    // Other content: nothing copied, reviewed as changed.
    const changed = { ...facts, contentHash: 'h2' };
    expect(await db.store.carryFindings(rerun, 'd2', previous, changed, ['a', 'b'])).toEqual({
      settled: false,
      carried: [],
    });
    const docs = await db.store.documents(rerun);
    expect(docs.map((d) => [d.docId, d.outcome, d.change])).toEqual([
      ['d1', 'reviewed', 'unchanged'],
      ['d2', null, 'changed'],
      ['gone', 'not_found', undefined],
    ]);
    const carried = (await db.store.findings(rerun)).filter((f) => f.docId === 'd1');
    expect(carried.map((f) => f.carriedFrom)).toEqual([previous, previous]);
    // Carried twice, a finding still names the run that produced it.
    const third = await newRun(['a', 'b']);
    await db.store.carryFindings(third, 'd1', rerun, facts, ['a', 'b']);
    expect((await db.store.findings(third)).map((f) => f.carriedFrom)).toEqual([previous, previous]);
    // A document the previous run did not review is new.
    const fresh = await newRun(['a']);
    const newDoc = await newRun(['a']);
    await db.store.carryFindings(newDoc, 'd2', fresh, facts, ['a']);
    expect((await db.store.documents(newDoc)).find((d) => d.docId === 'd2')?.change).toBe('new');
  });

  it('writes each finding and each outcome once, whoever writes again', async () => {
    const runId = await newRun(['a', 'b']);
    expect((await db.store.getRun(runId))!.documentsTotal).toBe(3);
    expect(await db.store.recordFindings(runId, 'd1', facts, [finding('a')], usage(1))).toEqual({
      settled: false,
    });
    expect(await db.store.recordFindings(runId, 'd1', facts, [finding('a'), finding('b')], usage(1))).toEqual(
      {
        settled: true,
      },
    );
    // A redelivery after the document settled records nothing more but counts its tokens in the run.
    expect(
      await db.store.recordFindings(runId, 'd1', facts, [{ ...finding('b'), verdict: 'unclear' }], usage(1)),
    ).toEqual({ settled: false });
    expect(await db.store.settleDocument(runId, 'd1', 'failed', usage(0))).toEqual({ settled: false });
    const findings = await db.store.findings(runId);
    expect(findings.map((f) => [f.itemId, f.verdict])).toEqual([
      ['a', 'compliant'],
      ['b', 'compliant'],
    ]);
    expect(await db.store.settleDocument(runId, 'd2', 'not_permitted', usage(0))).toEqual({ settled: true });
    expect(await db.store.settleDocument(runId, 'd2', 'failed', usage(0))).toEqual({ settled: false });
    const progress = await db.store.progress(runId);
    expect(progress.documents).toEqual({
      total: 3,
      done: 3,
      reviewed: 1,
      not_permitted: 1,
      not_found: 1,
      failed: 0,
    });
    expect(progress.verdicts).toEqual({ compliant: 2, non_compliant: 0, not_applicable: 0, unclear: 0 });
    const run = (await db.store.getRun(runId))!;
    expect(run.usage).toEqual({ promptTokens: 300, completionTokens: 30, cachedTokens: 0, calls: 3 });
    const [d1] = await db.store.documents(runId);
    expect(d1).toMatchObject({ outcome: 'reviewed', title: 'Doc', contentHash: 'h', usage: usage(3) });
  });

  it('settles a document once when its groups of items are recorded at the same time', async () => {
    const items = Array.from({ length: 8 }, (_, i) => `i${i}`);
    const runId = await newRun(items);
    const results = await Promise.all(
      [0, 2, 4, 6].map((i) =>
        db.store.recordFindings(runId, 'd1', facts, [finding(`i${i}`), finding(`i${i + 1}`)], usage(1)),
      ),
    );
    expect(results.filter((r) => r.settled)).toHaveLength(1);
    expect((await db.store.documents(runId))[0]!.outcome).toBe('reviewed');
    expect(await db.store.itemsDone(runId, 'd1')).toEqual(new Set(items));
  });

  it('moves a run queued → running → cancelled → queued (next generation) → completed, and no other way', async () => {
    const runId = await newRun(['a']);
    expect(await db.store.markRunning(runId, 2)).toBe(false);
    expect(await db.store.markRunning(runId, 1)).toBe(true);
    expect(await db.store.cancel(runId)).toEqual({ changed: true, status: 'cancelled' });
    expect(await db.store.cancel(runId)).toEqual({ changed: false, status: 'cancelled' });
    expect(await db.store.finish(runId, 1)).toBe(false);
    expect(await db.store.resume(runId)).toBe(2);
    expect(await db.store.resume(runId)).toBeNull();
    expect(await db.store.markRunning(runId, 1)).toBe(false);
    expect(await db.store.markRunning(runId, 2)).toBe(true);
    expect(await db.store.finish(runId, 2)).toBe(true);
    expect(await db.store.state(runId)).toEqual({ status: 'completed', generation: 2 });
    expect(await db.store.cancel(runId)).toEqual({ changed: false, status: 'completed' });
    expect(await db.store.cancel(newRunId())).toBeNull();
  });

  it('lists runs newest first, by tenant, page after page', async () => {
    const ids = [await newRun(['a']), await newRun(['a']), await newRun(['a'])];
    const first = await db.store.listRuns({ limit: 2, tenant: 'acme' });
    expect(first.map((r) => r.runId).slice(0, 2)).toEqual([ids[2], ids[1]]);
    const next = await db.store.listRuns({ limit: 2, tenant: 'acme', before: first[1]!.runId });
    expect(next[0]!.runId).toBe(ids[0]);
    expect(await db.store.listRuns({ limit: 5, tenant: 'globex' })).toEqual([]);
  });
});
