/**
 * One saturation run of bench:llm: the workload's conversations, all at once with a backlog, sent
 * by one client (the pool, or the direct reference) to simulated servers started for this run
 * alone, so no run inherits another's prefix cache or counters.
 */
import { HashRing, LlmPool } from '@agent-fleet/llm';
import { DirectClient } from './direct-client.ts';
import { type EngineCounters, type SimFleet, sampleLoad, startSims, sum } from './llm-sims.ts';
import { converse, type TurnSender, userIdOf, type Workload } from './llm-workload.ts';

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
  /** Conversations whose first choice each server is (pool: ring home; direct: pinned). */
  conversationsPerServer: number[];
  /** CPU time of the bench process while the run lasted (the client's work per turn, mostly). */
  cpuMs: number;
}

/** What the servers did during the run, summed over them. */
export interface ServerTotals {
  prefixCacheQueries: number;
  prefixCacheHits: number;
  promptTokensComputed: number;
  preemptions: number;
  /** Modelled ms of the engines spent computing prompt tokens. */
  prefillMs: number;
  /** Modelled ms the engines ran (steps and idle), summed over servers. */
  modelledMs: number;
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

export async function saturationRun(
  client: SaturationClient,
  opts: SaturationOptions,
): Promise<SaturationResult> {
  const fleet = await startSims(opts.servers, { SIM_TIME_SCALE: String(opts.timeScale) });
  try {
    const stats: ClientStats = {
      queued: 0,
      queuedMs: 0,
      moved: 0,
      retried: 0,
      conversationsPerServer: [],
      cpuMs: 0,
    };
    const { send, close } = SENDERS[client](fleet, stats, opts.workload);
    const before = await fleet.counters();
    const sampler = sampleLoad(fleet);
    let tokens = 0;
    let turns = 0;
    const started = performance.now();
    const cpu = process.cpuUsage();
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
    const used = process.cpuUsage(cpu);
    stats.cpuMs = (used.user + used.system) / 1000;
    const after = await fleet.counters();
    const load = await sampler.stop();
    return {
      client,
      turns,
      wallSeconds,
      achieved: modelledRate(before, after),
      achievedWallClock: (tokens / wallSeconds) * opts.timeScale,
      maximum: fleet.engine.maxGenerationTokensPerSecond * opts.servers,
      servers: totals(before, after, fleet.engine.prefillMsPerToken),
      ...load,
      stats,
    };
  } finally {
    await fleet.stop();
  }
}

/** A client sending the workload's turns to the fleet, counting what it did into `stats`. */
interface Sender {
  send: TurnSender;
  close(): void;
}

/** The pool as a worker runs it: session routing, one slot per batch seat, interactive turns. */
function poolSender(fleet: SimFleet, stats: ClientStats, workload: Workload): Sender {
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
  stats.conversationsPerServer = countBy(fleet.urls.length, workload, (c) => ring.order(userIdOf(c))[0]!);
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

/** The reference: each conversation pinned to one server, up to a batch of requests in flight each. */
function directSender(fleet: SimFleet, stats: ClientStats, workload: Workload): Sender {
  const direct = new DirectClient({
    urls: fleet.urls,
    model: 'fleet-sim',
    maxInFlightPerServer: fleet.engine.maxNumSeqs,
  });
  stats.conversationsPerServer = countBy(fleet.urls.length, workload, (c) => direct.serverOf(c));
  const send: TurnSender = (conversation, req) =>
    direct.chat(conversation, req, (waitedMs) => {
      stats.queued++;
      stats.queuedMs += waitedMs;
    });
  return { send, close: () => {} };
}

const SENDERS: Record<SaturationClient, typeof poolSender> = { pool: poolSender, direct: directSender };

/** Σ over servers of generation tokens ÷ modelled seconds between the two readings. */
function modelledRate(before: EngineCounters[], after: EngineCounters[]): number {
  return sum(
    after.map((a, i) => {
      const b = before[i]!;
      return ((a.generationTokens - b.generationTokens) * 1000) / (a.modelledMs - b.modelledMs);
    }),
  );
}

function totals(before: EngineCounters[], after: EngineCounters[], prefillMsPerToken: number): ServerTotals {
  const delta = (f: (c: EngineCounters) => number) => sum(after.map(f)) - sum(before.map(f));
  const promptTokensComputed = delta((c) => c.promptTokensComputed);
  return {
    prefixCacheQueries: delta((c) => c.prefixCacheQueries),
    prefixCacheHits: delta((c) => c.prefixCacheHits),
    promptTokensComputed,
    preemptions: delta((c) => c.preemptions),
    prefillMs: promptTokensComputed * prefillMsPerToken,
    modelledMs: delta((c) => c.modelledMs),
  };
}

/** How many of the workload's conversations `serverOf` sends to each of `n` servers first. */
function countBy(n: number, workload: Workload, serverOf: (conversation: number) => number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (let c = 0; c < workload.conversations; c++) counts[serverOf(c)]!++;
  return counts;
}
