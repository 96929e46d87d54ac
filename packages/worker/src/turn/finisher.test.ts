import { createLogger, TURN_STAGES, type TurnJob } from '@agent-fleet/core';
import type { Citation } from '@agent-fleet/rag';
import type { TurnTranscript } from '@agent-fleet/state';
import { type CommitInput, type CommitResult, encodePending, type TurnEvent } from '@agent-fleet/turns';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics, stageHistograms } from '../metrics.ts';
import { TurnStages } from '../stage-timer.ts';
import { chatJob, turnId } from '../testing/turn-jobs.ts';
import { type FinisherPorts, TurnFinisher } from './finisher.ts';
import type { Settlement, TurnDelivery } from './settlement.ts';

const citation: Citation = {
  marker: 1,
  docId: 'retention',
  title: 'Retention',
  section: '',
  sectionPath: [],
  source: 'api',
  chunkIndex: 0,
};

/**
 * A finisher over in-memory ports. `log` lists every write in order; the gate answers each commit
 * as `finished` with the next pending payload given in `next` (by the committed seq).
 */
function finisher(
  opts: {
    next?: Record<number, TurnJob>;
    publishFails?: boolean;
    /** The error the transcript answers for a row, or undefined to store it. */
    refuse?: (row: TurnTranscript) => Error | undefined;
  } = {},
) {
  const log: string[] = [];
  const rows: TurnTranscript[] = [];
  const commits: CommitInput[] = [];
  const events: { turnId: string; event: TurnEvent }[] = [];
  const metrics = createWorkerMetrics();
  const charged: { turnId: string; tokens: number }[] = [];
  const ports: FinisherPorts = {
    gate: {
      async commit(c): Promise<CommitResult> {
        log.push(`commit ${c.seq}`);
        commits.push(c);
        const next = opts.next?.[c.seq];
        return { kind: 'finished', nextPayload: next ? encodePending(next) : null, historyTokens: 42 };
      },
      async release(userId, lease) {
        log.push(`release ${userId} ${lease}`);
        return true;
      },
    },
    transcript: {
      async record(row) {
        const refused = opts.refuse?.(row);
        log.push(`record ${row.seq}${refused ? ' refused' : ''}`);
        if (refused) throw refused;
        rows.push(row);
        return true;
      },
    },
    events: {
      async publish(_userId, id, event) {
        if (opts.publishFails) throw new Error('redis is away');
        events.push({ turnId: id, event });
      },
    },
    heads: {
      async wake(j) {
        log.push(`wake ${j.turnId}`);
      },
    },
    records: {
      async setTimings(_userId, id, t) {
        log.push(`timings ${id} ${Object.keys(t.stages).join(',')}`);
      },
      async usage() {
        return [
          { kind: 'chat', model: 'm', promptTokens: 90, completionTokens: 10, cachedTokens: 40, calls: 2 },
        ];
      },
    },
    ledger: {
      async recordTurn(t) {
        log.push(`ledger ${t.turnId}`);
      },
    },
    tenants: { of: async () => 'acme' },
    fairness: {
      async correct(j, tokens) {
        charged.push({ turnId: j.turnId, tokens });
      },
    },
    metrics,
    logger: createLogger('finisher-test', 'silent'),
  };
  const f = new TurnFinisher(ports);
  const outcomes = async () => (await metrics.turns.get()).values.map((v) => [v.labels.outcome, v.value]);
  const unrecorded = async () => (await metrics.unrecorded.get()).values[0]?.value ?? 0;
  const failures = async () => (await metrics.failures.get()).values.map((v) => [v.labels.reason, v.value]);
  return { f, log, rows, commits, events, outcomes, unrecorded, failures, charged };
}

const running = (seq: number, extra: Partial<TurnJob> = {}): TurnDelivery => ({
  job: chatJob(seq, extra),
  lease: 'lease-1',
  startedAt: 500,
});

describe('TurnFinisher (fake ports, no Redis or Postgres)', () => {
  it('completed: records, then commits with the history, then wakes the next turn and says done', async () => {
    const t = finisher({ next: { 3: chatJob(4) } });
    const s: Settlement = {
      kind: 'completed',
      reply: 'Five years [1].',
      citations: [citation],
      coalesced: [],
    };
    const fin = await t.f.finish(running(3, { threadId: 'th' }), s);
    expect(fin).toEqual({ kind: 'finished', nextPayload: encodePending(chatJob(4)), historyTokens: 42 });
    expect(t.log).toEqual(['record 3', 'commit 3', `wake ${turnId(4)}`]);
    expect(t.rows[0]).toMatchObject({
      turnId: turnId(3),
      threadId: 'th',
      status: 'completed',
      startedAt: 500,
      messages: [
        { role: 'user', content: 'message 3' },
        { role: 'assistant', content: 'Five years [1].' },
      ],
      citations: [citation],
      // The turn's usage as its record holds it goes with its row, under its tenant.
      usage: {
        tenant: 'acme',
        lines: [
          { kind: 'chat', model: 'm', promptTokens: 90, completionTokens: 10, cachedTokens: 40, calls: 2 },
        ],
      },
    });
    // Its tenant is charged what it really used in the fair queue.
    expect(t.charged).toEqual([{ turnId: turnId(3), tokens: 100 }]);
    expect(t.commits[0]).toMatchObject({
      seq: 3,
      token: 'lease-1',
      status: 'completed',
      outcome: 'Five years [1].',
      citations: [citation],
      messages: [
        { role: 'user', content: 'message 3', turnId: turnId(3), seq: 3 },
        { role: 'assistant', content: 'Five years [1].', turnId: turnId(3), seq: 3 },
      ],
    });
    expect(t.commits[0]!.messages!.every((m) => (m.tokens ?? 0) > 4)).toBe(true);
    expect(t.events).toEqual([
      {
        turnId: turnId(3),
        event: { type: 'done', status: 'completed', reply: 'Five years [1].', citations: [citation] },
      },
    ]);
    expect(await t.outcomes()).toEqual([['completed', 1]]);
  });

  it('completed with coalesced turns: they complete with the same reply, in seq order, and the turn after the last wakes', async () => {
    const t = finisher({ next: { 3: chatJob(4), 5: chatJob(6) } });
    const coalesced = [4, 5].map((seq) => ({
      seq,
      turnId: turnId(seq),
      text: `message ${seq}`,
      enqueuedAt: 9,
    }));
    await t.f.finish(running(3), { kind: 'completed', reply: 'All answered.', citations: [], coalesced });
    expect(t.log).toEqual([
      'record 3',
      'record 4',
      'record 5',
      'commit 3',
      'commit 4',
      'commit 5',
      `wake ${turnId(6)}`,
    ]);
    expect(t.rows[0]!.messages.map((m) => m.content)).toEqual([
      'message 3',
      'message 4',
      'message 5',
      'All answered.',
    ]);
    expect(t.rows.slice(1).map((r) => [r.turnId, r.status, r.messages])).toEqual([
      [turnId(4), 'completed', []],
      [turnId(5), 'completed', []],
    ]);
    expect(t.commits.map((c) => [c.seq, c.token, c.outcome, c.messages?.length ?? 0])).toEqual([
      [3, 'lease-1', 'All answered.', 4],
      [4, '', 'All answered.', 0],
      [5, '', 'All answered.', 0],
    ]);
    expect(t.commits.some((c) => 'citations' in c)).toBe(false);
    expect(t.events.map((e) => e.turnId)).toEqual([turnId(3), turnId(4), turnId(5)]);
  });

  it('interrupted: the user message and what the model had said go into transcript and history', async () => {
    const t = finisher();
    await t.f.finish(running(3), { kind: 'interrupted', partial: 'Let me check' });
    const said = 'Let me check\n\n[interrupted by a newer message]';
    expect(t.rows[0]).toMatchObject({
      status: 'interrupted',
      error: 'interrupted by a newer message',
      messages: [
        { role: 'user', content: 'message 3' },
        { role: 'assistant', content: said },
      ],
    });
    expect(t.commits[0]).toMatchObject({ status: 'interrupted', outcome: 'interrupted by a newer message' });
    expect(t.commits[0]!.messages!.map((m) => m.content)).toEqual(['message 3', said]);
    await t.f.finish(running(4), { kind: 'interrupted', partial: '' });
    expect(t.rows[1]!.messages[1]!.content).toBe('[interrupted by a newer message]');
  });

  it('cancelled and failed: the user message is kept in the transcript, nothing joins the history', async () => {
    const t = finisher();
    await t.f.finish(running(3), { kind: 'cancelled' });
    await t.f.finish(
      { job: chatJob(4), lease: '' },
      { kind: 'failed', reason: 'value too long', cause: 'refused' },
    );
    expect(t.rows.map((r) => [r.status, r.error, r.messages])).toEqual([
      ['cancelled', 'cancelled by request', [{ role: 'user', content: 'message 3' }]],
      ['failed', 'value too long', [{ role: 'user', content: 'message 4' }]],
    ]);
    expect(t.commits.map((c) => [c.status, c.token, c.outcome, c.messages])).toEqual([
      ['cancelled', 'lease-1', 'cancelled by request', undefined],
      ['failed', '', 'value too long', undefined],
    ]);
    expect(t.events.map((e) => e.event)).toEqual([
      { type: 'done', status: 'cancelled', error: 'cancelled by request' },
      { type: 'done', status: 'failed', error: 'value too long' },
    ]);
    expect(await t.outcomes()).toEqual([
      ['cancelled', 1],
      ['failed', 1],
    ]);
    // Failures are counted by their bounded reason, never by their text.
    expect(await t.failures()).toEqual([['refused', 1]]);
  });

  it('retry: gives the lease back and records nothing', async () => {
    const t = finisher();
    expect(await t.f.finish(running(3), { kind: 'retry', error: new Error('llm away') })).toBeNull();
    expect(t.log).toEqual(['release ada lease-1']);
    expect(await t.outcomes()).toEqual([]);
  });

  it('a timed delivery puts its timings on the record once committed', async () => {
    const t = finisher();
    const stages = new TurnStages(stageHistograms(createWorkerMetrics()));
    await t.f.finish(running(3), { kind: 'cancelled' }, { stages });
    expect(t.log).toEqual(['record 3', 'commit 3', `timings ${turnId(3)} ${TURN_STAGES.join(',')}`]);
  });

  it('a done event that cannot be published does not undo a committed turn', async () => {
    const t = finisher({ publishFails: true });
    await expect(t.f.finish(running(3), { kind: 'cancelled' })).resolves.toMatchObject({ kind: 'finished' });
    expect(t.log).toEqual(['record 3', 'commit 3']);
  });

  describe('a row Postgres refuses', () => {
    const pgRefusal = (message: string) =>
      Object.assign(new Error(message), { code: '22021', severity: 'ERROR' });
    const nulRefused = (row: TurnTranscript) =>
      JSON.stringify(row).includes('\\u0000')
        ? pgRefusal('invalid byte sequence for encoding "UTF8": 0x00')
        : undefined;

    it('a failed turn is stored with its text made storable, then committed', async () => {
      const t = finisher({ refuse: nulRefused });
      await t.f.finish(running(3, { text: 'a\u0000b' }), {
        kind: 'failed',
        reason: 'invalid byte sequence 0x00',
        cause: 'refused',
      });
      expect(t.log).toEqual(['record 3 refused', 'record 3', 'commit 3']);
      expect(t.rows[0]).toMatchObject({
        status: 'failed',
        messages: [{ role: 'user', content: 'a\uFFFDb' }],
      });
      expect(t.commits[0]).toMatchObject({ status: 'failed', outcome: 'invalid byte sequence 0x00' });
      expect(await t.unrecorded()).toBe(0);
    });

    it('then without its messages, then not at all: the turn is committed whatever the transcript says', async () => {
      const bare = finisher({
        refuse: (row) => (row.messages.length > 0 ? pgRefusal('row too big') : undefined),
      });
      await bare.f.finish(running(3, { text: 'x'.repeat(10) }), { kind: 'cancelled' });
      expect(bare.log).toEqual(['record 3 refused', 'record 3', 'commit 3']);
      expect(bare.rows[0]).toMatchObject({
        status: 'cancelled',
        error: 'cancelled by request',
        messages: [],
      });

      const none = finisher({ refuse: () => pgRefusal('permission denied for table turns') });
      await none.f.finish(running(3, { text: 'a\u0000b' }), {
        kind: 'failed',
        reason: 'boom',
        cause: 'attempts',
      });
      expect(none.log).toEqual(['record 3 refused', 'record 3 refused', 'record 3 refused', 'commit 3']);
      expect(none.events.map((e) => e.event)).toEqual([{ type: 'done', status: 'failed', error: 'boom' }]);
      expect(await none.unrecorded()).toBe(1);
    });

    it('Postgres away stops a required recording before the commit; best-effort commits anyway', async () => {
      const away = () =>
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      const required = finisher({ refuse: away });
      await expect(
        required.f.finish(running(3), { kind: 'failed', reason: 'x', cause: 'attempts' }),
      ).rejects.toThrow(/ECONNREFUSED/);
      expect(required.log).toEqual(['record 3 refused']);

      const bestEffort = finisher({ refuse: away });
      await bestEffort.f.finish(
        running(3),
        { kind: 'failed', reason: 'x', cause: 'attempts' },
        { transcript: 'best-effort' },
      );
      expect(bestEffort.log).toEqual(['record 3 refused', 'record 3 refused', 'commit 3']);
      expect(await bestEffort.unrecorded()).toBe(1);
    });

    it('a completed turn whose row is refused is not committed: the error goes to the settle ladder', async () => {
      const t = finisher({ refuse: nulRefused });
      const s: Settlement = { kind: 'completed', reply: 'a\u0000b', citations: [], coalesced: [] };
      await expect(t.f.finish(running(3), s)).rejects.toThrow(/0x00/);
      expect(t.commits).toEqual([]);
    });
  });
});
