/**
 * One saturation run of bench:llm: the workload's conversations, all at once with a backlog, sent
 * by one client (the pool, or the direct reference) to simulated servers started for this run
 * alone, so no run inherits another's prefix cache or counters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LlmPool } from '@agent-fleet/llm';
import { DirectClient } from './direct-client.ts';
import { type EngineCounters, type SimFleet, startSims, sum } from './llm-sims.ts';
import { converse, type TurnSender, type Workload } from './llm-workload.ts';

export type SaturationClient = 'pool' | 'direct';

export interface SaturationOptions {
  servers: number;
  timeScale: number;
  workload: Workload;
  /** Told after every answered turn. */
  onTurn: () => void;
}

/** How a client kept the servers busy, for the breakdown of the gap between the two. */
export interface ClientStats {
  /** Turns that waited for a slot (pool: queued; direct: found the server's batch full). */
  queued: number;
  /** Their total wait, in wall-clock ms. */
  queuedMs: number;
  /**
   * Turns answered by another server than their conversation's previous turn, which finds none of
   * the conversation's history in its prefix cache (always 0 for direct, which pins conversations).
   */
  moved: number;
  /** Pool only: turns that needed more than one attempt. */
  retried: number;
}

/** What the servers did during the run, summed over them. */
export interface ServerTotals {
  prefixCacheQueries: number;
  prefixCacheHits: number;
  promptTokensComputed: number;
  preemptions: number;
}

export interface SaturationResult {
  client: SaturationClient;
  turns: number;
  wallSeconds: number;
  /**
   * Generation tokens/s in the servers' modelled time: each server's tokens over its modelled
   * time (steps and idle spells, not the time a loaded host made it lose), summed over servers.
   */
  achieved: number;
  /** The old measure: tokens the client received over the run's wall time × time scale. */
  achievedWallClock: number;
  /** The servers' decode ceiling (batch-256 peak), modelled time. */
  maximum: number;
  servers: ServerTotals;
  /** Mean sequences in each server's running batch, sampled while the run lasted. */
  meanRunning: number;
  /** Mean requests inside each server not (yet) in its batch, sampled likewise. */
  meanWaiting: number;
  stats: ClientStats;
}

const SAMPLE_MS = 250;

export async function saturationRun(
  client: SaturationClient,
  opts: SaturationOptions,
): Promise<SaturationResult> {
  const fleet = await startSims(opts.servers, { SIM_TIME_SCALE: String(opts.timeScale) });
  try {
    const stats: ClientStats = { queued: 0, queuedMs: 0, moved: 0, retried: 0 };
    const { send, close } = client === 'pool' ? poolSender(fleet, stats) : directSender(fleet, stats);
    const before = await fleet.counters();
    const sampler = sampleLoad(fleet);
    let tokens = 0;
    let turns = 0;
    const started = performance.now();
    try {
      await converse(opts.workload, send, (reply) => {
        tokens += reply.completionTokens;
        turns++;
        opts.onTurn();
      });
    } finally {
      close();
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const after = await fleet.counters();
    const load = await sampler.stop();
    return {
      client,
      turns,
      wallSeconds,
      achieved: modelledRate(before, after),
      achievedWallClock: (tokens / wallSeconds) * opts.timeScale,
      maximum: fleet.engine.maxGenerationTokensPerSecond * opts.servers,
      servers: totals(before, after),
      ...load,
      stats,
    };
  } finally {
    await fleet.stop();
  }
}

/** The pool as a worker runs it: session routing, one slot per batch seat, interactive turns. */
function poolSender(fleet: SimFleet, stats: ClientStats): { send: TurnSender; close: () => void } {
  const pool = new LlmPool({
    servers: fleet.urls,
    apiKey: 'bench',
    model: 'fleet-sim',
    routing: 'session',
    maxInFlightPerServer: fleet.engine.maxNumSeqs,
    healthIntervalMs: 1000,
    requestTimeoutMs: 600_000,
    queueTimeoutMs: 600_000,
  });
  const lastServer = new Map<number, string>();
  const send: TurnSender = async (conversation, req) => {
    const res = await pool.chat({
      ...req,
      onWait: (ev) => {
        if (ev.type !== 'admitted') return;
        stats.queued++;
        stats.queuedMs += ev.waitedMs;
      },
    });
    const last = lastServer.get(conversation);
    if (last !== undefined && last !== res.server) stats.moved++;
    lastServer.set(conversation, res.server);
    if (res.attempts > 1) stats.retried++;
    return { content: res.content, completionTokens: res.completionTokens };
  };
  return { send, close: () => pool.close() };
}

function directSender(fleet: SimFleet, stats: ClientStats): { send: TurnSender; close: () => void } {
  const direct = new DirectClient({
    urls: fleet.urls,
    model: 'fleet-sim',
    maxInFlightPerServer: fleet.engine.maxNumSeqs,
  });
  const send: TurnSender = (conversation, req) =>
    direct.chat(conversation, req, (waitedMs) => {
      stats.queued++;
      stats.queuedMs += waitedMs;
    });
  return { send, close: () => {} };
}

/** Σ over servers of generation tokens ÷ modelled seconds between the two readings. */
function modelledRate(before: EngineCounters[], after: EngineCounters[]): number {
  return sum(
    after.map((a, i) => {
      const b = before[i]!;
      return ((a.generationTokens - b.generationTokens) * 1000) / (a.modelledMs - b.modelledMs);
    }),
  );
}

function totals(before: EngineCounters[], after: EngineCounters[]): ServerTotals {
  const delta = (f: (c: EngineCounters) => number) => sum(after.map(f)) - sum(before.map(f));
  return {
    prefixCacheQueries: delta((c) => c.prefixCacheQueries),
    prefixCacheHits: delta((c) => c.prefixCacheHits),
    promptTokensComputed: delta((c) => c.promptTokensComputed),
    preemptions: delta((c) => c.preemptions),
  };
}

/**
 * Samples the servers' batches every SAMPLE_MS, one reading at a time, until stopped; `stop` returns
 * the means per server, or throws what made a reading fail (sampling ends there, never unhandled).
 */
function sampleLoad(fleet: SimFleet): { stop(): Promise<{ meanRunning: number; meanWaiting: number }> } {
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
