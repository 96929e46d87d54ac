/** What bench:llm prints: the saturation figures of both clients side by side, then routing. */
import type { RoutingResult } from './llm-routing.ts';
import type { SaturationClient, SaturationResult } from './llm-saturation.ts';

/** The aim for pool throughput ÷ direct throughput (issue 15). */
export const POOL_DIRECT_AIM = 0.95;

interface SaturationSetup {
  servers: number;
  users: number;
  turns: number;
  timeScale: number;
}

interface RoutingSetup {
  routingServers: number;
  routingUsers: number;
  routingTurns: number;
}

/** One client's runs summed: throughput over all its tokens and all its wall time. */
export interface ClientSummary {
  achieved: number;
  achievedWallClock: number;
  hitRate: number;
  computedPerTurn: number;
  meanRunning: number;
  meanWaiting: number;
  queuedShare: number;
  meanQueuedMs: number;
  movedShare: number;
  retried: number;
  preemptions: number;
  maximum: number;
}

const total = (runs: SaturationResult[], f: (r: SaturationResult) => number) =>
  runs.reduce((a, r) => a + f(r), 0);

export function summarise(runs: SaturationResult[]): ClientSummary {
  const turns = total(runs, (r) => r.turns);
  const queued = total(runs, (r) => r.stats.queued);
  return {
    achieved: total(runs, (r) => r.achieved) / runs.length,
    achievedWallClock: total(runs, (r) => r.achievedWallClock) / runs.length,
    hitRate: total(runs, (r) => r.servers.prefixCacheHits) / total(runs, (r) => r.servers.prefixCacheQueries),
    computedPerTurn: total(runs, (r) => r.servers.promptTokensComputed) / turns,
    meanRunning: total(runs, (r) => r.meanRunning) / runs.length,
    meanWaiting: total(runs, (r) => r.meanWaiting) / runs.length,
    queuedShare: queued / turns,
    meanQueuedMs: queued > 0 ? total(runs, (r) => r.stats.queuedMs) / queued : 0,
    movedShare: total(runs, (r) => r.stats.moved) / turns,
    retried: total(runs, (r) => r.stats.retried),
    preemptions: total(runs, (r) => r.servers.preemptions),
    maximum: runs[0]!.maximum,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const row = (label: string, pool: string, direct: string) =>
  console.log(`  ${label.padEnd(36)}${pool.padStart(12)}${direct.padStart(12)}`);

function printRounds(results: SaturationResult[]): void {
  const rounds = results.length / 2;
  for (let i = 0; i < rounds; i++) {
    const pair = results.slice(2 * i, 2 * i + 2);
    const of = (c: SaturationClient) => pair.find((r) => r.client === c)!;
    const label = `round ${i + 1} (${pair[0]!.client} first), tokens/s`;
    const ratio = of('pool').achieved / of('direct').achieved;
    row(label, of('pool').achieved.toFixed(0), of('direct').achieved.toFixed(0));
    console.log(`  ${''.padEnd(36)}${`pool / direct ${ratio.toFixed(3)}`.padStart(24)}`);
  }
}

export function printSaturation(results: SaturationResult[], setup: SaturationSetup): void {
  const pool = summarise(results.filter((r) => r.client === 'pool'));
  const direct = summarise(results.filter((r) => r.client === 'direct'));
  const seqs = results[0]!.maximum;
  console.log(
    `saturation: ${setup.users} conversations x ${setup.turns} turns on ${setup.servers} simulated vLLM servers ` +
      `(time scale ${setup.timeScale}), ${results.length / 2} rounds, fresh servers for every run`,
  );
  console.log('  pool:   LlmPool, session routing, in flight per server capped at max_num_seqs, interactive');
  console.log(
    `  direct: no pool; conversation c always on server c mod ${setup.servers}, up to max_num_seqs in flight per server`,
  );
  console.log(
    "          (a full batch queues the turn for that server's next free seat), same request bodies;",
  );
  console.log("          both send a conversation's next turn only after its previous answer");
  console.log('');
  row('', 'pool', 'direct');
  printRounds(results);
  row('generation, modelled tokens/s (mean)', pool.achieved.toFixed(0), direct.achieved.toFixed(0));
  row(
    '  wall clock x time scale (old measure)',
    pool.achievedWallClock.toFixed(0),
    direct.achievedWallClock.toFixed(0),
  );
  row('prefix-cache hit rate', pct(pool.hitRate), pct(direct.hitRate));
  row('prompt tokens computed per turn', pool.computedPerTurn.toFixed(0), direct.computedPerTurn.toFixed(0));
  row('mean running batch per server', pool.meanRunning.toFixed(1), direct.meanRunning.toFixed(1));
  row('mean waiting inside each server', pool.meanWaiting.toFixed(1), direct.meanWaiting.toFixed(1));
  row('turns queued in the client', pct(pool.queuedShare), pct(direct.queuedShare));
  row('  their mean wait (wall ms)', pool.meanQueuedMs.toFixed(0), direct.meanQueuedMs.toFixed(0));
  row('turns moved off their last server', pct(pool.movedShare), pct(direct.movedShare));
  row(
    'retried turns, preemptions',
    `${pool.retried}, ${pool.preemptions}`,
    `${direct.retried}, ${direct.preemptions}`,
  );
  console.log('');
  const ratio = pool.achieved / direct.achieved;
  console.log(`  pool / direct            ${ratio.toFixed(3)}   (aim >= ${POOL_DIRECT_AIM})`);
  console.log(
    `  pool / configured max    ${(pool.achieved / seqs).toFixed(3)}   (the old figure: ${seqs.toFixed(0)} tokens/s, ` +
      `${setup.servers} x the batch-256 decode-only peak)`,
  );
  console.log(`  direct / configured max  ${(direct.achieved / seqs).toFixed(3)}`);
}

export function printRouting(results: RoutingResult[], setup: RoutingSetup): void {
  console.log('');
  console.log(
    `routing: ${setup.routingUsers} conversations x ${setup.routingTurns} turns on ${setup.routingServers} servers, real time`,
  );
  console.log('  strategy      prefix-cache hit rate   TTFT mean   TTFT p95');
  for (const r of results) {
    console.log(
      `  ${r.strategy.padEnd(12)}  ${(r.hitRate * 100).toFixed(1).padStart(20)}%  ${r.meanTtftMs.toFixed(0).padStart(7)} ms  ${r.p95TtftMs.toFixed(0).padStart(6)} ms`,
    );
  }
  const [session, roundRobin] = results;
  if (session && roundRobin) {
    console.log(
      `  session / round-robin mean TTFT: ${(session.meanTtftMs / roundRobin.meanTtftMs).toFixed(2)} (aim <= 0.5)`,
    );
  }
}
