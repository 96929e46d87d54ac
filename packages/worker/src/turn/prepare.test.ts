import { createLogger, type HistoryMessage } from '@agent-fleet/core';
import { SEARCH_AGAIN_INSTRUCTIONS, type SearchHit, type UserAccess } from '@agent-fleet/rag';
import type { Profile } from '@agent-fleet/state';
import { encodePending, type HistoryMeta } from '@agent-fleet/turns';
import { describe, expect, it } from 'vitest';
import { chatJob, turnId } from '../testing/turn-jobs.ts';
import { CheckpointError, encodeCheckpoint, type Grounding } from './checkpoint.ts';
import { CancelledError } from './errors.ts';
import { type BegunTurn, type PreparePorts, TurnPreparer } from './prepare.ts';

const job = chatJob(3, { text: 'Retention?', enqueuedAt: 1 });
const profile: Profile = {
  userId: 'ada',
  tenant: 'acme',
  groups: ['compliance'],
  roleContext: 'Ada is an MLRO.',
  settings: {},
  updatedAt: '2025-01-01T00:00:00.000Z',
};
const earlier: HistoryMessage[] = [
  { role: 'user', content: 'Hello', turnId: turnId(1), seq: 1 },
  { role: 'assistant', content: 'Hi', turnId: turnId(1), seq: 1 },
];
const meta: HistoryMeta = { lastSeq: 1, tokens: 10, summary: 'They met.', summaryUpTo: 0 };
const hit: SearchHit = {
  score: 1,
  chunk: {
    tenant: 'acme',
    docId: 'retention',
    chunkIndex: 0,
    title: 'Retention',
    sectionPath: ['Records'],
    text: 'Keep records for five years.',
    start: 0,
    end: 28,
    source: 'api',
    acl: ['compliance'],
    public: false,
    contentHash: 'h',
    tokenCount: 6,
  },
};
const pending = (seq: number, text: string, coalesce: boolean) => ({
  seq,
  payload: encodePending({ ...job, turnId: turnId(seq), text, ...(coalesce ? { coalesce } : {}) }),
});

/** A preparer over in-memory ports; `calls` records what it asked them. */
function preparer(opts: {
  cancelled?: boolean;
  profile?: Profile | null;
  pending?: ReturnType<typeof pending>[];
}) {
  const calls: string[] = [];
  const searches: { access: UserAccess; query: string }[] = [];
  const meteredFor: { tenant: string; userId: string; turnId: string }[] = [];
  const ports: PreparePorts = {
    control: {
      async isCancelled() {
        calls.push('isCancelled');
        return opts.cancelled ?? false;
      },
    },
    memory: {
      async recall(_userId, _seq, _lease, history, m) {
        calls.push('recall');
        return { history, meta: m };
      },
    },
    profiles: {
      async get() {
        calls.push('profile');
        return opts.profile === undefined ? profile : opts.profile;
      },
    },
    pending: {
      async pendingAfter() {
        calls.push('pendingAfter');
        return opts.pending ?? [];
      },
    },
    retriever: {
      async search(access, query) {
        calls.push('search');
        searches.push({ access, query });
        return [hit];
      },
    },
    meters: {
      forTurn(who) {
        meteredFor.push(who);
        return { llm: () => ({}) as never, onEmbedding: () => {}, flush: async () => {}, tokens: 0 };
      },
    },
    logger: createLogger('prepare-test', 'silent'),
  };
  const p = new TurnPreparer(ports, {
    systemPrompt: 'You are a compliance agent.',
    topK: 5,
    contextTokens: 500,
  });
  return { p, calls, searches, meteredFor };
}

const begun = (scratchpad: Record<string, string> = {}): BegunTurn => ({
  lease: 'lease',
  scratchpad,
  history: earlier,
  meta,
});

describe('TurnPreparer (fake ports, no Redis)', () => {
  it('a first delivery: retrieves with the stored access and lays out the prompt for the prefix cache', async () => {
    const { p, searches, meteredFor } = preparer({});
    const prepared = await p.prepare(job, begun());
    expect(searches).toEqual([{ access: { tenant: 'acme', groups: ['compliance'] }, query: 'Retention?' }]);
    // Its calls are metered under the tenant its stored profile names.
    expect(meteredFor).toEqual([{ tenant: 'acme', userId: job.userId, turnId: job.turnId }]);
    expect(prepared.grounding.citations.map((c) => c.docId)).toEqual(['retention']);
    expect(prepared.coalesced).toEqual([]);
    expect(prepared.resumed).toEqual({ v: 2, steps: [] });
    const [system, summary, ...rest] = prepared.prompt;
    expect(system).toEqual({ role: 'system', content: 'You are a compliance agent.\n\nAda is an MLRO.' });
    expect(summary).toEqual({ role: 'system', content: 'Summary of the earlier conversation:\nThey met.' });
    expect(rest.slice(0, 2)).toEqual([
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi' },
    ]);
    const question = rest.at(-1)!;
    expect(question.role).toBe('user');
    expect(question.content).toMatch(
      /Passages:\n\[1\] \(Retention — Records\) Keep records for five years\./,
    );
    expect(question.content).toMatch(/Question: Retention\?$/);
  });

  it('answers the later coalesce messages too, up to the first that is not one', async () => {
    const { p, searches } = preparer({
      pending: [pending(4, 'And KYC?', true), pending(5, 'And AML?', true), pending(6, 'Separate', false)],
    });
    const prepared = await p.prepare(job, begun());
    expect(prepared.coalesced).toEqual([
      { seq: 4, turnId: turnId(4), text: 'And KYC?', enqueuedAt: 1 },
      { seq: 5, turnId: turnId(5), text: 'And AML?', enqueuedAt: 1 },
    ]);
    expect(searches[0]!.query).toBe('Retention?\n\nAnd KYC?\n\nAnd AML?');
    expect(prepared.prompt.at(-1)!.content).toMatch(/Question: Retention\?\n\nAnd KYC\?\n\nAnd AML\?$/);
  });

  it('a resumed turn keeps the decisions and steps its checkpoint holds, retrieving nothing', async () => {
    const saved: Grounding = { context: '[1] (Old) Saved passage.', citations: [] };
    const step = {
      kind: 'model' as const,
      content: 'Looking',
      toolCalls: [],
      promptTokens: 1,
      completionTokens: 1,
    };
    const { p, calls } = preparer({ pending: [pending(4, 'new message', true)] });
    const scratchpad = encodeCheckpoint({ grounding: saved, coalesced: [], steps: [step] });
    const prepared = await p.prepare(job, begun(scratchpad));
    expect(calls).not.toContain('search');
    expect(calls).not.toContain('pendingAfter');
    expect(prepared).toMatchObject({ grounding: saved, coalesced: [], resumed: { steps: [step] } });
    expect(prepared.prompt.at(-1)!.content).toMatch(/Saved passage\.[\s\S]*Question: Retention\?$/);
  });

  it('invites one more search, after the passages, when they match little of the question', async () => {
    const { p } = preparer({});
    const weak = await p.prepare({ ...job, text: 'How long do we hold onto client files?' }, begun());
    expect(weak.prompt.at(-1)!.content).toContain(`${SEARCH_AGAIN_INSTRUCTIONS}\n\nQuestion: How long`);
    const strong = await p.prepare(job, begun());
    expect(strong.prompt.at(-1)!.content).not.toContain(SEARCH_AGAIN_INSTRUCTIONS);
    const { p: noSearch } = preparer({ profile: { ...profile, settings: { tools: ['save_note'] } } });
    const cannot = await noSearch.prepare(
      { ...job, text: 'How long do we hold onto client files?' },
      begun(),
    );
    expect(cannot.prompt.at(-1)!.content).not.toContain(SEARCH_AGAIN_INSTRUCTIONS);
  });

  it('a user without a profile gets no passages and the bare system prompt', async () => {
    const { p, calls } = preparer({ profile: null });
    const prepared = await p.prepare(job, begun());
    expect(calls).not.toContain('search');
    expect(prepared.grounding).toEqual({ context: '', citations: [] });
    expect(prepared.prompt[0]).toEqual({ role: 'system', content: 'You are a compliance agent.' });
    expect(prepared.prompt.at(-1)).toEqual({ role: 'user', content: 'Retention?' });
  });

  it('a cancelled turn stops before it loads anything', async () => {
    const { p, calls } = preparer({ cancelled: true });
    await expect(p.prepare(job, begun())).rejects.toBeInstanceOf(CancelledError);
    expect(calls).toEqual(['isCancelled']);
  });

  it('a checkpoint it cannot read refuses the turn before any work', async () => {
    const { p, calls } = preparer({});
    await expect(p.prepare(job, begun({ v: '9' }))).rejects.toBeInstanceOf(CheckpointError);
    expect(calls).toEqual(['isCancelled']);
  });
});
