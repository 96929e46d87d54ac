/**
 * The second part of bench:memory: what a cold turn (the user's hot state expired, so the accept
 * looks the numbering up in Postgres and the worker rebuilds the history from the transcript) costs
 * next to a warm one, through the real path: HTTP to a gateway process, a worker process, Redis,
 * Postgres and the simulator answering at once.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { hotStateKeys, isFinalStatus, type TurnStatus, userKeys } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { BenchProcesses } from './fleet-processes.ts';
import { type BenchStack, percentile } from './stack.ts';

export interface ColdOptions {
  users: number;
  /** Turns of history each user has before the measured ones. */
  history: number;
  rounds: number;
  progress(label: string, done: number, total: number): void;
}

export interface TurnTimes {
  /** POST to 202 (a cold accept looks the numbering up in Postgres). */
  acceptMs: number[];
  /** POST to the turn seen final. */
  totalMs: number[];
}

export interface ColdResult {
  warm: TurnTimes;
  cold: TurnTimes;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function call(url: string, method: 'GET' | 'POST', body?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const headers = body
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
      : undefined;
    const req = request(url, { method, agent, ...(headers ? { headers } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One turn, timed from the POST to the 202 and to the turn seen final (polled every millisecond). */
async function timedTurn(gateway: string, userId: string, text: string, times?: TurnTimes): Promise<number> {
  const started = performance.now();
  const { turnId, seq } = (await call(
    `${gateway}/v1/users/${userId}/messages`,
    'POST',
    JSON.stringify({ text }),
  )) as { turnId: string; seq: number };
  const accepted = performance.now();
  for (;;) {
    const turn = (await call(`${gateway}/v1/turns/${turnId}`, 'GET')) as { status: TurnStatus };
    if (isFinalStatus(turn.status)) {
      if (turn.status !== 'completed') throw new Error(`turn ${seq} of ${userId} ended ${turn.status}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  times?.acceptMs.push(accepted - started);
  times?.totalMs.push(performance.now() - started);
  return seq;
}

export async function coldVersusWarm(stack: BenchStack, o: ColdOptions): Promise<ColdResult> {
  const processes = new BenchProcesses(join(stack.dir, 'logs'));
  const redis = new Redis(stack.redis.url);
  try {
    const gateway = await startFleet(stack, processes);
    const users = Array.from({ length: o.users }, (_, i) => `cold-${i}`);
    const seqs = new Map(users.map((u) => [u, 0]));
    const turn = async (user: string, times?: TurnTimes) => {
      const seq = await timedTurn(gateway, user, `question ${seqs.get(user)! + 1} of ${user}`, times);
      if (seq !== seqs.get(user)! + 1)
        throw new Error(`${user}: expected seq ${seqs.get(user)! + 1}, got ${seq}`);
      seqs.set(user, seq);
    };
    let seeded = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < users.length; i += 8) {
          for (let t = 0; t < o.history; t++) await turn(users[i]!);
          o.progress('history', ++seeded, users.length);
        }
      }),
    );
    const result: ColdResult = { warm: { acceptMs: [], totalMs: [] }, cold: { acceptMs: [], totalMs: [] } };
    const total = users.length * o.rounds;
    for (let round = 0; round < o.rounds; round++) {
      await untilExpired(redis, stack, users);
      // One user at a time on the idle fleet: a cold turn, then at once a warm one of the same
      // user, so both meet the same load on the machine.
      for (const [i, user] of users.entries()) {
        await turn(user, result.cold);
        await turn(user, result.warm);
        o.progress('cold and warm turns', round * users.length + i + 1, total);
      }
    }
    return result;
  } finally {
    redis.disconnect();
    agent.destroy();
    await processes.stopAll();
  }
}

/** Waits until nothing of the users' hot state is left in Redis. */
async function untilExpired(redis: Redis, stack: BenchStack, users: string[]): Promise<void> {
  const keys = users.flatMap((u) => hotStateKeys(userKeys(NAMESPACE, u)));
  const deadline = Date.now() + 60_000;
  while ((await redis.exists(...keys)) > 0) {
    if (Date.now() > deadline) throw new Error(`hot state still in Redis at ${stack.redis.url} after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const NAMESPACE = 'bench';

/** The simulator, a gateway and one worker, with a hot state TTL of one second. */
async function startFleet(stack: BenchStack, processes: BenchProcesses): Promise<string> {
  const llmUrl = await processes.simulator({ SIM_LATENCY_MS: '0', SIM_TIME_SCALE: '0' });
  return processes.fleet({
    stack,
    llmUrl,
    workers: 1,
    env: { FLEET_NAMESPACE: NAMESPACE, HOT_STATE_TTL: '1' },
  });
}

export function p50(values: number[]): number {
  return percentile(values, 0.5);
}
