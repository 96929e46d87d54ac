import { describe, expect, it } from 'vitest';
import { postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { useSimProcessFleet } from './support/sim-fleet.ts';
import { freePort } from './support/sim-process.ts';

async function readiness(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe('every LLM server down: readiness says so, and recovers with them', () => {
  let workerPort: number;
  const { sim, fleet } = useSimProcessFleet({
    workers: 1,
    env: async () => {
      workerPort = await freePort();
      return { LLM_HEALTH_INTERVAL_MS: '200', WORKER_METRICS_PORT: String(workerPort) };
    },
    untilWorkersReady: true,
  });

  it('gateway and worker /readyz answer 503 naming the llm check while the simulator is dead, 200 once it is back', async () => {
    const gateway = `${fleet.gatewayUrl}/readyz`;
    const worker = `http://127.0.0.1:${workerPort}/readyz`;
    const bothAre = (status: number) => async () =>
      (await readiness(gateway)).status === status && (await readiness(worker)).status === status;
    expect(await readiness(gateway)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { redis: 'ok', postgres: 'ok', llm: 'ok' } },
    });
    expect(await readiness(worker)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { llm: 'ok' } },
    });
    expect(await readiness(`http://127.0.0.1:${workerPort}/healthz`)).toEqual({
      status: 200,
      body: { status: 'ok' },
    });

    await sim.kill();
    await waitFor(bothAre(503), { timeoutMs: 15_000, intervalMs: 100 });
    const down = 'down: no LLM server is healthy (0 of 1)';
    expect(await readiness(gateway)).toEqual({
      status: 503,
      body: { status: 'not ready', checks: { redis: 'ok', postgres: 'ok', llm: down } },
    });
    expect(await readiness(worker)).toEqual({
      status: 503,
      body: { status: 'not ready', checks: { llm: down } },
    });
    // The Kubernetes readiness probe leaves the LLM out: the gateway stays in its Service.
    expect(await readiness(`${gateway}?exclude=llm`)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { redis: 'ok', postgres: 'ok', llm: `${down} (excluded)` } },
    });
    expect((await readiness(`${gateway}?exclude=llm,gpu`)).status).toBe(400);

    await sim.restart();
    await waitFor(bothAre(200), { timeoutMs: 15_000, intervalMs: 100 });
    const { turnId } = await postMessage(fleet.gatewayUrl, 'alice', 'are you back?');
    expect(await settledTurn(fleet.gatewayUrl, turnId)).toMatchObject({
      status: 'completed',
      reply: expect.stringMatching(/^Echo \[n=\d+\]: are you back\?$/),
    });
  });
});
