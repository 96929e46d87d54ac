/**
 * pnpm bench:memory: Redis bytes per user, active (after N turns with the default history budget)
 * and idle (once HOT_STATE_TTL passed), for many users filled through the fleet's own Redis
 * code paths, next to a baseline whose hot state never expires (as before it did) in the same run;
 * then what a cold turn (state rebuilt from Postgres) costs next to a warm one through the real
 * gateway and worker.
 */

import { fork } from 'node:child_process';
import { loadConfig } from '@agent-fleet/core';
import { startRedisServer } from '@agent-fleet/devstack';
import { MultiBar, SingleBar } from 'cli-progress';
import { Redis } from 'ioredis';
import { count, parseBenchOptions, seconds } from './cli-args.ts';
import { coldVersusWarm, p50 } from './memory-cold.ts';
import { TURN_TOKENS } from './memory-fill.ts';
import type { FillReport, FillRequest } from './memory-fill-child.ts';
import { percentile, startBenchDir, startBenchStack } from './stack.ts';

const opts = parseBenchOptions(
  'bench:memory',
  'Redis memory per active and idle user, and the cost of a cold turn',
  {
    users: count(100_000, 'simulated users in each Redis'),
    turns: count(12, 'turns per user'),
    concurrency: count(256, 'users filled at once'),
    ttl: seconds(30, 'hot state and turn record TTL of the expiring fills'),
    coldUsers: count(100, 'users timed cold and warm through the worker'),
    coldHistory: count(6, 'turns of history of each of them'),
    rounds: count(2, 'cold and warm rounds'),
  },
);
const budget = loadConfig({}).HISTORY_TOKEN_BUDGET;
/** The baseline keeps hot state as before it expired: a TTL far past the run (a hundred years). */
const FOREVER = 100 * 365 * 24 * 3600;
const SAMPLED = 200;

function bar(label: string, total: number) {
  const b = new SingleBar({ format: `${label.padEnd(30)} [{bar}] {value}/{total}`, hideCursor: true });
  b.start(total, 0);
  return b;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/** MEMORY STATS' parts of Redis's own overhead that a fill leaves grown after its keys are gone. */
const OVERHEADS = ['clients.normal', 'aof.buffer', 'overhead.hashtable.main', 'overhead.hashtable.expires'];

async function overheads(redis: Redis): Promise<Record<string, number>> {
  const flat = (await redis.call('MEMORY', 'STATS')) as unknown[];
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2)
    if (OVERHEADS.includes(String(flat[i]))) out[String(flat[i])] = Number(flat[i + 1]);
  return out;
}

/**
 * Lets Redis reclaim every expired key now (a SCAN expires what it passes), as its expiry cycle
 * would in time.
 */
async function reclaim(redis: Redis): Promise<void> {
  let cursor = '0';
  do {
    [cursor] = await redis.scan(cursor, 'COUNT', 10_000);
  } while (cursor !== '0');
  // Its cron then shrinks the emptied hash tables: wait until the figure stops falling (10 s at most).
  for (let i = 0, last = Number.POSITIVE_INFINITY; i < 20; i++) {
    const now = await usedMemory(redis);
    if (now >= last) return;
    last = now;
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Side {
  label: string;
  redis: Redis;
  /** TTLs of the fill: hot state, turn records. */
  ttl: { hot: number; records: number };
  before: number;
  /** used_memory growth when the fill ended, and once idle past the TTL. */
  filled: number;
  idle: number;
  idleKeys: number;
  idleOverheads: Record<string, number>;
  overheadsBefore: Record<string, number>;
  report?: FillReport;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function newSide(label: string, url: string, ttl: Side['ttl']): Side {
  return {
    label,
    redis: new Redis(url),
    ttl,
    before: 0,
    filled: 0,
    idle: 0,
    idleKeys: 0,
    idleOverheads: {},
    overheadsBefore: {},
  };
}

/** Fills a side's Redis from a child process (sides fill side by side), reporting progress. */
async function fill(side: Side, url: string, bars: MultiBar): Promise<void> {
  side.before = await usedMemory(side.redis);
  side.overheadsBefore = await overheads(side.redis);
  const b = bars.create(opts.users, 0, { label: side.label.padEnd(30) });
  const request: FillRequest = {
    url,
    sampled: SAMPLED,
    options: {
      users: opts.users,
      turns: opts.turns,
      concurrency: opts.concurrency,
      recordTtlSeconds: side.ttl.records,
      hotStateTtlSeconds: side.ttl.hot,
      historyTokenBudget: budget,
    },
  };
  const child = fork(new URL('./memory-fill-child.ts', import.meta.url), [JSON.stringify(request)]);
  side.report = await new Promise<FillReport>((resolve, reject) => {
    child.on('message', (m: { progress?: number } | FillReport) => {
      if ('done' in m) resolve(m);
      else if (m.progress !== undefined) b.update(m.progress);
    });
    child.on('exit', (code) => reject(new Error(`the fill of ${side.label} exited with ${code}`)));
  });
  b.update(opts.users);
  side.filled = (await usedMemory(side.redis)) - side.before;
}

async function measureIdle(side: Side): Promise<void> {
  await reclaim(side.redis);
  side.idle = (await usedMemory(side.redis)) - side.before;
  side.idleKeys = await side.redis.dbsize();
  const after = await overheads(side.redis);
  for (const field of OVERHEADS)
    side.idleOverheads[field] = (after[field] ?? 0) - (side.overheadsBefore[field] ?? 0);
}

async function waitSeconds(seconds: number): Promise<void> {
  const w = bar('idle until the TTL passes (s)', seconds);
  for (let s = 1; s <= seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    w.update(s);
  }
  w.stop();
}

async function main() {
  const dir = startBenchDir('memory');
  const names = ['active', 'expiring', 'baseline'];
  const servers = await Promise.all(
    names.map((name) => startRedisServer({ dataDir: dir.path(name), appendfsync: 'everysec' })),
  );
  const stack = await startBenchStack();
  try {
    // Three Redis servers filled with the same turns: one where nothing expires during the run
    // (the active figure), one with the hot state and the turn records expiring after --ttl, and
    // the baseline, whose hot state never leaves (as before it expired).
    const sides = [
      newSide('active (nothing expires yet)', servers[0]!.url, { hot: FOREVER, records: FOREVER }),
      newSide(`expiring (TTL ${opts.ttl} s)`, servers[1]!.url, { hot: opts.ttl, records: opts.ttl }),
      newSide('baseline (hot state kept)', servers[2]!.url, { hot: FOREVER, records: opts.ttl }),
    ] as const;
    const bars = new MultiBar({ format: '{label} [{bar}] {value}/{total}', hideCursor: true });
    await Promise.all(sides.map((side, i) => fill(side, servers[i]!.url, bars)));
    bars.stop();
    await waitSeconds(opts.ttl + 2);
    await Promise.all(sides.slice(1).map(measureIdle));
    const cold = await coldVersusWarm(stack, {
      users: opts.coldUsers,
      history: opts.coldHistory,
      rounds: opts.rounds,
      progress: progressBars(),
    });
    report(sides, cold);
    for (const side of sides) side.redis.disconnect();
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await stack.stop();
    dir.remove();
  }
}

function progressBars() {
  let current: { label: string; b: SingleBar } | undefined;
  return (label: string, done: number, total: number) => {
    if (current?.label !== label) {
      current?.b.stop();
      current = { label, b: bar(label, total) };
    }
    current.b.update(done);
    if (done === total) current.b.stop();
  };
}

function report(
  [active, exp, base]: readonly [Side, Side, Side],
  cold: Awaited<ReturnType<typeof coldVersusWarm>>,
): void {
  const per = (bytes: number) => bytes / opts.users;
  const parts = active.report!.parts;
  console.log('');
  console.log(
    `memory: ${opts.users.toLocaleString('en')} users × ${opts.turns} turns (${TURN_TOKENS} tokens a turn, ` +
      `HISTORY_TOKEN_BUDGET ${budget}) in each of three Redis servers, INFO used_memory per user; ` +
      `fills took ${[active, exp, base].map((s) => `${s.report!.fillSeconds.toFixed(0)} s`).join(', ')} side by side`,
  );
  console.log(
    `  active user (after ${opts.turns} turns)          ${kib(per(active.filled)).padStart(10)}: hot state ` +
      `${kib(parts.hot)}, ${opts.turns} turn records ${kib(parts.records)} (MEMORY USAGE of ${SAMPLED} users)`,
  );
  for (const side of [base, exp])
    console.log(
      `  idle user, ${side.label.padEnd(28)} ${`${per(side.idle).toFixed(0)} B`.padStart(10)}  ` +
        `(${side.idleKeys} keys left; ${(side.idle / 1024).toFixed(0)} KiB in all, of which grown overheads: ` +
        `${OVERHEADS.map((f) => `${f} ${((side.idleOverheads[f] ?? 0) / 1024).toFixed(0)} KiB`).join(', ')})`,
    );
  console.log(
    `  idle user, expiring ÷ baseline          ${(exp.idle / base.idle).toFixed(4)}  (aim: ~0 bytes)`,
  );
  const row = (label: string, ms: number[]) =>
    `  ${label.padEnd(34)} p50 ${p50(ms).toFixed(2).padStart(6)} ms  p95 ${percentile(ms, 0.95).toFixed(2).padStart(6)} ms`;
  console.log('');
  console.log(
    `turns through gateway and worker: ${opts.coldUsers} users with ${opts.coldHistory}+ turns of history, ` +
      `${opts.rounds} rounds of a cold turn then a warm one each, instant simulator`,
  );
  console.log(row('warm turn, POST -> completed', cold.warm.totalMs));
  console.log(row('cold turn, POST -> completed', cold.cold.totalMs));
  console.log(row('warm accept, POST -> 202', cold.warm.acceptMs));
  console.log(row('cold accept, POST -> 202', cold.cold.acceptMs));
  const paired = cold.cold.totalMs.map((ms, i) => ms - cold.warm.totalMs[i]!);
  console.log(
    `  cold turn overhead: p50 cold - p50 warm ${(p50(cold.cold.totalMs) - p50(cold.warm.totalMs)).toFixed(2)} ms, ` +
      `p50 of the paired differences ${p50(paired).toFixed(2)} ms, ratio ${(p50(cold.cold.totalMs) / p50(cold.warm.totalMs)).toFixed(2)} (aim: <= 5 ms)`,
  );
}

await main();
