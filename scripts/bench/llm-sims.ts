/**
 * Simulated vLLM servers for bench:llm: started fresh for each measured run (empty prefix cache,
 * counters at zero), read through `/sim/stats`.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnService } from '@agent-fleet/devstack';
import { writeAnswerScript } from './llm-workload.ts';
import { ROOT, SCRIPTS } from './stack.ts';

/** The engine constants a client needs: the batch size to fill and the decode ceiling. */
export interface SimEngine {
  maxNumSeqs: number;
  /** Output tokens/s of one server at its best batch size, decode only (modelled time). */
  maxGenerationTokensPerSecond: number;
  /** Modelled ms per prompt token computed. */
  prefillMsPerToken: number;
}

/** One server's engine counters (cumulative since it started; `/sim/stats`). */
export interface EngineCounters {
  prefixCacheQueries: number;
  prefixCacheHits: number;
  /** Prompt tokens the engine computed (not served from the prefix cache), recomputation included. */
  promptTokensComputed: number;
  generationTokens: number;
  preemptions: number;
  /** Modelled ms the engine has run, without time lost to a host too busy to keep its timeline. */
  modelledMs: number;
  running: number;
  /** Requests inside the server not in its batch: in the scheduler's queue or still arriving. */
  waiting: number;
}

export interface SimFleet {
  urls: string[];
  engine: SimEngine;
  /** Each server's counters now. */
  counters(): Promise<EngineCounters[]>;
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
      config: { maxNumSeqs: number; prefillMsPerToken: number };
      capacity: { maxGenerationTokensPerSecond: number };
    }>(`${origin(urls[0]!)}/sim/engine`);
    return {
      urls,
      engine: {
        maxNumSeqs: config.maxNumSeqs,
        maxGenerationTokensPerSecond: capacity.maxGenerationTokensPerSecond,
        prefillMsPerToken: config.prefillMsPerToken,
      },
      counters: () => Promise.all(urls.map(counters)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function counters(url: string): Promise<EngineCounters> {
  const { engine } = await getJson<{ engine: EngineCounters & { arriving: number } }>(
    `${origin(url)}/sim/stats`,
  );
  return {
    prefixCacheQueries: engine.prefixCacheQueries,
    prefixCacheHits: engine.prefixCacheHits,
    promptTokensComputed: engine.promptTokensComputed,
    generationTokens: engine.generationTokens,
    preemptions: engine.preemptions,
    modelledMs: engine.modelledMs,
    running: engine.running,
    waiting: engine.waiting + engine.arriving,
  };
}

const SAMPLE_MS = 250;

/**
 * Samples the servers' batches every SAMPLE_MS, one reading at a time, until stopped; `stop` returns
 * the means per server, or throws what made a reading fail (sampling ends there, never unhandled).
 */
export function sampleLoad(fleet: SimFleet): {
  stop(): Promise<{ meanRunning: number; meanWaiting: number }>;
} {
  const running: number[] = [];
  const waiting: number[] = [];
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    for (await sleep(SAMPLE_MS); !stopped; await sleep(SAMPLE_MS)) {
      const servers = await fleet.counters();
      running.push(sum(servers.map((s) => s.running)) / servers.length);
      waiting.push(sum(servers.map((s) => s.waiting)) / servers.length);
    }
  })().catch((err: unknown) => {
    failure = err;
  });
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failure) throw failure;
      const mean = (xs: number[]) => (xs.length > 0 ? sum(xs) / xs.length : 0);
      return { meanRunning: mean(running), meanWaiting: mean(waiting) };
    },
  };
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
