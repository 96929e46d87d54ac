/**
 * Simulated vLLM servers for bench:llm: started fresh for each measured run (empty prefix cache,
 * counters at zero), read through their vLLM metrics and `/sim/*` endpoints.
 */
import { join } from 'node:path';
import { spawnService } from '@agent-fleet/devstack';
import { sumMetric } from '@agent-fleet/llm';
import { writeAnswerScript } from './llm-workload.ts';
import { ROOT, SCRIPTS } from './stack.ts';

/** The engine constants a client needs: the batch size to fill and the decode ceiling. */
export interface SimEngine {
  maxNumSeqs: number;
  /** Output tokens/s of one server at its best batch size, decode only (modelled time). */
  maxGenerationTokensPerSecond: number;
}

/** What the servers of one run did, summed over them (their counters start at zero). */
export interface SimTotals {
  prefixCacheQueries: number;
  prefixCacheHits: number;
  /** Prompt tokens the engines computed (not served from the prefix cache), preemptions included. */
  promptTokensComputed: number;
  preemptions: number;
}

export interface SimFleet {
  urls: string[];
  engine: SimEngine;
  totals(): Promise<SimTotals>;
  /** Requests running (in the batch) and waiting inside each server now. */
  load(): Promise<{ running: number; waiting: number }[]>;
  stop(): Promise<void>;
}

const origin = (url: string) => url.replace(/\/v1$/, '');

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Starts `n` simulator processes in `script` mode (every answer is the bench's), `env` on top. */
export async function startSims(n: number, env: Record<string, string>): Promise<SimFleet> {
  const script = writeAnswerScript();
  const sims = Array.from({ length: n }, (_, i) =>
    spawnService({
      name: `llm-sim-${i}`,
      script: SCRIPTS.llmSim,
      env: { PATH: process.env.PATH, SIM_PORT: '0', SIM_MODE: 'script', SIM_SCRIPT_FILE: script, ...env },
      readyEvent: 'listening',
      logFile: join(ROOT, '.fleet', 'bench-logs', `llm-sim-${i}.log`),
    }),
  );
  const stop = () => Promise.all(sims.map((s) => s.stop())).then(() => undefined);
  try {
    const urls = (await Promise.all(sims.map((s) => s.ready))).map((info) => info!.url);
    const { config, capacity } = await getJson<{
      config: { maxNumSeqs: number };
      capacity: { maxGenerationTokensPerSecond: number };
    }>(`${origin(urls[0]!)}/sim/engine`);
    return {
      urls,
      engine: {
        maxNumSeqs: config.maxNumSeqs,
        maxGenerationTokensPerSecond: capacity.maxGenerationTokensPerSecond,
      },
      totals: () => totals(urls),
      load: () => load(urls),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function totals(urls: string[]): Promise<SimTotals> {
  const each = await Promise.all(
    urls.map(async (u) => {
      const metrics = await (await fetch(`${origin(u)}/metrics`)).text();
      const stats = await getJson<{ engine: { promptTokensComputed: number } }>(`${origin(u)}/sim/stats`);
      return {
        prefixCacheQueries: sumMetric(metrics, 'vllm:prefix_cache_queries_total') ?? 0,
        prefixCacheHits: sumMetric(metrics, 'vllm:prefix_cache_hits_total') ?? 0,
        promptTokensComputed: stats.engine.promptTokensComputed,
        preemptions: sumMetric(metrics, 'vllm:num_preemptions_total') ?? 0,
      };
    }),
  );
  return {
    prefixCacheQueries: sum(each.map((e) => e.prefixCacheQueries)),
    prefixCacheHits: sum(each.map((e) => e.prefixCacheHits)),
    promptTokensComputed: sum(each.map((e) => e.promptTokensComputed)),
    preemptions: sum(each.map((e) => e.preemptions)),
  };
}

function load(urls: string[]): Promise<{ running: number; waiting: number }[]> {
  return Promise.all(
    urls.map(async (u) => {
      const stats = await getJson<{ engine: { running: number; waiting: number; arriving: number } }>(
        `${origin(u)}/sim/stats`,
      );
      return { running: stats.engine.running, waiting: stats.engine.waiting + stats.engine.arriving };
    }),
  );
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
