/**
 * pnpm bench:pipeline: turns per second through gateway -> partition queue -> worker -> Redis and
 * Postgres with an LLM that answers at once, next to raw BullMQ (add + no-op worker) on the same
 * Redis in the same run, with the CPU each process spent per turn (per job for raw BullMQ); then the
 * turns' own stage timings on an idle fleet and at 50% and 90% of the measured maximum rate.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { isFinalStatus, loadConfig, partitionQueueName, type TurnStatus } from '@agent-fleet/core';
import { Scratchpad } from '@agent-fleet/turns';
import { Queue, Worker } from 'bullmq';
import { SingleBar } from 'cli-progress';
import { Redis } from 'ioredis';
import pg from 'pg';
import { CheckpointWriter, EMPTY_CHECKPOINT } from '../../packages/worker/src/turn/checkpoint.ts';
import { count, parseBenchOptions, seconds, text } from './cli-args.ts';
import { BenchProcesses } from './fleet-processes.ts';
import { breakdown, collectTimings, openLoop } from './pipeline-timings.ts';
import { cpuMeter, type Metered } from './proc-cpu.ts';
import { percentile, startBenchStack } from './stack.ts';

const opts = parseBenchOptions(
  'bench:pipeline',
  'turn throughput of the fleet next to raw BullMQ on the same Redis',
  {
    turns: count(4000, 'turns to run'),
    users: count(400, 'distinct users'),
    workers: count(2, 'worker processes'),
    concurrency: count(8, 'jobs in flight per partition queue per worker'),
    clients: count(64, 'HTTP requests in flight'),
    loadSeconds: seconds(6, 'seconds of each open-loop run at 50% and 90% of the maximum rate'),
    profile: text('<dir>', 'write a V8 CPU profile of every service into <dir>'),
  },
);
const nodeOptions = opts.profile ? `--cpu-prof --cpu-prof-dir=${opts.profile}` : undefined;

function bar(label: string, total: number) {
  const b = new SingleBar({
    format: `${label.padEnd(12)} [{bar}] {value}/{total} {rate}/s`,
    hideCursor: true,
    clearOnComplete: false,
  });
  b.start(total, 0, { rate: '0' });
  return b;
}

/** Raw BullMQ's jobs per second, and the CPU milliseconds per job of this process and of Redis. */
async function rawBullmq(
  redis: { url: string; pid: number },
  n: number,
  clients: number,
): Promise<{ rate: number; cpu: Map<string, number> }> {
  const meter = cpuMeter([
    { name: 'producer + worker', pid: 'self' },
    { name: 'redis', pid: redis.pid },
  ]);
  const redisUrl = redis.url;
  meter.start();
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(partitionQueueName(0), { connection, prefix: 'raw:{agent.p0}' });
  let done = 0;
  const b = bar('raw BullMQ', n);
  const started = performance.now();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker(
      queue.name,
      async () => {
        done++;
        if (done % 100 === 0)
          b.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(0) });
        if (done === n) setImmediate(() => void worker.close().then(resolve));
      },
      { connection, prefix: 'raw:{agent.p0}', concurrency: clients },
    );
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const i = next++;
        await queue.add('turn', { i, text: 'hello' }, { removeOnComplete: { age: 3600, count: 100_000 } });
      }
    }),
  );
  await finished;
  const seconds = (performance.now() - started) / 1000;
  b.update(n, { rate: (n / seconds).toFixed(0) });
  b.stop();
  const cpu = perUnit(meter.read(), n);
  await queue.close();
  connection.disconnect();
  return { rate: n / seconds, cpu };
}

const perUnit = (ms: Map<string, number>, n: number) => new Map([...ms].map(([k, v]) => [k, v / n]));

// A lean keep-alive HTTP client, so the load generator takes as little CPU from the fleet as it can.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
/** Sends a message; resolves with its turn id. */
function postTurn(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode === 202) resolve((JSON.parse(text) as { turnId: string }).turnId);
          else reject(new Error(`gateway answered ${res.statusCode}: ${text}`));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const stack = await startBenchStack();
  const processes = new BenchProcesses(join(stack.dir, 'logs'));
  try {
    const raw = await rawBullmq(stack.redis, opts.turns, opts.clients);
    const rawRate = raw.rate;

    const simUrl = await processes.simulator({
      SIM_LATENCY_MS: '0',
      SIM_TIME_SCALE: '0',
      // Script mode answers like echo unless a fixture matches: the step phase below adds some.
      SIM_MODE: 'script',
      NODE_OPTIONS: nodeOptions,
    });
    const gatewayUrl = await processes.fleet({
      stack,
      llmUrl: simUrl,
      workers: opts.workers,
      env: { WORKER_CONCURRENCY: String(opts.concurrency), NODE_OPTIONS: nodeOptions },
    });

    const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
    const metered: Metered[] = [
      ...processes.services.map((s) => ({ name: s.name, pid: s.pid })),
      { name: 'redis', pid: stack.redis.pid },
      { name: 'postgres', pid: stack.pg.pid, tree: true },
      { name: 'load generator', pid: 'self' },
    ];
    const meter = cpuMeter(metered);
    const statsRedis = new Redis(stack.redis.url);
    const callsBefore = await redisCalls(statsRedis);
    meter.start();
    const b = bar('fleet', opts.turns);
    const started = performance.now();
    let next = 0;
    const perUser = Math.ceil(opts.turns / opts.users);
    const posting = Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (next < opts.turns) {
          const i = next++;
          // Turn i belongs to user i % users: each user's turns are spread through the run.
          await postTurn(
            `${gatewayUrl}/v1/users/bench-${i % opts.users}/messages`,
            JSON.stringify({ text: `message ${Math.floor(i / opts.users)} of ${perUser}` }),
          );
        }
      }),
    );
    let completed = 0;
    while (completed < opts.turns) {
      await new Promise((r) => setTimeout(r, 200));
      completed = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM turns')).rows[0]!.n);
      b.update(completed, { rate: (completed / ((performance.now() - started) / 1000)).toFixed(0) });
    }
    await posting;
    const seconds = (performance.now() - started) / 1000;
    const fleetCpu = perUnit(meter.read(), opts.turns);
    const calls = callsPerTurn(callsBefore, await redisCalls(statsRedis), opts.turns);
    statsRedis.disconnect();
    b.stop();
    const fleetRate = opts.turns / seconds;
    const lat = await pool.query<{ ms: number }>(
      'SELECT extract(epoch FROM (completed_at - enqueued_at)) * 1000 AS ms FROM turns',
    );
    const ms = lat.rows.map((r) => Number(r.ms));
    await pool.end();

    // The same fleet at 50% and 90% of the rate it just reached, each turn's timings read back.
    const loaded: [string, Awaited<ReturnType<typeof collectTimings>>][] = [];
    for (const share of [0.5, 0.9]) {
      const rate = fleetRate * share;
      const count = Math.max(50, Math.round(rate * opts.loadSeconds));
      const label = `load${Math.round(share * 100)}`;
      const ids = await openLoop(count, rate, (i) =>
        postTurn(
          `${gatewayUrl}/v1/users/${label}-${i % opts.users}/messages`,
          JSON.stringify({ text: `turn ${i}` }),
        ),
      );
      loaded.push([
        `at ${Math.round(share * 100)}% of the maximum (${rate.toFixed(0)} turns/s for ${opts.loadSeconds} s)`,
        await collectTimings(gatewayUrl, ids),
      ]);
    }

    // Added latency per agent step: the same user's turns one at a time on the now idle fleet, each
    // answered at once (plain), or after one tool call (one more model step and one tool step).
    const simAdmin = simUrl.replace(/\/v1$/, '');
    const SEQUENTIAL = 60;
    const fixtures = Array.from({ length: SEQUENTIAL }, (_, i) => [
      {
        match: { contains: `step turn ${i}.` },
        reply: { tool_calls: [{ name: 'recall_notes', arguments: {} }] },
      },
      { match: { contains: `step turn ${i}.` }, reply: `answer ${i}` },
    ]).flat();
    await fetch(`${simAdmin}/sim/script`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fixtures),
    });
    const sequential = async (user: string, text: (i: number) => string) => {
      const took: number[] = [];
      const ids: string[] = [];
      for (let i = 0; i < SEQUENTIAL; i++) {
        const started = performance.now();
        const res = await fetch(`${gatewayUrl}/v1/users/${user}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: text(i) }),
        });
        const { turnId } = (await res.json()) as { turnId: string };
        ids.push(turnId);
        for (;;) {
          const turn = (await (await fetch(`${gatewayUrl}/v1/turns/${turnId}`)).json()) as {
            status: TurnStatus;
          };
          if (isFinalStatus(turn.status)) break;
          await new Promise((r) => setTimeout(r, 2));
        }
        took.push(performance.now() - started);
      }
      return { p50: percentile(took, 0.5), ids };
    };
    const plainRun = await sequential('plain-user', (i) => `plain turn ${i}.`);
    const plain = plainRun.p50;
    const idle = await collectTimings(gatewayUrl, plainRun.ids);
    const stepped = (await sequential('step-user', (i) => `step turn ${i}.`)).p50;
    const perStep = (stepped - plain) / 2;

    // What one step checkpoint costs: the worker's writer (codec and save), against the same Redis.
    const redis = new Redis(stack.redis.url, { enableAutoPipelining: true });
    const checkpoint = new CheckpointWriter({
      store: new Scratchpad({ redis, namespace: 'bench' }),
      turn: { userId: 'u', turnId: 't' },
      resumed: EMPTY_CHECKPOINT,
      decided: { grounding: { context: '', citations: [] }, coalesced: [] },
    });
    const step = {
      kind: 'model' as const,
      content: 'x'.repeat(400),
      toolCalls: [],
      promptTokens: 900,
      completionTokens: 100,
    };
    const N = 2000;
    const cpStarted = performance.now();
    for (let i = 1; i <= N; i++) await checkpoint.save(i, step);
    const checkpointUs = ((performance.now() - cpStarted) / N) * 1000;
    redis.disconnect();

    console.log('');
    console.log(
      `pipeline: ${opts.turns} turns, ${opts.users} users, ${opts.workers} worker processes, ${opts.clients} HTTP clients, REDIS_APPENDFSYNC=${loadConfig().REDIS_APPENDFSYNC}`,
    );
    console.log(`  raw BullMQ (add + no-op worker) ${rawRate.toFixed(0).padStart(6)} jobs/s`);
    console.log(`  agent-fleet end to end          ${fleetRate.toFixed(0).padStart(6)} turns/s`);
    console.log(`  ratio                           ${(fleetRate / rawRate).toFixed(2).padStart(6)}`);
    console.log(
      `  turn latency (accepted -> recorded) p50 ${percentile(ms, 0.5).toFixed(0)} ms, p95 ${percentile(ms, 0.95).toFixed(0)} ms`,
    );
    console.log('');
    console.log(`steps: ${SEQUENTIAL} turns of one user, one at a time, instant simulator`);
    console.log(`  a plain turn (one model step)            p50 ${plain.toFixed(1)} ms`);
    console.log(`  with a tool call (model, tool, model)    p50 ${stepped.toFixed(1)} ms`);
    console.log(`  added latency per step                   ${perStep.toFixed(1)} ms`);
    console.log(`  one step checkpoint (Redis, sequential)  ${checkpointUs.toFixed(0)} µs`);
    console.log('');
    printCpu(raw.cpu, fleetCpu);
    console.log(`Redis commands per turn (INFO commandstats; scripts count as one, with what they call)`);
    console.log(`  ${calls.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')}`);
    console.log('');
    console.log("stages: each turn's own timings (GET /v1/turns/:id)");
    for (const line of breakdown('an idle fleet, one turn at a time', idle)) console.log(line);
    for (const [label, timings] of loaded) for (const line of breakdown(label, timings)) console.log(line);
  } finally {
    agent.destroy();
    await processes.stopAll();
    await stack.stop();
  }
}

/** Calls of each Redis command so far (INFO commandstats). */
async function redisCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** Calls per turn of each command between two readings, most first (the commandstats reads left out). */
function callsPerTurn(
  before: Map<string, number>,
  after: Map<string, number>,
  turns: number,
): [string, number][] {
  return [...after]
    .map(([name, n]): [string, number] => [name, (n - (before.get(name) ?? 0)) / turns])
    .filter(([name, n]) => n >= 0.01 && name !== 'info')
    .sort((a, b) => b[1] - a[1]);
}

/** CPU milliseconds per turn of each process, next to raw BullMQ's per job. */
function printCpu(raw: Map<string, number>, fleet: Map<string, number>): void {
  const sum = (m: Map<string, number>, keep: (name: string) => boolean = () => true) =>
    [...m].filter(([k]) => keep(k)).reduce((n, [, v]) => n + v, 0);
  const row = (name: string, ms: number) =>
    console.log(`  ${name.padEnd(34)} ${ms.toFixed(3).padStart(8)} ms`);
  console.log('CPU per job, raw BullMQ (from /proc and process.cpuUsage)');
  for (const [name, ms] of raw) row(name, ms);
  row('total', sum(raw));
  console.log('CPU per turn, agent-fleet end to end');
  for (const [name, ms] of fleet) row(name, ms);
  row(
    'gateway + workers',
    sum(fleet, (k) => k === 'gateway' || k.startsWith('worker-')),
  );
  row('total', sum(fleet));
}

await main();
