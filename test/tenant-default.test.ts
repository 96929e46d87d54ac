import { describe, expect, it } from 'vitest';
import { postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

describe('a user without a profile gets the tenant default', () => {
  const { fleet } = useSimFleet({ workers: 1, env: { DEFAULT_TENANT: 'acme', LOG_LEVEL: 'warn' } });
  const json = { 'content-type': 'application/json' };

  it('answers from the documents the tenant default may read, with its role context', async () => {
    const url = `${fleet.gatewayUrl}/v1/tenants/acme/default-profile`;
    expect((await fetch(url)).status).toBe(404);
    const put = await fetch(url, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({ groups: ['staff'], roleContext: 'The user works in a branch.' }),
    });
    expect(put.status).toBe(200);
    expect(await (await fetch(url)).json()).toMatchObject({ tenant: 'acme', groups: ['staff'] });
    const doc = await fetch(`${fleet.gatewayUrl}/v1/documents`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        docId: 'branch-manual',
        title: 'Branch Manual',
        tenant: 'acme',
        acl: ['staff'],
        text: '# Branch Manual\n\n## Cash\n\nCash deposits above 10,000 EUR need a source-of-funds form.',
      }),
    });
    expect(doc.status).toBe(201);
    const { turnId } = await postMessage(
      fleet.gatewayUrl,
      'newbie',
      'What do cash deposits above 10,000 EUR need?',
    );
    let turn: { status: string; citations: { docId: string }[] } | undefined;
    await waitFor(
      async () => {
        turn = (await (await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`)).json()) as typeof turn;
        return turn?.status === 'completed';
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    expect(turn!.citations.map((c) => c.docId)).toEqual(['branch-manual']);
  });
});
