/**
 * pnpm bench:fairness: the fairness scenario (scripts/bench/fairness-scenario.ts) against a fleet
 * whose queues run FIFO (QUEUE_ORDER=fifo, the order before fair queueing) and against the same
 * fleet with fair queueing, in one run on one stack: tenant B's queue wait and answer time while
 * tenant A bursts, A's drain time, the shares two tenants weighted 3:1 get, and Jain's index over
 * them. The model servers are the bottleneck, as GPUs are: each worker sends at most
 * --llm-in-flight calls at once, and has worker slots for every user that may have a turn running.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { count, millis, parseBenchOptions, text } from './cli-args.ts';
import { type FairnessResult, FairnessScenario, modelCapacity } from './fairness-scenario.ts';
import { BenchProcesses } from './fleet-processes.ts';
import { type BenchStack, startBenchStack } from './stack.ts';

const opts = parseBenchOptions(
  'bench:fairness',
  'FIFO against weighted fair queueing: a bursting tenant and a steady one, and weights 3:1',
  {
    burstMessages: count(5000, "tenant A's burst"),
    burstUsers: count(500, "tenant A's users"),
    steadyUsers: count(20, "tenant B's users"),
    periodMs: millis(2000, 'each of B’s users sends a message this often'),
    idleMs: millis(8000, 'how long B chats on the idle fleet'),
    weightedMessages: count(1200, 'messages per tenant in the weighted phase'),
    weightedUsers: count(120, 'users per tenant in the weighted phase'),
    latencyMs: millis(500, 'the model server’s latency per call'),
    jitterMs: millis(undefined, 'up to this much more per call, uniform (default: --latency-ms)'),
    partitions: count(2, 'PARTITIONS'),
    concurrency: count(140, 'WORKER_CONCURRENCY (slots per partition per worker)'),
    workers: count(2, 'worker processes'),
    llmInFlight: count(16, 'model calls in flight per worker (LLM_MAX_IN_FLIGHT_PER_SERVER)'),
    clients: count(32, 'HTTP requests in flight while posting a burst'),
    modes: text('<list>', 'fifo,fair or one of them', 'fifo,fair'),
  },
);

async function runMode(mode: 'fifo' | 'fair', stack: BenchStack, simUrl: string) {
  const namespace = `fair-${mode}-${Date.now().toString(36)}`;
  const processes = new BenchProcesses(join(stack.dir, 'logs', mode));
  const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
  try {
    const gatewayUrl = await processes.fleet({
      stack,
      llmUrl: simUrl,
      workers: opts.workers,
      env: {
        FLEET_NAMESPACE: namespace,
        QUEUE_ORDER: mode,
        PARTITIONS: String(opts.partitions),
        WORKER_CONCURRENCY: String(opts.concurrency),
        LLM_MAX_IN_FLIGHT_PER_SERVER: String(opts.llmInFlight),
        RATE_LIMIT_USER_PER_SECOND: '0',
        RATE_LIMIT_KEY_PER_SECOND: '0',
        RATE_LIMIT_IP_PER_SECOND: '0',
      },
    });
    const scenario = new FairnessScenario(
      { gatewayUrl, redis, namespace, capacity: capacity() },
      {
        burstMessages: opts.burstMessages,
        burstUsers: opts.burstUsers,
        steadyUsers: opts.steadyUsers,
        periodMs: opts.periodMs,
        idleMs: opts.idleMs,
        weighted: { messages: opts.weightedMessages, users: opts.weightedUsers, weights: [3, 1] },
        clients: opts.clients,
        log: (line) => process.stderr.write(`[${mode}] ${line}\n`),
      },
    );
    return await scenario.run();
  } finally {
    await processes.stopAll();
    redis.disconnect();
  }
}

function capacity(): number {
  return modelCapacity({
    workers: opts.workers,
    inFlight: opts.llmInFlight,
    latencyMs: opts.latencyMs,
    jitterMs: opts.jitterMs ?? opts.latencyMs,
  });
}

function table(results: [string, FairnessResult][]): string {
  const row = (label: string, f: (r: FairnessResult) => string) =>
    `| ${label} | ${results.map(([, r]) => f(r)).join(' | ')} |`;
  const ms = (n: number) => `${Math.round(n).toLocaleString('en-US')} ms`;
  return [
    `| | ${results.map(([m]) => m).join(' | ')} |`,
    `| --- |${results.map(() => ' --- |').join('')}`,
    row('B alone: queue wait p50 / p95', (r) => `${ms(r.idle.wait.p50)} / ${ms(r.idle.wait.p95)}`),
    row('B alone: answered in p50 / p95', (r) => `${ms(r.idle.latency.p50)} / ${ms(r.idle.latency.p95)}`),
    row(
      'B during A’s burst: queue wait p50 / p95',
      (r) => `${ms(r.burst.wait.p50)} / ${ms(r.burst.wait.p95)}`,
    ),
    row(
      'B during A’s burst: answered in p50 / p95',
      (r) => `${ms(r.burst.latency.p50)} / ${ms(r.burst.latency.p95)}`,
    ),
    row(
      'B’s p95 during the burst ÷ alone: queue wait / answer (aim ≤ 2)',
      (r) =>
        `${(r.burst.wait.p95 / r.idle.wait.p95).toFixed(1)} / ${(r.burst.latency.p95 / r.idle.latency.p95).toFixed(1)}`,
    ),
    row('A’s drain time', (r) => `${(r.burst.drainMs / 1000).toFixed(1)} s`),
    row(
      'A’s rate / the fleet’s rate during the burst',
      (r) => `${r.burst.aRate.toFixed(0)} / ${r.burst.fleetRate.toFixed(0)} turns/s`,
    ),
    row(
      'the fleet’s rate ÷ the model servers’ capacity',
      (r) => `${(r.burst.utilisation * 100).toFixed(0)}%`,
    ),
    row('B’s share of the tokens during the burst', (r) => `${(r.burst.bShare * 100).toFixed(1)}%`),
    row('weights 3:1, tokens served while both had a backlog', (r) => `${r.weighted!.ratio.toFixed(2)} : 1`),
    row('Jain’s index over the weight-normalised shares', (r) => r.weighted!.jain.toFixed(3)),
  ].join('\n');
}

async function main() {
  const stack = await startBenchStack();
  const processes = new BenchProcesses(join(stack.dir, 'logs'));
  try {
    const simUrl = await processes.simulator({
      SIM_TIME_SCALE: '0',
      SIM_LATENCY_MS: String(opts.latencyMs),
      SIM_LATENCY_JITTER_MS: String(opts.jitterMs ?? opts.latencyMs),
      LOG_LEVEL: 'warn',
    });
    const results: [string, FairnessResult][] = [];
    for (const mode of opts.modes.split(',') as ('fifo' | 'fair')[])
      results.push([mode, await runMode(mode, stack, simUrl)]);
    const slots = opts.partitions * opts.concurrency * opts.workers;
    process.stdout.write(
      `\n${opts.burstMessages} messages of A over ${opts.burstUsers} users at once; B: ${opts.steadyUsers} users, a message each every ${opts.periodMs} ms; ` +
        `${opts.workers} workers × ${opts.llmInFlight} model calls in flight (${capacity().toFixed(0)} calls/s), ${slots} worker slots; ` +
        `the model answers in ${opts.latencyMs} to ${opts.latencyMs + (opts.jitterMs ?? opts.latencyMs)} ms\n\n${table(results)}\n`,
    );
  } finally {
    await processes.stopAll();
    await stack.stop();
  }
}

await main();
