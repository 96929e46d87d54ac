import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServerHandle, startRedisServer } from '@agent-fleet/devstack';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionJobs, postBacklogInFlight, recordedCount, untilAllRecorded } from './support/backlog.ts';
import { FAST_RECOVERY_ENV, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { verifyStrictOrder } from './support/verify.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const USERS = 20;
const PER_USER = 10;
const OUTAGE_MS = 15_000;

/**
 * redis-server (a private one, never the shared test Redis) stops under the workers for 15 s while
 * 20 users have 10 turns each in flight, and starts again on its port and data. The workers'
 * commands wait for it; their job locks and turn leases lapse meanwhile. Every turn must still
 * complete exactly once, in order, soon after Redis is back, with no new message from anyone.
 */
describe('Redis stopped for 15 s under the workers', () => {
  let redisDir: string;
  let redis: RedisServerHandle;
  afterAll(async () => {
    await redis?.stop();
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  });
  const { fleet } = useSimFleet({
    sim: { latencyMs: 150 },
    workers: 2,
    env: async () => {
      redisDir = mkdtempSync(join(root, '.fleet', 'redis-outage-'));
      redis = await startRedisServer({ dataDir: redisDir, appendfsync: 'always' });
      return {
        ...FAST_RECOVERY_ENV,
        REDIS_URL: redis.url,
        HISTORY_TOKEN_BUDGET: '100000',
        LOG_LEVEL: 'warn',
      };
    },
    untilWorkersReady: true,
  });

  it('every turn completes exactly once, in order, soon after Redis is back', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `redis-out-${i}`);
    const total = USERS * PER_USER;
    await postBacklogInFlight(fleet, users, PER_USER);

    await redis.stop();
    const before = await recordedCount(fleet.pool);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    redis = await startRedisServer({ dataDir: redisDir, port: redis.port, appendfsync: 'always' });
    const restartedAt = Date.now();

    const firstAt = await untilAllRecorded(fleet.pool, total, before);
    const doneAt = Date.now();
    process.stdout.write(
      `redis outage: ${total - before} turns left; first turn recorded ${firstAt - restartedAt} ms after ` +
        `Redis was back, all ${doneAt - restartedAt} ms after\n`,
    );
    expect(doneAt - restartedAt).toBeLessThan(25_000);
    await verifyStrictOrder(fleet, users, PER_USER);
    // A delivery that lost its job lock while Redis was away may still be finishing (as a duplicate).
    let jobs: Awaited<ReturnType<typeof partitionJobs>> = [];
    await waitFor(
      async () => {
        jobs = await partitionJobs(fleet.redis, fleet.namespace);
        return jobs.every((j) => j.state === 'completed');
      },
      {
        timeoutMs: 15_000,
        intervalMs: 200,
        describe: () => JSON.stringify(jobs.filter((j) => j.state !== 'completed')),
      },
    );
    expect(jobs).toHaveLength(total);
    expect(jobs.filter((j) => j.attemptsMade !== 1)).toEqual([]);
  });
});
