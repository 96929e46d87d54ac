import { describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, mapLimit, postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { keysMatching } from './support/stack.ts';
import { messageText, verifyStrictOrder } from './support/verify.ts';

describe('chaos: workers SIGKILLed at random, 10% of LLM calls fail', () => {
  const USERS = 50;
  const PER_USER = 20;
  const WORKERS = 4;
  const { sim, fleet } = useSimFleet({
    sim: { latencyMs: 20, errorRate: 0.1 },
    workers: WORKERS,
    env: {
      ...FAST_RECOVERY_ENV,
      HISTORY_TOKEN_BUDGET: '100000',
      WORKER_CONCURRENCY: '4',
      LOG_LEVEL: 'warn',
    },
  });

  it('loses no turn, duplicates none, and keeps every user in order', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `chaos-${i}`);
    let kills = 0;
    let chaos = true;
    const rand = mulberry32(20261125);
    const killer = (async () => {
      while (chaos) {
        await sleep(300 + rand() * 900);
        if (!chaos) break;
        const alive = fleet.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
        const victim = alive[Math.floor(rand() * alive.length)];
        if (!victim) continue;
        victim.kill('SIGKILL');
        kills++;
        await victim.exited;
        fleet.workers.splice(fleet.workers.indexOf(victim), 1);
        fleet.addWorker();
      }
    })();

    const posting = mapLimit(users, USERS, async (user) => {
      for (let s = 1; s <= PER_USER; s++) {
        await postMessage(fleet.gatewayUrl, user, messageText(user, s));
        await sleep(rand() * 40);
      }
    });
    await posting;
    // Keep killing while the backlog drains, then let the survivors finish.
    await sleep(6000);
    chaos = false;
    await killer;

    await waitFor(
      async () => {
        const r = await fleet.pool.query<{ n: string }>('SELECT count(*) AS n FROM turns');
        return Number(r.rows[0]!.n) >= USERS * PER_USER;
      },
      {
        timeoutMs: 300_000,
        intervalMs: 500,
        describe: async () =>
          `turns recorded: ${(await fleet.pool.query('SELECT count(*) FROM turns')).rows[0].count}`,
      },
    );
    // The chaos was real: workers died, LLM calls failed, and turns were run more than once.
    const stats = (await (await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
      requests: number;
      failures: number;
    };
    const turnKeys = await keysMatching(fleet.redis, `${fleet.namespace}:{u:*}:turn:*`);
    const attempts = await Promise.all(turnKeys.map((k) => fleet.redis.hget(k, 'attempts')));
    const rerun = attempts.filter((a) => Number(a) > 1).length;
    process.stdout.write(
      `chaos: ${kills} workers killed, ${stats.failures}/${stats.requests} LLM calls failed, ${rerun} turns run more than once\n`,
    );
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(stats.failures).toBeGreaterThan(0);
    expect(rerun).toBeGreaterThan(0);
    await verifyStrictOrder(fleet, users, PER_USER);
  });
});

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
