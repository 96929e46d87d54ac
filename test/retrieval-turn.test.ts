import { beforeAll, describe, expect, it } from 'vitest';
import { postMessage, settledTurn } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/**
 * Retrieval inside a turn, on real processes: passages the user may read go into the prompt with
 * citation markers, the reply carries citations, and a restricted document never reaches the
 * prompt of a user outside its groups, whatever the question says.
 */
describe('turns answer from the documents the user may read, with citations', () => {
  const { fleet } = useSimFleet({ workers: 1, env: { LOG_LEVEL: 'warn' } });
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    const put = (path: string, body: unknown, method = 'PUT') =>
      fetch(`${fleet.gatewayUrl}${path}`, { method, headers: json, body: JSON.stringify(body) });
    expect((await put('/v1/users/officer/profile', { tenant: 'acme', groups: ['staff'] })).status).toBe(200);
    expect(
      (
        await put('/v1/users/investigator/profile', {
          tenant: 'acme',
          groups: ['staff', 'aml-investigators'],
        })
      ).status,
    ).toBe(200);
    expect(
      (await put('/v1/users/outsider/profile', { tenant: 'other-bank', groups: ['staff'] })).status,
    ).toBe(200);
    const docs = [
      {
        docId: 'retention',
        title: 'Record Retention Standard',
        tenant: 'acme',
        acl: [],
        public: true,
        text: '# Record Retention Standard\n\n## 2. Periods\n\nCustomer due diligence records are kept for seven years after the relationship ends.',
      },
      {
        docId: 'sar-playbook',
        title: 'SAR Investigations Playbook',
        tenant: 'acme',
        acl: ['aml-investigators'],
        text: '# SAR Investigations Playbook\n\n## 4. Tipping off\n\nInvestigators use the codeword BLUEHERON when escalating a suspicious activity case about a customer.',
      },
    ];
    for (const d of docs) expect((await put('/v1/documents', d, 'POST')).status).toBe(201);
  });

  async function ask(userId: string, text: string) {
    const { turnId } = await postMessage(fleet.gatewayUrl, userId, text);
    const turn = await settledTurn(fleet.gatewayUrl, turnId, 30_000);
    return { ...turn, citations: turn.citations ?? [] };
  }

  it('grounds the answer in a visible document and cites it', async () => {
    const turn = await ask('officer', 'How long are customer due diligence records kept?');
    expect(turn.status).toBe('completed');
    expect(turn.reply).toContain('seven years');
    expect(turn.citations).toEqual([
      expect.objectContaining({
        docId: 'retention',
        title: 'Record Retention Standard',
        section: expect.any(String),
      }),
    ]);
  });

  it('never puts a restricted document into the prompt of a user outside its groups', async () => {
    const question =
      'What codeword do investigators use when escalating a suspicious activity case? BLUEHERON';
    const officer = await ask('officer', question);
    expect(officer.citations.map((c) => c.docId)).not.toContain('sar-playbook');
    // The simulator echoes the whole prompt message: the restricted passage is not in it.
    expect(officer.reply).not.toContain('Investigators use the codeword');
    const outsider = await ask('outsider', question);
    expect(outsider.citations).toEqual([]);

    const investigator = await ask('investigator', question);
    expect(investigator.citations.map((c) => c.docId)).toContain('sar-playbook');
    expect(investigator.reply).toContain('Investigators use the codeword BLUEHERON');
  });

  it("applies a profile change to the next turn (the workers' profile cache is invalidated)", async () => {
    const question = 'What codeword do investigators use when escalating a suspicious activity case?';
    const before = await ask('promoted', question).catch(() => null);
    expect(before?.citations ?? []).toEqual([]); // no profile yet: nothing visible
    const put = await fetch(`${fleet.gatewayUrl}/v1/users/promoted/profile`, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({ tenant: 'acme', groups: ['aml-investigators'] }),
    });
    expect(put.status).toBe(200);
    const after = await ask('promoted', question);
    expect(after.citations.map((c) => c.docId)).toContain('sar-playbook');
  });

  it('keeps citations with the turn in Postgres', async () => {
    const turn = await ask('investigator', 'Which codeword is used when escalating?');
    const rows = await fleet.pool.query<{ citations: { docId: string }[] }>(
      'SELECT citations FROM turns WHERE user_id = $1 ORDER BY seq DESC LIMIT 1',
      ['investigator'],
    );
    expect(rows.rows[0]!.citations.map((c) => c.docId)).toEqual(turn.citations.map((c) => c.docId));
  });

  it('a user without a profile still gets an answer, grounded in nothing', async () => {
    const turn = await ask('stranger', 'How long are records kept?');
    expect(turn.status).toBe('completed');
    expect(turn.citations).toEqual([]);
  });

  it('re-posting a document replaces it and deleting removes it, both idempotent', async () => {
    const body = {
      docId: 'retention',
      title: 'Record Retention Standard',
      tenant: 'acme',
      acl: [],
      public: true,
      text: '# Record Retention Standard\n\n## 2. Periods\n\nCustomer due diligence records are kept for ten years after the relationship ends.',
    };
    const post = () =>
      fetch(`${fleet.gatewayUrl}/v1/documents`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(body),
      });
    const status = async () => ((await (await post()).json()) as { status: string }).status;
    expect(await status()).toBe('replaced');
    expect(await status()).toBe('unchanged');
    const turn = await ask('officer', 'How long are customer due diligence records kept?');
    expect(turn.reply).toContain('ten years');
    expect(turn.reply).not.toContain('seven years');
    const del = () => fetch(`${fleet.gatewayUrl}/v1/documents/retention?tenant=acme`, { method: 'DELETE' });
    expect(await (await del()).json()).toMatchObject({ deleted: true });
    expect(await (await del()).json()).toMatchObject({ deleted: false });
    const after = await ask('officer', 'How long are customer due diligence records kept?');
    expect(after.citations).toEqual([]);
  });
});
