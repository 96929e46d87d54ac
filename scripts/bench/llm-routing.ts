/**
 * bench:llm's routing comparison: the same conversations through the pool with one routing
 * strategy, streamed in real time on fresh servers, for the prefix-cache hit rate and the time to
 * first token users see.
 */
import { LlmPool, type RoutingStrategy } from '@agent-fleet/llm';
import { startSims, sum } from './llm-sims.ts';
import { converse, type TurnSender, type Workload } from './llm-workload.ts';
import { percentile } from './stack.ts';

export interface RoutingResult {
  strategy: RoutingStrategy;
  hitRate: number;
  meanTtftMs: number;
  p95TtftMs: number;
}

export async function routingRun(
  strategy: RoutingStrategy,
  servers: number,
  workload: Workload,
  onTurn: () => void,
): Promise<RoutingResult> {
  const fleet = await startSims(servers, { SIM_TIME_SCALE: '1' });
  try {
    const pool = new LlmPool({
      servers: fleet.urls,
      apiKey: 'bench',
      model: 'fleet-sim',
      routing: strategy,
      healthIntervalMs: 1000,
      requestTimeoutMs: 120_000,
    });
    const send: TurnSender = async (_conversation, req) => {
      const started = performance.now();
      let ttftMs: number | undefined;
      for await (const ev of pool.chatStream(req)) {
        if (ev.type === 'delta' && ttftMs === undefined) ttftMs = performance.now() - started;
        if (ev.type === 'done') {
          return { content: ev.result.content, completionTokens: ev.result.completionTokens, ttftMs };
        }
      }
      throw new Error('the stream ended without a result');
    };
    const ttfts: number[] = [];
    await converse(workload, send, (reply) => {
      if (reply.ttftMs !== undefined) ttfts.push(reply.ttftMs);
      onTurn();
    });
    pool.close();
    const servers = await fleet.counters();
    const queries = sum(servers.map((c) => c.prefixCacheQueries));
    return {
      strategy,
      hitRate: queries > 0 ? sum(servers.map((c) => c.prefixCacheHits)) / queries : 0,
      meanTtftMs: ttfts.reduce((a, b) => a + b, 0) / ttfts.length,
      p95TtftMs: percentile(ttfts, 0.95),
    };
  } finally {
    await fleet.stop();
  }
}
