/**
 * One saturation run of bench:llm: the workload's conversations, all at once with a backlog, sent
 * by one client (the pool, or the direct reference) to simulated servers started for this run
 * alone, so no run inherits another's prefix cache or counters.
 */
import { HashRing, LlmPool } from '@agent-fleet/llm';
import { DirectClient } from './direct-client.ts';
import { type SimFleet, type SimTotals, startSims, sum } from './llm-sims.ts';
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
  /** Pool only: turns answered by a server other than their ring home (0 for direct). */
  offHome: number;
  /** Pool only: turns that needed more than one attempt. */
  retried: number;
}

export interface SaturationResult {
  client: SaturationClient;
  turns: number;
  tokens: number;
  wallSeconds: number;
  /** Generation tokens/s in modelled time. */
  achieved: number;
  /** The servers' decode ceiling (batch-256 peak), modelled time. */
  maximum: number;
  sims: SimTotals;
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
    const stats: ClientStats = { queued: 0, queuedMs: 0, offHome: 0, retried: 0 };
    const { send, close } = client === 'pool' ? poolSender(fleet, stats) : directSender(fleet, stats);
    const sampler = sampleLoad(fleet);
    let tokens = 0;
    let turns = 0;
    const started = performance.now();
    await converse(opts.workload, send, (reply) => {
      tokens += reply.completionTokens;
      turns++;
      opts.onTurn();
    });
    const wallSeconds = (performance.now() - started) / 1000;
    const load = await sampler.stop();
    close();
    return {
      client,
      turns,
      tokens,
      wallSeconds,
      achieved: (tokens / wallSeconds) * opts.timeScale,
      maximum: fleet.engine.maxGenerationTokensPerSecond * opts.servers,
      sims: await fleet.totals(),
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
  const ring = new HashRing(fleet.urls);
  const send: TurnSender = async (_conversation, req) => {
    const res = await pool.chat({
      ...req,
      onWait: (ev) => {
        if (ev.type !== 'admitted') return;
        stats.queued++;
        stats.queuedMs += ev.waitedMs;
      },
    });
    if (res.server !== fleet.urls[ring.order(req.userId)[0]!]) stats.offHome++;
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

/** Samples the servers' batches every SAMPLE_MS until stopped; returns the means per server. */
function sampleLoad(fleet: SimFleet): { stop(): Promise<{ meanRunning: number; meanWaiting: number }> } {
  const running: number[] = [];
  const waiting: number[] = [];
  let sampling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    sampling = fleet.load().then((servers) => {
      running.push(sum(servers.map((s) => s.running)) / servers.length);
      waiting.push(sum(servers.map((s) => s.waiting)) / servers.length);
    });
  }, SAMPLE_MS);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      const mean = (xs: number[]) => (xs.length > 0 ? sum(xs) / xs.length : 0);
      return { meanRunning: mean(running), meanWaiting: mean(waiting) };
    },
  };
}
