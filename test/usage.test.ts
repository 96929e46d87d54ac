import { type TurnUsage, userKeys } from '@agent-fleet/core';
import type { SimStats } from '@agent-fleet/llm-sim';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { streamAgentChat } from './support/openai-stream.ts';
import { simAdmin } from './support/sim-admin.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { freePort } from './support/sim-process.ts';

type Reported = SimStats['usage']['total'];

/**
 * Token accounting end to end: real gateway and worker processes, the simulator over HTTP. Every
 * number the fleet reports (a turn's usage, the OpenAI endpoint's, the usage report, the Prometheus
 * counters) is compared with what the simulator itself says it reported to the fleet.
 */
describe('usage is exact on every path, against the simulator’s own counts', () => {
  const { sim, fleet } = useSimFleet({
    sim: { mode: 'script' },
    workers: 0,
    // A small history budget, so a few turns trigger a summary.
    env: { HISTORY_TOKEN_BUDGET: '120', LOG_LEVEL: 'warn' },
  });
  let metricsUrl: string;
  const admin = simAdmin(sim);

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    fleet.addWorker({ WORKER_METRICS_PORT: String(port) });
    for (const user of ['u-tools', 'u-fold', 'u-oai', 'u-stream'])
      await put(`/v1/users/${user}/profile`, { tenant: 'acme', groups: ['staff'] });
    await fleet.workersReady();
  });

  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${fleet.gatewayUrl}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, path).toBe(200);
  };
  const reported = async () => (await admin.stats()).usage;
  const usageOf = async (turnId: string): Promise<TurnUsage | undefined> =>
    ((await (await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`)).json()) as { usage?: TurnUsage }).usage;
  /** What the fleet says a user's turns used, summed, next to what the simulator reported for them. */
  const sumOf = (usages: (TurnUsage | undefined)[]) => ({
    promptTokens: usages.reduce((n, u) => n + (u?.promptTokens ?? 0), 0),
    completionTokens: usages.reduce((n, u) => n + (u?.completionTokens ?? 0), 0),
    cachedTokens: usages.reduce((n, u) => n + (u?.cachedTokens ?? 0), 0),
    requests: usages.reduce((n, u) => n + (u?.calls ?? 0), 0),
  });

  it('a turn with tool steps: its usage is every model call’s, as reported', async () => {
    await admin.script([
      { match: { user: 'u-tools' }, reply: { tool_calls: [{ name: 'recall_notes', arguments: {} }] } },
      { match: { user: 'u-tools' }, reply: 'Nothing noted yet.' },
    ]);
    const { turnId } = await postMessage(fleet.gatewayUrl, 'u-tools', 'What do you remember about me?');
    expect((await settledTurn(fleet.gatewayUrl, turnId)).status).toBe('completed');
    const usage = (await usageOf(turnId))!;
    const sim = (await reported()).byUser['u-tools']!;
    expect(sim.requests).toBe(2);
    expect(sumOf([usage])).toEqual(sim);
    expect(usage.totalTokens).toBe(sim.promptTokens + sim.completionTokens);
    expect(usage.lines.map((l) => [l.kind, l.model, l.calls])).toEqual([['chat', 'fleet-sim', 2]]);
  });

  it('a summary is charged to the turn that triggered it', async () => {
    const turns: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { turnId } = await postMessage(
        fleet.gatewayUrl,
        'u-fold',
        `Question ${i}: please explain the retention rules for customer due diligence records in detail.`,
      );
      expect((await settledTurn(fleet.gatewayUrl, turnId)).status).toBe('completed');
      turns.push(turnId);
    }
    // The folds run after their turns are committed: wait until the accounts add up.
    let fleetSays = sumOf([]);
    let simSays: Reported | undefined;
    await waitFor(
      async () => {
        fleetSays = sumOf(await Promise.all(turns.map(usageOf)));
        simSays = (await reported()).byUser['u-fold'];
        return JSON.stringify(fleetSays) === JSON.stringify(simSays);
      },
      {
        timeoutMs: 20_000,
        describe: () => `fleet ${JSON.stringify(fleetSays)}, simulator ${JSON.stringify(simSays)}`,
      },
    );
    const lines = (await Promise.all(turns.map(usageOf))).flatMap((u) => u?.lines ?? []);
    const summaries = lines.filter((l) => l.kind === 'summary');
    expect(summaries.length).toBeGreaterThan(0);
    // Four chat calls and the summaries: every call the simulator answered for the user.
    expect(simSays!.requests).toBe(4 + summaries.reduce((n, l) => n + l.calls, 0));
  });

  it('the OpenAI-compatible endpoint answers the turn’s real usage, streamed and not', async () => {
    const client = new OpenAI({ apiKey: 'x', baseURL: `${fleet.gatewayUrl}/v1`, maxRetries: 0 });
    const plain = await client.chat.completions.create({
      model: 'fleet-agent',
      user: 'u-oai',
      messages: [{ role: 'user', content: 'How long do we keep emails?' }],
    });
    const sim1 = (await reported()).byUser['u-oai']!;
    expect(plain.usage).toEqual({
      prompt_tokens: sim1.promptTokens,
      completion_tokens: sim1.completionTokens,
      total_tokens: sim1.promptTokens + sim1.completionTokens,
      prompt_tokens_details: { cached_tokens: sim1.cachedTokens },
    });
    const stream = await streamAgentChat(client, 'u-stream', 'And how long for chat logs?');
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const sim2 = (await reported()).byUser['u-stream']!;
    expect(usage).toEqual({
      prompt_tokens: sim2.promptTokens,
      completion_tokens: sim2.completionTokens,
      total_tokens: sim2.promptTokens + sim2.completionTokens,
      prompt_tokens_details: { cached_tokens: sim2.cachedTokens },
    });
  });

  it('Postgres holds the same: the usage report, and a turn whose hot record expired', async () => {
    const sim = await reported();
    const users = ['u-tools', 'u-fold', 'u-oai', 'u-stream'];
    await waitFor(
      async () => {
        const res = await fetch(`${fleet.gatewayUrl}/v1/usage?tenant=acme&groupBy=user`);
        const report = (await res.json()) as { rows: { key: string; totalTokens: number; calls: number }[] };
        return users.every((u) => {
          const row = report.rows.find((r) => r.key === u);
          const s = sim.byUser[u]!;
          return row?.totalTokens === s.promptTokens + s.completionTokens && row.calls === s.requests;
        });
      },
      {
        timeoutMs: 10_000,
        describe: async () =>
          JSON.stringify(await (await fetch(`${fleet.gatewayUrl}/v1/usage?tenant=acme&groupBy=user`)).json()),
      },
    );
    const byModel = (await (
      await fetch(`${fleet.gatewayUrl}/v1/usage?userId=u-tools&groupBy=model`)
    ).json()) as { rows: { key: string; promptTokens: number }[]; total: { promptTokens: number } };
    expect(byModel.rows.map((r) => r.key)).toEqual(['fleet-sim']);
    expect(byModel.total.promptTokens).toBe(sim.byUser['u-tools']!.promptTokens);
    // With the hot record gone, the turn is answered from Postgres, usage included.
    const { rows } = await fleet.pool.query<{ turn_id: string }>(
      "SELECT turn_id FROM turns WHERE user_id = 'u-oai'",
    );
    const turnId = rows[0]!.turn_id;
    const hot = await usageOf(turnId);
    await fleet.redis.del(userKeys(fleet.namespace, 'u-oai').record(turnId));
    expect(await usageOf(turnId)).toEqual(hot);
  });

  it('Prometheus counts tokens by tenant and model, never by user, and they add up', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const samples = text.split('\n').filter((l) => l.startsWith('fleet_tokens_total{'));
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) {
      expect(s).toMatch(/tenant="acme"/);
      expect(s).not.toMatch(/user/i);
    }
    const sum = (type: string) =>
      samples
        .filter((s) => s.includes(`type="${type}"`))
        .reduce((n, s) => n + Number(s.split(' ').at(-1)), 0);
    const total = (await reported()).total;
    expect(sum('prompt')).toBe(total.promptTokens);
    expect(sum('completion')).toBe(total.completionTokens);
    expect(sum('cached')).toBe(total.cachedTokens);
  });
});
