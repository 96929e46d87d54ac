import type { LoggedRequest, SimStats } from '@agent-fleet/llm-sim';

/**
 * The simulator's admin routes (`/sim/*`, beside its OpenAI API at `sim.url`). `sim.url` is read at
 * each call, so the simulator may be one a `beforeAll` starts later.
 */
export function simAdmin(sim: { readonly url: string }) {
  const root = () => sim.url.replace(/\/v1$/, '');
  return {
    /** `PUT /sim/config`: a partial update of the fault knobs. */
    config: (patch: Record<string, unknown>) =>
      fetch(`${root()}/sim/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(patch),
      }),
    /** `PUT /sim/script`: the answers of script mode, in order, for the requests they match. */
    script: (fixtures: unknown[]) =>
      fetch(`${root()}/sim/script`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(fixtures),
      }),
    /** `GET /sim/stats`: the request counters and the usage the simulator reported. */
    stats: async () => (await (await fetch(`${root()}/sim/stats`)).json()) as SimStats,
    /** `POST /sim/stats/reset`: zeroes the counters and empties the request log. */
    resetStats: () => fetch(`${root()}/sim/stats/reset`, { method: 'POST' }),
    /** `GET /sim/requests`: the latest chat requests whose messages contain `contains`. */
    requestsContaining: async (contains: string) =>
      (
        (await (await fetch(`${root()}/sim/requests?contains=${encodeURIComponent(contains)}`)).json()) as {
          requests: LoggedRequest[];
        }
      ).requests,
  };
}
