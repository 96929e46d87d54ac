import type { LoggedRequest } from '@agent-fleet/llm-sim';
import { describe, expect, it } from 'vitest';
import { postMessage, settledTurn } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

describe("the agent runs with its profile's model, sampling and tools", () => {
  const { sim, fleet } = useSimFleet({ workers: 1, env: { DEFAULT_TENANT: 'acme', LOG_LEVEL: 'warn' } });

  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${fleet.gatewayUrl}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return res.json();
  };
  /** Every chat request the simulator received for `userId` while it ran one turn. */
  const requestsOfTurn = async (userId: string): Promise<LoggedRequest[]> => {
    const { turnId } = await postMessage(fleet.gatewayUrl, userId, 'What changed in the policy?');
    expect((await settledTurn(fleet.gatewayUrl, turnId)).status).toBe('completed');
    const root = sim.url.replace(/\/v1$/, '');
    const res = await fetch(`${root}/sim/requests?user=${encodeURIComponent(userId)}`);
    const { requests } = (await res.json()) as { requests: LoggedRequest[] };
    expect(requests.length).toBeGreaterThan(0);
    return requests;
  };

  it("a user's own profile: its model, temperature and tools reach the LLM server", async () => {
    const stored = await put('/v1/users/ada/profile', {
      tenant: 'acme',
      groups: ['staff'],
      model: 'fleet-large',
      temperature: 0.3,
      tools: ['recall_notes'],
    });
    expect(stored).toMatchObject({
      settings: { model: 'fleet-large', temperature: 0.3, tools: ['recall_notes'] },
    });
    for (const r of await requestsOfTurn('ada'))
      expect(r).toMatchObject({ model: 'fleet-large', temperature: 0.3, tools: ['recall_notes'] });
  });

  it("the tenant default's settings apply to users without a profile", async () => {
    await put('/v1/tenants/acme/default-profile', {
      groups: ['staff'],
      model: 'fleet-small',
      temperature: 1.5,
      tools: [],
    });
    for (const r of await requestsOfTurn('newbie'))
      expect(r).toMatchObject({ model: 'fleet-small', temperature: 1.5, tools: [] });
  });

  it('a profile without settings runs with the deployment defaults', async () => {
    await put('/v1/users/plain/profile', { tenant: 'acme', groups: ['staff'] });
    for (const r of await requestsOfTurn('plain')) {
      expect(r).toMatchObject({ model: 'fleet-sim', temperature: null });
      expect(r.tools).toEqual(
        expect.arrayContaining(['search_documents', 'read_document_section', 'save_note', 'recall_notes']),
      );
    }
  });
});
