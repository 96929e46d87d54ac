/**
 * pnpm bench:llm: the LLM pool against simulated vLLM servers.
 * 1. Saturation: many users in multi-turn conversations (growing history) with a backlog, sent by
 *    the pool and, on fresh servers, by a direct client that keeps every server's batch full with
 *    each conversation pinned to one server. Pool throughput ÷ direct throughput is the honest
 *    figure; ÷ the servers' decode-only maximum is kept beside it. Throughput is in the servers'
 *    modelled time (`engine.modelledMs`), which a loaded machine does not slow; rounds alternate
 *    which client goes first.
 * 2. Routing: `session` vs `round-robin` on the same conversations, same run: prefix-cache hit
 *    rate and time to first token (mean, p95).
 */
import { SingleBar } from 'cli-progress';
import { count, factor, parseBenchOptions, skippable } from './cli-args.ts';
import { printRouting, printSaturation } from './llm-report.ts';
import { routingRun } from './llm-routing.ts';
import { type SaturationClient, type SaturationResult, saturationRun } from './llm-saturation.ts';

const opts = parseBenchOptions(
  'bench:llm',
  'LLM pool saturation (against a direct client) and routing against simulated vLLM servers',
  {
    servers: count(2, 'simulator processes for the saturation run'),
    users: count(576, 'concurrent conversations in the saturation run'),
    turns: count(3, 'turns per conversation'),
    timeScale: factor(0.2, 'simulator time scale of the saturation run (0.2 = 5x faster)'),
    rounds: count(4, 'saturation rounds, each a pool run and a direct run, alternating which goes first'),
    routingServers: count(4, 'simulator processes for the routing comparison'),
    routingUsers: count(48, 'conversations in the routing comparison'),
    routingTurns: count(5, 'turns per conversation in the routing comparison'),
    routing: skippable('skip the routing comparison'),
  },
);

function progress(label: string, total: number) {
  const bar = new SingleBar({
    format: `${label.padEnd(22)} [{bar}] {value}/{total} turns`,
    hideCursor: true,
  });
  bar.start(total, 0);
  return bar;
}

/** Pool first in odd rounds, direct first in even ones, so drift in the machine's load cancels out. */
async function saturation(): Promise<SaturationResult[]> {
  const workload = { conversations: opts.users, turns: opts.turns, words: 12 };
  const results: SaturationResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const order: SaturationClient[] = round % 2 === 1 ? ['pool', 'direct'] : ['direct', 'pool'];
    for (const client of order) {
      const bar = progress(`saturation ${round}: ${client}`, opts.users * opts.turns);
      let done = 0;
      const onTurn = () => bar.update(++done);
      results.push(
        await saturationRun(client, { servers: opts.servers, timeScale: opts.timeScale, workload, onTurn }),
      );
      bar.stop();
    }
  }
  return results;
}

async function routing() {
  const workload = { conversations: opts.routingUsers, turns: opts.routingTurns, words: 12 };
  const results = [];
  for (const strategy of ['session', 'round-robin'] as const) {
    const bar = progress(`routing: ${strategy}`, opts.routingUsers * opts.routingTurns);
    let done = 0;
    results.push(await routingRun(strategy, opts.routingServers, workload, () => bar.update(++done)));
    bar.stop();
  }
  return results;
}

const sat = await saturation();
const rout = opts.routing ? await routing() : undefined;
console.log('');
printSaturation(sat, opts);
if (rout) printRouting(rout, opts);
