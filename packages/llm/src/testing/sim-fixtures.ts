import { type RunningSim, startSim } from '@agent-fleet/llm-sim';
import { afterEach, expect } from 'vitest';
import { HashRing } from '../hash-ring.ts';
import { LlmPool, type LlmPoolOptions } from '../pool.ts';

/**
 * Simulator servers over real HTTP and pools over them for one test file; everything started is
 * closed after each test. Simulators answer as soon as they schedule (timeScale 0) unless a test
 * slows them down.
 */
export function simFixtures() {
  const sims: RunningSim[] = [];
  const pools: LlmPool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) p.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  async function sim(opts: Parameters<typeof startSim>[0] = {}): Promise<RunningSim> {
    const s = await startSim({ ...opts, engine: { timeScale: 0, ...opts?.engine } });
    sims.push(s);
    return s;
  }
  function pool(servers: (RunningSim | string)[], opts: Partial<LlmPoolOptions> = {}): LlmPool {
    const p = new LlmPool({
      servers: servers.map((s) => (typeof s === 'string' ? s : s.url)),
      apiKey: 'k',
      model: 'fleet-sim',
      healthIntervalMs: 0,
      backoffBaseMs: 5,
      ...opts,
    });
    pools.push(p);
    return p;
  }
  return { sim, pool };
}

export const adminUrl = (s: RunningSim) => s.url.replace(/\/v1$/, '');

/** Inference requests the simulator has received (embeddings included). */
export async function requestsSeen(s: RunningSim): Promise<number> {
  return ((await (await fetch(`${adminUrl(s)}/sim/stats`)).json()) as { requests: number }).requests;
}

/** Turns the simulator's fault knobs (`PUT /sim/config`). */
export async function configure(s: RunningSim, patch: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${adminUrl(s)}/sim/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
  expect(res.status).toBe(200);
}

/** Kills the simulator (`POST /sim/die`): every socket is cut and it stops listening. */
export async function kill(s: RunningSim): Promise<void> {
  await fetch(`${adminUrl(s)}/sim/die`, { method: 'POST' });
  await s.died;
}

export const ask = (userId: string, text = 'hello') => ({
  userId,
  messages: [{ role: 'user' as const, content: text }],
});

/** A user id whose home server on the ring is `index`. */
export function userHomedAt(servers: RunningSim[], index: number): string {
  const ring = new HashRing(servers.map((s) => s.url));
  for (let i = 0; ; i++) if (ring.order(`user-${i}`)[0] === index) return `user-${i}`;
}
