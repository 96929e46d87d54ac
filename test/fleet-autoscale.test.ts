import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Transcript } from '@agent-fleet/state';
import { PartitionQueues, TurnProducer, TurnRecords, WorkBacklog } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, mapLimit, waitFor } from './support/fleet.ts';
import { childProcesses, freshFleetDir, runFleetCli, stopFleetCli } from './support/fleet-cli.ts';
import { freshDatabase, freshNamespace, redisUrl } from './support/stack.ts';

const WORKER = 'packages/worker/src/main.ts';

/** The worker processes `fleet start` (pid `parent`) runs now, from procfs. */
function workerPids(parent: number): number[] {
  return childProcesses(parent)
    .filter((c) => c.cmdline.includes(WORKER))
    .map((c) => c.pid);
}

/**
 * `fleet start` without a worker count runs the local autoscaler over real worker processes, on
 * the backlog it reads from Redis, with the policy shortened by settings: from zero workers a burst
 * of 2,000 turns activates one, the HPA step takes it to the maximum, the backlog drains, the
 * scale-down window brings it back to one and the cooldown to zero.
 */
describe('fleet start scales its workers on the backlog', () => {
  const fleetDir = freshFleetDir('autoscale');
  const namespace = freshNamespace();
  const policy = {
    AUTOSCALE_MIN_WORKERS: '0',
    AUTOSCALE_MAX_WORKERS: '3',
    AUTOSCALE_TARGET_BACKLOG: '64',
    AUTOSCALE_POLLING_SECONDS: '1',
    AUTOSCALE_DOWN_STABILIZATION_SECONDS: '4',
    AUTOSCALE_COOLDOWN_SECONDS: '4',
  };
  let fleet: ChildProcess;
  let output = () => '';
  let databaseUrl = '';
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  let mostWorkers = 0;
  let sampler: NodeJS.Timeout | undefined;
  const decisions = () =>
    output()
      .split('\n')
      .filter((l) => l.includes('autoscaler: '));

  beforeAll(async () => {
    databaseUrl = await freshDatabase();
    const cli = runFleetCli([], {
      FLEET_DIR: fleetDir,
      REDIS_URL: redisUrl(),
      DATABASE_URL: databaseUrl,
      FLEET_NAMESPACE: namespace,
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_MODE: 'off',
      LOG_LEVEL: 'warn',
      ...FAST_RECOVERY_ENV,
      ...policy,
    });
    ({ child: fleet, output } = cli);
    await cli.untilUp(90_000);
    sampler = setInterval(() => {
      mostWorkers = Math.max(mostWorkers, workerPids(fleet.pid!).length);
    }, 100);
  }, 120_000);

  afterAll(async () => {
    clearInterval(sampler);
    await stopFleetCli(fleet, 60_000);
    redis.disconnect();
    rmSync(fleetDir, { recursive: true, force: true });
  }, 90_000);

  it('scales up for a burst of 2,000 turns, drains it, and back to zero after the cooldown', async () => {
    expect(output()).toContain(
      'workers     0 to 3 processes, autoscaled on the backlog (64 turns per worker',
    );
    expect(workerPids(fleet.pid!)).toEqual([]);

    const partitions = new PartitionQueues({
      connection: redis,
      namespace,
      partitions: 8,
      policy: { attempts: 5, backoffMs: 100 },
    });
    const records = new TurnRecords({ redis, namespace, ttlSeconds: 3600 });
    const producer = new TurnProducer({
      redis,
      namespace,
      partitions,
      records,
      idempotencyTtlSeconds: 60,
      recordTtlSeconds: 3600,
      seqFloor: (userId) => new Transcript({ pool: pool }).maxSeq(userId),
    });
    const backlog = new WorkBacklog({ connection: redis, namespace, partitions: 8 });
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    try {
      const burst = Array.from({ length: 2000 }, (_, i) => ({
        userId: `u${i % 200}`,
        text: `question ${i}`,
      }));
      await mapLimit(burst, 64, (turn) => producer.accept(turn));

      const completed = async () =>
        Number((await pool.query("SELECT count(*) AS n FROM turns WHERE status = 'completed'")).rows[0].n);
      await waitFor(async () => (await completed()) === 2000, {
        timeoutMs: 90_000,
        intervalMs: 500,
        describe: async () => `${await completed()} of 2000 completed\n${decisions().join('\n')}`,
      });
      expect(await backlog.total()).toBe(0);
      expect(mostWorkers).toBe(3);
      const [activated, upToMax] = decisions();
      expect(activated).toMatch(/backlog \d+ is over the activation 0: activated: 0 → 1 workers$/);
      expect(upToMax).toMatch(/backlog \d+ \/ target 64 → \d+, capped at max 3: 1 → 3 workers$/);

      await waitFor(
        async () => /cooldown: 1 → 0 workers$/m.test(output()) && workerPids(fleet.pid!).length === 0,
        {
          timeoutMs: 40_000,
          describe: () => decisions().join('\n'),
        },
      );
      // Down only, through the scale-down window to one worker (the HPA's least), then the cooldown.
      const after = decisions().slice(2);
      const counts = after.map((line) =>
        line
          .match(/: (\d+) → (\d+) workers$/)!
          .slice(1)
          .map(Number),
      );
      expect(counts.every(([from, to]) => to! < from!)).toBe(true);
      expect(after.at(-2)).toMatch(/backlog 0 \/ target 64 → 0, .*: \d → 1 workers$/);
      expect(after.at(-1)).toMatch(/backlog not over the activation 0 for the 4 s cooldown: 1 → 0 workers$/);
    } finally {
      await Promise.all([partitions.close(), backlog.close(), pool.end()]);
    }
  });
});
