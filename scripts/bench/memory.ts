/**
 * pnpm bench:memory: Redis bytes per user, active (after N turns with the default history budget)
 * and idle (once HOT_STATE_TTL_SECONDS passed), for many users filled through the fleet's own Redis
 * code paths, next to a baseline whose hot state never expires (as before it did) in the same run;
 * then what a cold turn (state rebuilt from Postgres) costs next to a warm one through the real
 * gateway and worker.
 */
import { loadConfig } from '@agent-fleet/core';
import { startRedisServer } from '@agent-fleet/devstack';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import { coldVersusWarm, p50 } from './memory-cold.ts';
import { createFiller, TURN_TOKENS, type UserKeySets } from './memory-fill.ts';
import { percentile, startBenchDir, startBenchStack } from './stack.ts';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};
const opts = new Command('bench:memory')
  .description('Redis memory per active and idle user, and the cost of a cold turn')
  .option('--users <n>', 'simulated users in each Redis', int, 100_000)
  .option('--turns <n>', 'turns per user', int, 12)
  .option('--concurrency <n>', 'users filled at once', int, 256)
  .option('--ttl <seconds>', 'hot state and turn record TTL of the fill (longer than a fill takes)', int, 600)
  .option('--cold-users <n>', 'users timed cold and warm through the worker', int, 100)
  .option('--cold-history <n>', 'turns of history of each of them', int, 6)
  .option('--rounds <n>', 'cold and warm rounds', int, 2)
  .parse()
  .opts<{
    users: number;
    turns: number;
    concurrency: number;
    ttl: number;
    coldUsers: number;
    coldHistory: number;
    rounds: number;
  }>();
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

/** MEMORY USAGE of the sampled users' keys, by kind, per user. */
async function breakdown(redis: Redis, keysOf: (i: number) => UserKeySets) {
  let hot = 0;
  let records = 0;
  const usage = async (keys: string[]) => {
    let sum = 0;
    for (const key of keys) sum += Number((await redis.memory('USAGE', key, 'SAMPLES', '0')) ?? 0);
    return sum;
  };
  for (let i = 0; i < SAMPLED; i++) {
    const keys = keysOf(i);
    hot += await usage(keys.hot);
    records += await usage(keys.records);
  }
  return { hot: hot / SAMPLED, records: records / SAMPLED };
}

interface Side {
  label: string;
  redis: Redis;
  before: number;
  /** After the fill (the expiring side only: the baseline writes the same). */
  active: number;
  idle: number;
  idleKeys: number;
  /** Growth of Redis's own overheads between before the fill and idle (bytes, by MEMORY STATS field). */
  idleOverheads: Record<string, number>;
  overheadsBefore: Record<string, number>;
  fillSeconds: number;
  parts: { hot: number; records: number };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function newSide(label: string, url: string): Side {
  const redis = new Redis(url, { enableAutoPipelining: true });
  return {
    label,
    redis,
    before: 0,
    active: 0,
    idle: 0,
    idleKeys: 0,
    idleOverheads: {},
    overheadsBefore: {},
    fillSeconds: 0,
    parts: { hot: 0, records: 0 },
  };
}

/**
 * Fills a side's Redis; the hot state and the turn records get the TTLs given. Returns the
 * filler, whose sampled users' keys the breakdown reads.
 */
async function fill(side: Side, ttl: { hot: number; records: number }) {
  side.before = await usedMemory(side.redis);
  side.overheadsBefore = await overheads(side.redis);
  const b = bar(`fill ${side.label}`, opts.users);
  const filler = createFiller(
    side.redis,
    {
      users: opts.users,
      turns: opts.turns,
      concurrency: opts.concurrency,
      recordTtlSeconds: ttl.records,
      hotStateTtlSeconds: ttl.hot,
      historyTokenBudget: budget,
      progress: (n) => n % 500 === 0 && b.update(n),
    },
    SAMPLED,
  );
  const started = Date.now();
  await filler.fill('bench');
  b.update(opts.users);
  b.stop();
  side.fillSeconds = (Date.now() - started) / 1000;
  return filler;
}

async function waitUntil(at: number): Promise<void> {
  const seconds = Math.ceil((at - Date.now()) / 1000);
  if (seconds <= 0) return;
  const w = bar('idle until the TTL passes (s)', seconds);
  for (let s = 1; s <= seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    w.update(s);
  }
  w.stop();
}

async function main() {
  const dir = startBenchDir('memory');
  const servers = await Promise.all(
    ['expiring', 'baseline'].map((name) =>
      startRedisServer({ dataDir: dir.path(name), appendfsync: 'everysec' }),
    ),
  );
  const stack = await startBenchStack();
  try {
    const exp = newSide(`expiring (TTL ${opts.ttl} s)`, servers[0]!.url);
    const base = newSide('baseline (hot state kept)', servers[1]!.url);
    // The expiring side first: hot state and turn records both expire after --ttl, so nothing
    // expires before the fill ends and is measured.
    const filler = await fill(exp, { hot: opts.ttl, records: opts.ttl });
    if (exp.fillSeconds >= opts.ttl)
      throw new Error(`the fill took ${exp.fillSeconds.toFixed(0)} s, past --ttl ${opts.ttl}: raise it`);
    exp.active = (await usedMemory(exp.redis)) - exp.before;
    exp.parts = await breakdown(exp.redis, (i) => filler.keysOf('bench', i));
    const expiresAt = Date.now() + opts.ttl * 1000;
    // The baseline: the same writes, but hot state that never leaves, as before it expired.
    await fill(base, { hot: FOREVER, records: 1 });
    await waitUntil(Math.max(expiresAt, Date.now() + 2000));
    for (const side of [exp, base]) {
      await reclaim(side.redis);
      side.idle = (await usedMemory(side.redis)) - side.before;
      side.idleKeys = await side.redis.dbsize();
      const after = await overheads(side.redis);
      for (const field of OVERHEADS)
        side.idleOverheads[field] = (after[field] ?? 0) - (side.overheadsBefore[field] ?? 0);
    }
    const cold = await coldVersusWarm(stack, {
      users: opts.coldUsers,
      history: opts.coldHistory,
      rounds: opts.rounds,
      progress: progressBars(),
    });
    report(exp, base, cold);
    for (const side of [exp, base]) side.redis.disconnect();
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

function report(exp: Side, base: Side, cold: Awaited<ReturnType<typeof coldVersusWarm>>): void {
  const per = (bytes: number) => bytes / opts.users;
  console.log('');
  console.log(
    `memory: ${opts.users.toLocaleString('en')} users × ${opts.turns} turns (${TURN_TOKENS} tokens a turn, ` +
      `HISTORY_TOKEN_BUDGET ${budget}), INFO used_memory per user; fills took ${exp.fillSeconds.toFixed(0)} s ` +
      `and ${base.fillSeconds.toFixed(0)} s`,
  );
  console.log(
    `  active user (after ${opts.turns} turns)         ${kib(per(exp.active))}: hot state ${kib(exp.parts.hot)}, ` +
      `${opts.turns} turn records ${kib(exp.parts.records)} (MEMORY USAGE of ${SAMPLED} users)`,
  );
  for (const side of [base, exp])
    console.log(
      `  idle user, ${side.label.padEnd(28)} ${per(side.idle).toFixed(0).padStart(7)} B  (${side.idleKeys} keys left; ` +
        `grown overheads per user: ${OVERHEADS.map((f) => `${f} ${per(side.idleOverheads[f] ?? 0).toFixed(0)} B`).join(', ')})`,
    );
  console.log(
    `  idle user, expiring ÷ baseline         ${(exp.idle / base.idle).toFixed(4)}  (aim: ~0 bytes)`,
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
