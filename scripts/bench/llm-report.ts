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

/** One client's runs together: throughputs are means of runs, shares are over all their turns. */
export interface ClientSummary {
  achieved: number;
  achievedWallClock: number;
  hitRate: number;
  computedPerTurn: number;
  prefillShare: number;
  meanRunning: number;
  meanWaiting: number;
  queuedShare: number;
  meanQueuedMs: number;
  movedShare: number;
  retried: number;
  preemptions: number;
  cpuMsPerTurn: number;
}

const total = (runs: SaturationResult[], f: (r: SaturationResult) => number) =>
  runs.reduce((a, r) => a + f(r), 0);

export function summarise(runs: SaturationResult[]): ClientSummary {
  const turns = total(runs, (r) => r.turns);
  const queued = total(runs, (r) => r.stats.queued);
  const mean = (f: (r: SaturationResult) => number) => total(runs, f) / runs.length;
  return {
    achieved: mean((r) => r.achieved),
    achievedWallClock: mean((r) => r.achievedWallClock),
    hitRate: total(runs, (r) => r.servers.prefixCacheHits) / total(runs, (r) => r.servers.prefixCacheQueries),
    computedPerTurn: total(runs, (r) => r.servers.promptTokensComputed) / turns,
    prefillShare: total(runs, (r) => r.servers.prefillMs) / total(runs, (r) => r.servers.modelledMs),
    meanRunning: mean((r) => r.meanRunning),
    meanWaiting: mean((r) => r.meanWaiting),
    queuedShare: queued / turns,
    meanQueuedMs: queued > 0 ? total(runs, (r) => r.stats.queuedMs) / queued : 0,
    movedShare: total(runs, (r) => r.stats.moved) / turns,
    retried: total(runs, (r) => r.stats.retried),
    preemptions: total(runs, (r) => r.servers.preemptions),
    cpuMsPerTurn: total(runs, (r) => r.stats.cpuMs) / turns,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const row = (label: string, pool: string, direct: string, note = '') =>
  console.log(`  ${label.padEnd(40)}${pool.padStart(9)}${direct.padStart(9)}${note ? `   ${note}` : ''}`);

function printRounds(results: SaturationResult[]): void {
  for (let i = 0; i < results.length / 2; i++) {
    const pair = results.slice(2 * i, 2 * i + 2);
    const of = (c: SaturationClient) => pair.find((r) => r.client === c)!;
    const [pool, direct] = [of('pool'), of('direct')];
    row(
      `round ${i + 1} (${pair[0]!.client} first), tokens/s`,
      pool.achieved.toFixed(0),
      direct.achieved.toFixed(0),
      `ratio ${(pool.achieved / direct.achieved).toFixed(3)}, conversations per server: ` +
        `${pool.stats.conversationsPerServer.join('/')} (pool's ring homes), ` +
        `${direct.stats.conversationsPerServer.join('/')} (direct)`,
    );
  }
}

function printSetup(results: SaturationResult[], setup: SaturationSetup): void {
  console.log(
    `saturation: ${setup.users} conversations x ${setup.turns} turns on ${setup.servers} simulated vLLM servers ` +
      `(time scale ${setup.timeScale}), ${results.length / 2} rounds, fresh servers for every run`,
  );
  console.log(
    '  pool:   LlmPool as the worker runs it: session routing, in flight per server capped at max_num_seqs,',
  );
  console.log('          interactive priority, health checks every second, retries and breakers on');
  console.log(
    `  direct: no pool: conversation c always on server c mod ${setup.servers}, up to max_num_seqs in flight per ` +
      "server (a turn finding the batch full waits for that server's next answer), the pool's request bodies",
  );
  console.log("  both:   the same conversations; a conversation's next turn only after its previous answer");
  console.log(
    "  tokens/s in the servers' modelled time (engine steps and idle, not the time a loaded host lost)",
  );
  console.log('');
}

export function printSaturation(results: SaturationResult[], setup: SaturationSetup): void {
  const pool = summarise(results.filter((r) => r.client === 'pool'));
  const direct = summarise(results.filter((r) => r.client === 'direct'));
  const maximum = results[0]!.maximum;
  printSetup(results, setup);
  row('', 'pool', 'direct');
  printRounds(results);
  row('generation, modelled tokens/s (mean)', pool.achieved.toFixed(0), direct.achieved.toFixed(0));
  row(
    '  wall clock x time scale (old measure)',
    pool.achievedWallClock.toFixed(0),
    direct.achievedWallClock.toFixed(0),
  );
  row('prefix-cache hit rate', pct(pool.hitRate), pct(direct.hitRate));
  row('prompt tokens computed per turn', pool.computedPerTurn.toFixed(1), direct.computedPerTurn.toFixed(1));
  row('engine time computing prompts', pct(pool.prefillShare), pct(direct.prefillShare));
  row('turns moved off their last server', pct(pool.movedShare), pct(direct.movedShare));
  row('mean running batch per server', pool.meanRunning.toFixed(1), direct.meanRunning.toFixed(1));
  row('mean waiting inside each server', pool.meanWaiting.toFixed(1), direct.meanWaiting.toFixed(1));
  row('turns queued in the client', pct(pool.queuedShare), pct(direct.queuedShare));
  row('  their mean wait (wall ms)', pool.meanQueuedMs.toFixed(0), direct.meanQueuedMs.toFixed(0));
  row('client CPU per turn (ms)', pool.cpuMsPerTurn.toFixed(2), direct.cpuMsPerTurn.toFixed(2));
  row(
    'retried turns, preemptions',
    `${pool.retried}, ${pool.preemptions}`,
    `${direct.retried}, ${direct.preemptions}`,
  );
  console.log('');
  const ratio = pool.achieved / direct.achieved;
  const wallRatio = pool.achievedWallClock / direct.achievedWallClock;
  console.log(
    `  pool / direct            ${ratio.toFixed(3)}   (aim >= ${POOL_DIRECT_AIM}; wall clock ${wallRatio.toFixed(3)})`,
  );
  console.log(
    `  pool / configured max    ${(pool.achieved / maximum).toFixed(3)}   (the old figure: ${maximum.toFixed(0)} ` +
      `tokens/s, ${setup.servers} x the batch-256 decode-only peak; wall clock ${(pool.achievedWallClock / maximum).toFixed(3)})`,
  );
  console.log(`  direct / configured max  ${(direct.achieved / maximum).toFixed(3)}`);
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
