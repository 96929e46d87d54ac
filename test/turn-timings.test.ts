import { TURN_STAGES, type TurnTimings } from '@agent-fleet/core';
import { freePort } from '@agent-fleet/devstack';
import { describe, expect, it } from 'vitest';
import { postMessage, type TurnView, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * A turn explains where its time went: the worker puts its stage timings on the turn record, which
 * GET /v1/turns/:id returns, and observes them in its histograms. Real worker and gateway
 * processes, Redis, Postgres and the simulator over HTTP, in modelled time (so model calls last).
 */
describe('turn timings (real processes, Redis, Postgres and simulator)', () => {
  let metricsUrl: string;
  const { sim, fleet } = useSimFleet({
    // Modelled time, as the defaults have it: model calls last.
    sim: { mode: 'script', engine: { timeScale: 1 } },
    workers: 1,
    env: async () => {
      const port = await freePort();
      metricsUrl = `http://127.0.0.1:${port}/metrics`;
      return { LOG_LEVEL: 'warn', WORKER_METRICS_PORT: String(port) };
    },
    untilWorkersReady: true,
  });

  it('a turn with a tool call reports every stage, each call, and stages that fit in accepted -> committed', async () => {
    await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/script`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { match: { user: 'timed' }, reply: { tool_calls: [{ name: 'recall_notes', arguments: {} }] } },
        { match: { user: 'timed' }, reply: 'No notes yet, so here is a short answer in a few words.' },
      ]),
    });
    const sent = await postMessage(fleet.gatewayUrl, 'timed', 'what did I note?');
    let turn: TurnView & { enqueuedAt?: string; completedAt?: string; timings?: TurnTimings } = {
      status: 'queued',
    };
    let seenAt = 0;
    // The timings are written right after the commit, before the done event.
    await waitFor(
      async () => {
        turn = (await (await fetch(`${fleet.gatewayUrl}/v1/turns/${sent.turnId}`)).json()) as typeof turn;
        seenAt = Date.now();
        return turn.timings !== undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20, describe: () => JSON.stringify(turn) },
    );
    expect(turn.status).toBe('completed');
    const t = turn.timings!;
    expect(Object.keys(t.stages)).toEqual([...TURN_STAGES]);
    for (const stage of TURN_STAGES) expect(t.stages[stage], stage).toBeGreaterThanOrEqual(0);
    // Each of these took at least a round trip to a real server.
    for (const stage of ['gate', 'load', 'model', 'tool', 'checkpoint', 'record', 'commit'] as const)
      expect(t.stages[stage], stage).toBeGreaterThan(0);

    // Two model calls: the tool call streamed no text, the answer streamed its tokens.
    expect(t.models).toHaveLength(2);
    expect(t.models[0]!.firstTokenMs).toBeGreaterThan(0);
    expect(t.models[0]!.generationMs).toBe(0);
    expect(t.models[1]!.firstTokenMs).toBeGreaterThan(0);
    expect(t.models[1]!.generationMs).toBeGreaterThan(0);
    expect(t.stages.model).toBeCloseTo(sum(t.models.map((m) => m.firstTokenMs + m.generationMs)), 1);
    expect(t.tools.map((c) => c.name)).toEqual(['recall_notes']);
    expect(t.stages.tool).toBeCloseTo(t.tools[0]!.ms, 1);
    // model, tool, model: a checkpoint each.
    expect(t.checkpoints).toHaveLength(3);
    expect(t.stages.checkpoint).toBeCloseTo(sum(t.checkpoints), 1);

    // The stages run one after another within accepted -> committed, itself within what the client saw.
    const enqueuedAt = Date.parse(turn.enqueuedAt!);
    expect(sum(Object.values(t.stages))).toBeLessThanOrEqual(t.totalMs + 1);
    expect(Date.parse(turn.completedAt!) - enqueuedAt).toBeLessThanOrEqual(t.totalMs + 1);
    expect(t.totalMs).toBeLessThanOrEqual(seenAt - enqueuedAt);

    const metrics = await (await fetch(metricsUrl)).text();
    for (const stage of ['queue', 'gate', 'load', 'model', 'tool', 'checkpoint', 'record', 'commit'])
      expect(metrics).toMatch(
        new RegExp(`fleet_worker_turn_stage_seconds_count\\{stage="${stage}"\\} [1-9]`),
      );
    for (const part of ['first_token', 'generation'])
      expect(metrics).toMatch(new RegExp(`fleet_worker_model_call_seconds_count\\{part="${part}"\\} 2`));
  });
});
