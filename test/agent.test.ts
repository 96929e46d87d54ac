import { type TurnEvent, TurnEvents } from '@agent-fleet/turns';
import { describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, postMessage, settledTurn } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/**
 * The agent loop on real processes, with the simulator in script mode answering with tool calls.
 * Every step is checkpointed; a worker SIGKILLed at any step boundary is replaced, and the turn
 * resumes without repeating a model call or a tool call that finished.
 */
describe('agent turns: tool loop and step checkpoints', () => {
  const { sim, fleet } = useSimFleet({
    sim: { mode: 'script' },
    workers: 0,
    env: { ...FAST_RECOVERY_ENV, AGENT_MAX_STEPS: '3', LOG_LEVEL: 'warn' },
  });
  const admin = () => sim.url.replace(/\/v1$/, '');

  const script = async (fixtures: unknown[]) => {
    const res = await fetch(`${admin()}/sim/script`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fixtures),
    });
    expect(res.status).toBe(200);
  };
  const callsBy = async (userId: string) =>
    ((await (await fetch(`${admin()}/sim/stats`)).json()) as { byUser: Record<string, number> }).byUser[
      userId
    ] ?? 0;
  const notesOf = async (userId: string) =>
    (await fleet.pool.query<{ text: string }>('SELECT text FROM notes WHERE user_id = $1', [userId])).rows;
  const waitTurn = (turnId: string) => settledTurn(fleet.gatewayUrl, turnId, 60_000);

  it('calls a tool, feeds its result back, and answers', async () => {
    const worker = fleet.addWorker();
    await worker.ready;
    await script([
      {
        match: { user: 'tooler' },
        reply: { tool_calls: [{ name: 'save_note', arguments: { text: 'prefers weekly digests' } }] },
      },
      { match: { user: 'tooler' }, reply: 'Noted: weekly digests.' },
    ]);
    const { turnId } = await postMessage(
      fleet.gatewayUrl,
      'tooler',
      'Please remember I like weekly digests.',
    );
    const turn = await waitTurn(turnId);
    expect(turn).toMatchObject({ status: 'completed', reply: 'Noted: weekly digests.' });
    expect(await notesOf('tooler')).toEqual([{ text: 'prefers weekly digests' }]);
    expect(await callsBy('tooler')).toBe(2);
    await worker.stop();
  });

  it("streams status, tokens, steps and the outcome to the turn's event stream", async () => {
    const worker = fleet.addWorker();
    await worker.ready;
    const answer = "Your digest arrives every Monday at eight, with the week's policy changes.";
    await script([
      { match: { user: 'watcher' }, reply: { tool_calls: [{ name: 'recall_notes', arguments: {} }] } },
      { match: { user: 'watcher' }, reply: answer },
    ]);
    const { turnId } = await postMessage(fleet.gatewayUrl, 'watcher', 'When does my digest arrive?');
    expect((await waitTurn(turnId)).status).toBe('completed');
    const events = (
      await new TurnEvents({ redis: fleet.redis, namespace: fleet.namespace }).read('watcher', turnId, '0')
    ).map((e) => e.event);
    const kinds = events.map((e) => (e.type === 'step' ? `step:${e.kind}` : e.type));
    expect(kinds[0]).toBe('status');
    expect(kinds.at(-1)).toBe('done');
    expect(kinds.filter((k) => k.startsWith('step'))).toEqual(['step:model', 'step:tool', 'step:model']);
    const streamed = events.flatMap((e: TurnEvent) => (e.type === 'token' ? [e.text] : [])).join('');
    expect(streamed).toBe(answer);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed', reply: answer });
    await worker.stop();
  });

  it('turns invalid tool arguments into a tool error the model reads, not a crash', async () => {
    const worker = fleet.addWorker();
    await worker.ready;
    await script([
      { match: { user: 'clumsy' }, reply: { tool_calls: [{ name: 'save_note', arguments: { wrong: 1 } }] } },
      { match: { user: 'clumsy' }, reply: { tool_calls: [{ name: 'no_such_tool', arguments: {} }] } },
      { match: { user: 'clumsy' }, reply: 'I could not save that.' },
    ]);
    const { turnId } = await postMessage(fleet.gatewayUrl, 'clumsy', 'Remember this please.');
    const turn = await waitTurn(turnId);
    expect(turn).toMatchObject({ status: 'completed', reply: 'I could not save that.', attempts: 1 });
    expect(await notesOf('clumsy')).toEqual([]);
    expect(await callsBy('clumsy')).toBe(3);
    await worker.stop();
  });

  it('stops at the step limit and makes the model answer', async () => {
    const worker = fleet.addWorker();
    await worker.ready;
    await script([
      {
        match: { user: 'looper' },
        reply: { tool_calls: [{ name: 'recall_notes', arguments: {} }] },
        times: 10,
      },
    ]);
    const { turnId } = await postMessage(fleet.gatewayUrl, 'looper', 'Loop forever.');
    const turn = await waitTurn(turnId);
    expect(turn.status).toBe('completed');
    expect(await callsBy('looper')).toBe(3); // AGENT_MAX_STEPS
    await worker.stop();
  });

  it("searches once more in the documents' words when the passages match little, under the same ACL", async () => {
    const worker = fleet.addWorker();
    await worker.ready;
    const send = (path: string, body: unknown, method = 'PUT') =>
      fetch(`${fleet.gatewayUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect(
      (await send('/v1/users/paraphraser/profile', { tenant: 'retry-bank', groups: ['staff'] })).status,
    ).toBe(200);
    const docs = [
      ['complaints', '# Complaints\n\nA client complaint is acknowledged within five days.', []],
      ['retention', '# Record Retention\n\nCustomer due diligence records are kept for seven years.', []],
      [
        'sealed',
        '# Sealed Retention Memo\n\nCustomer due diligence records of sealed cases: ten years.',
        ['legal'],
      ],
    ] as const;
    for (const [docId, text, acl] of docs) {
      const body = { docId, title: docId, tenant: 'retry-bank', acl, public: acl.length === 0, text };
      expect((await send('/v1/documents', body, 'POST')).status).toBe(201);
    }
    // The question shares one word ("client") with the complaints policy and none with the
    // retention standard: the passages are weak, and the model searches again in other words.
    await script([
      {
        match: { user: 'paraphraser' },
        reply: {
          tool_calls: [
            { name: 'search_documents', arguments: { query: 'customer due diligence records retention' } },
          ],
        },
      },
      // [3] would be a second passage of the search: only the sealed memo, which this user may not
      // read, could be it.
      { match: { user: 'paraphraser' }, reply: 'Seven years [2]; sealed cases [3].' },
    ]);
    const { turnId } = await postMessage(
      fleet.gatewayUrl,
      'paraphraser',
      "How long do we hold onto a client's files once they leave?",
    );
    const turn = (await waitTurn(turnId)) as Awaited<ReturnType<typeof waitTurn>> & {
      citations: { docId: string }[];
    };
    expect(turn).toMatchObject({ status: 'completed' });
    // [1] is the complaints passage retrieved for the question, [2] the one the second search found.
    expect(turn.citations.map((c) => c.docId)).toEqual(['retention']);
    const events = await new TurnEvents({ redis: fleet.redis, namespace: fleet.namespace }).read(
      'paraphraser',
      turnId,
      '0',
    );
    const steps = events.flatMap(({ event: e }) => (e.type === 'step' ? [[e.kind, e.tool, e.ok]] : []));
    expect(steps).toEqual([
      ['model', undefined, undefined],
      ['tool', 'search_documents', true],
      ['model', undefined, undefined],
    ]);
    expect(await callsBy('paraphraser')).toBe(2);
    await worker.stop();
  });

  // Checkpoints of this turn: 1 = the model's tool call, 2 = the tool's result, 3 = the answer.
  it.each([1, 2, 3])(
    'a worker killed right after checkpoint %i is replaced and nothing is repeated',
    async (n) => {
      const user = `crash-${n}`;
      await script([
        { match: { user }, reply: { tool_calls: [{ name: 'save_note', arguments: { text: `note ${n}` } }] } },
        { match: { user }, reply: `Saved note ${n}.` },
      ]);
      const doomed = fleet.addWorker({ FAULT_CRASH_AFTER_CHECKPOINT: String(n) });
      await doomed.ready;
      const { turnId } = await postMessage(fleet.gatewayUrl, user, `Remember note ${n}.`);
      expect(await doomed.exited).toBe('SIGKILL');
      const rescuer = fleet.addWorker();
      const turn = await waitTurn(turnId);
      expect(turn).toMatchObject({ status: 'completed', reply: `Saved note ${n}.` });
      expect(turn.attempts).toBe(2);
      expect(await notesOf(user)).toEqual([{ text: `note ${n}` }]);
      expect(await callsBy(user)).toBe(2); // no model call made twice
      const events = await new TurnEvents({ redis: fleet.redis, namespace: fleet.namespace }).read(
        user,
        turnId,
        '0',
      );
      expect(events.map((e) => e.event.type)).toContain('restart');
      await rescuer.stop();
    },
  );
});
