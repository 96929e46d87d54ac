import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionJobs, postBacklogInFlight, recordedCount, untilAllRecorded } from './support/backlog.ts';
import { FAST_RECOVERY_ENV } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { verifyStrictOrder } from './support/verify.ts';

const USERS = 20;
const PER_USER = 10;
const OUTAGE_MS = 20_000;

/**
 * Postgres goes away under the workers for 20 s while 20 users have 10 turns each in flight (the
 * workers reach it through a proxy the test cuts; the gateway does not need it to accept). Turns
 * wait it out without using their attempts, and every turn completes exactly once, in order, within
 * seconds of Postgres returning, with no new message from anyone.
 */
describe('Postgres away for 20 s under the workers', () => {
  let proxy: TcpProxy;
  // Closed once the fleet has stopped: its workers reach Postgres through the proxy.
  afterAll(async () => {
    await proxy?.close();
  });
  const { fleet } = useSimFleet({
    sim: { latencyMs: 150 },
    workers: 0,
    env: { ...FAST_RECOVERY_ENV, HISTORY_TOKEN_BUDGET: '100000', LOG_LEVEL: 'warn' },
  });
  beforeAll(async () => {
    const db = new URL(fleet.databaseUrl);
    proxy = await startTcpProxy({ host: db.hostname, port: Number(db.port) });
    db.port = String(proxy.port);
    for (let i = 0; i < 2; i++) fleet.addWorker({ DATABASE_URL: db.toString() });
    await fleet.workersReady();
  });

  it('every turn completes exactly once, in order, soon after Postgres is back; no attempt is used up', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `pg-out-${i}`);
    const total = USERS * PER_USER;
    await postBacklogInFlight(fleet, users, PER_USER);

    await proxy.cut();
    const cutAt = Date.now();
    const before = await recordedCount(fleet.pool);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // Nothing could be recorded, and nothing gave up.
    expect(await recordedCount(fleet.pool)).toBe(before);
    expect((await partitionJobs(fleet.redis, fleet.namespace)).filter((j) => j.state === 'failed')).toEqual(
      [],
    );

    await proxy.restore();
    const restoredAt = Date.now();
    const firstAt = await untilAllRecorded(fleet.pool, total, before);
    const doneAt = Date.now();
    process.stdout.write(
      `postgres outage: cut ${restoredAt - cutAt} ms with ${total - before} turns left; first turn recorded ` +
        `${firstAt - restoredAt} ms after it returned, all ${doneAt - restoredAt} ms after\n`,
    );
    expect(firstAt - restoredAt).toBeLessThan(5_000);
    expect(doneAt - restoredAt).toBeLessThan(25_000);

    await verifyStrictOrder(fleet, users, PER_USER);
    const jobs = await partitionJobs(fleet.redis, fleet.namespace);
    expect(jobs).toHaveLength(total);
    // A completed job that never failed has attemptsMade 1 (BullMQ counts the completion).
    expect(jobs.filter((j) => j.state !== 'completed' || j.attemptsMade !== 1)).toEqual([]);
  });
});
