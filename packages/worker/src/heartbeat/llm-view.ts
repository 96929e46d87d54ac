import { CIRCUIT_STATES, type LlmServerView } from '@agent-fleet/core';
import type { PoolMetrics } from '@agent-fleet/llm';
import { WindowedCounters } from './windowed-counters.ts';

/** The per-server numbers a view reads from a pool's metrics. */
type Counted =
  | 'requests'
  | 'errors'
  | 'ttftSeconds'
  | 'ttftCount'
  | 'promptTokens'
  | 'cachedTokens'
  | 'completionTokens';

/** Attempts that failed: tried again elsewhere, or given up. */
const FAILED_OUTCOMES = new Set(['retry', 'error']);

/**
 * One worker's pool, server by server, read from the pool's own metrics (the numbers its /metrics
 * exports): in flight, circuit state and the server's scraped queue and KV-cache use now; requests,
 * failed attempts, time to first token and tokens over the last `windowMs`.
 */
export class LlmServerWindow {
  readonly #metrics: PoolMetrics;
  readonly #servers: readonly string[];
  readonly #window: WindowedCounters;

  constructor(opts: { metrics: PoolMetrics; servers: readonly string[]; windowMs: number }) {
    this.#metrics = opts.metrics;
    this.#servers = opts.servers;
    this.#window = new WindowedCounters(opts.windowMs);
  }

  async read(at: number): Promise<LlmServerView[]> {
    const m = this.#metrics;
    const [inFlight, breaker, waiting, kv] = await Promise.all(
      [m.inFlight, m.breaker, m.serverWaiting, m.serverKvUsage].map((g) => byServer(g.get())),
    );
    this.#window.sample(at, await this.#counters());
    const gained = this.#window.gained();
    return this.#servers.map((server) => {
      const n = (what: Counted) => gained.get(`${server}\u0000${what}`) ?? 0;
      return {
        server,
        inFlight: inFlight!.get(server) ?? 0,
        circuit: CIRCUIT_STATES[breaker!.get(server) ?? 0] ?? 'closed',
        serverWaiting: waiting!.get(server) ?? 0,
        kvCacheUsage: kv!.get(server) ?? 0,
        requests: n('requests'),
        errors: n('errors'),
        ttftSeconds: n('ttftSeconds'),
        ttftCount: n('ttftCount'),
        promptTokens: n('promptTokens'),
        cachedTokens: n('cachedTokens'),
        completionTokens: n('completionTokens'),
      };
    });
  }

  /** Every cumulative number per server, keyed `server\0what`. */
  async #counters(): Promise<Map<string, number>> {
    const m = this.#metrics;
    const out = new Map<string, number>();
    const add = (server: unknown, what: Counted, value: number) => {
      const key = `${String(server)}\u0000${what}`;
      out.set(key, (out.get(key) ?? 0) + value);
    };
    for (const v of (await m.requests.get()).values) {
      add(v.labels.server, 'requests', v.value);
      if (FAILED_OUTCOMES.has(String(v.labels.outcome))) add(v.labels.server, 'errors', v.value);
    }
    for (const v of (await m.ttft.get()).values) {
      const name = (v as { metricName?: string }).metricName ?? '';
      if (name.endsWith('_sum')) add(v.labels.server, 'ttftSeconds', v.value);
      else if (name.endsWith('_count')) add(v.labels.server, 'ttftCount', v.value);
    }
    const kinds = { prompt: 'promptTokens', cached: 'cachedTokens', completion: 'completionTokens' } as const;
    for (const v of (await m.tokens.get()).values) {
      const what = kinds[String(v.labels.kind) as keyof typeof kinds];
      if (what) add(v.labels.server, what, v.value);
    }
    return out;
  }
}

async function byServer(
  values: Promise<{ values: { labels: Record<string, unknown>; value: number }[] }>,
): Promise<Map<string, number>> {
  return new Map((await values).values.map((v) => [String(v.labels.server), v.value]));
}
