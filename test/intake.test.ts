import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INTAKE_QUEUE, intakeQueuePrefix } from '@agent-fleet/core';
import { ApiKeyStore } from '@agent-fleet/state';
import { describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, waitFor } from './support/fleet.ts';
import { runNode } from './support/run-node.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { keysMatching, redisEnv } from './support/stack.ts';
import { verifyStrictOrder } from './support/verify.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const PRODUCER = join(root, 'test/fixtures/intake-producer.ts');
const SCHEMA = join(root, 'packages/client/schema/intake-message.v1.json');

interface ProducerReport {
  results: {
    userId: string;
    s: number;
    id: string;
    turnId: string;
    seq: number;
    created: boolean;
    stalled: number;
  }[];
  bad?: { schemaRefusesBad: boolean; failure: string; attemptsMade: number; state: string };
  nul?: { schemaRefusesNul: boolean; failure: string; attemptsMade: number; state: string };
}

async function runProducer(env: Record<string, string>): Promise<ProducerReport> {
  const { code, stdout, stderr } = await runNode(PRODUCER, [SCHEMA], env);
  if (code !== 0) throw new Error(`intake producer exited ${code}:\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ProducerReport;
}

/**
 * `producers` intake producers at once, each for `users` users of its own (`<prefix>-<p>-<i>`)
 * sending `perUser` messages each; the first also sends the payloads the schema refuses when
 * `withRefused`. `reports` resolves to their reports; `users` lists every user id, `messages`
 * counts what they send (the refused payloads aside).
 */
function runProducers(
  namespace: string,
  run: { producers: number; users: number; perUser: number; prefix: string; withRefused: boolean },
): { reports: Promise<ProducerReport[]>; users: string[]; messages: number } {
  const reports = Promise.all(
    Array.from({ length: run.producers }, (_, p) =>
      runProducer({
        ...redisEnv(),
        FLEET_NAMESPACE: namespace,
        USERS: String(run.users),
        PER_USER: String(run.perUser),
        USER_PREFIX: `${run.prefix}-${p}`,
        SEND_BAD: run.withRefused && p === 0 ? '1' : '0',
      }),
    ),
  );
  const users = Array.from({ length: run.producers }, (_, p) =>
    Array.from({ length: run.users }, (_, i) => `${run.prefix}-${p}-${i}`),
  ).flat();
  return { reports, users, messages: users.length * run.perUser };
}

describe('the intake queue: a plain BullMQ producer with the JSON Schema, no project code', () => {
  const { fleet } = useSimFleet({
    sim: { latencyMs: 5 },
    workers: 2,
    env: { HISTORY_TOKEN_BUDGET: '100000', LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });

  it('takes intake jobs from concurrent producers in arrival order, gives each its per-user seq once, and the workers complete them in order', async () => {
    const PER_USER = 5;
    const spec = { producers: 3, users: 12, perUser: PER_USER, prefix: 'py-like', withRefused: true };
    const run = runProducers(fleet.namespace, spec);
    const reports = await run.reports;
    const results = reports.flatMap((r) => r.results);
    expect(results).toHaveLength(run.messages);
    for (const r of results)
      expect(r, `${r.userId} message ${r.s}`).toMatchObject({ seq: r.s, created: true });
    expect(new Set(results.map((r) => r.turnId)).size).toBe(results.length);
    const report = reports[0]!;

    // The job's return value is how a non-Node producer learns the turn; the gateway reports it.
    const users = run.users;
    const { key } = await new ApiKeyStore({ pool: fleet.pool }).create({
      name: 'intake test',
      scopes: ['admin'],
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const n = Number((await fleet.pool.query<{ n: string }>('SELECT count(*) AS n FROM turns')).rows[0]!.n);
      if (n === users.length * PER_USER) break;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${users.length * PER_USER} turns recorded`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await verifyStrictOrder(fleet, users, PER_USER);
    const last = results.at(-1)!;
    const turn = await (
      await fetch(`${fleet.gatewayUrl}/v1/turns/${last.turnId}`, {
        headers: { authorization: `Bearer ${key}` },
      })
    ).json();
    expect(turn).toMatchObject({
      turnId: last.turnId,
      userId: last.userId,
      seq: PER_USER,
      status: 'completed',
    });

    // A payload the schema refuses fails once, with the field named, and is never retried.
    expect(report.bad).toMatchObject({ schemaRefusesBad: true, attemptsMade: 1, state: 'failed' });
    expect(report.bad!.failure).toMatch(/^invalid intake message: userId: userId must be 1-128 characters/);
    const badUser = await keysMatching(fleet.redis, `${fleet.namespace}:{u:has spaces}*`);
    expect(badUser).toEqual([]);
    // Text with a NUL, which Postgres cannot store, is refused by the schema and by the fleet alike.
    expect(report.nul).toMatchObject({ schemaRefusesNul: true, attemptsMade: 1, state: 'failed' });
    expect(report.nul!.failure).toMatch(/^invalid intake message: text: must not contain NUL/);
    expect(await keysMatching(fleet.redis, `${fleet.namespace}:{u:nul-user}*`)).toEqual([]);
  });
});

describe('the intake consumer SIGKILLed in the middle of a batch', () => {
  const { fleet } = useSimFleet({
    sim: { latencyMs: 5 },
    workers: 0,
    env: {
      ...FAST_RECOVERY_ENV,
      HISTORY_TOKEN_BUDGET: '100000',
      LOG_LEVEL: 'warn',
      INTAKE_BATCH_SIZE: '64',
    },
  });

  it('loses, duplicates and reorders nothing: another worker takes over its batch', async () => {
    const PER_USER = 8;
    const spec = { producers: 3, users: 10, perUser: PER_USER, prefix: 'crash', withRefused: false };
    const run = runProducers(fleet.namespace, spec);
    // Every message waits before the only consumer starts, so its first batch is a full one (64),
    // and it SIGKILLs itself after the 20th accept of that batch, with none of it settled.
    const wait = `${intakeQueuePrefix(fleet.namespace)}:${INTAKE_QUEUE}:wait`;
    await waitFor(async () => (await fleet.redis.llen(wait)) === run.messages, {
      timeoutMs: 60_000,
      describe: () => 'the producers did not add every message',
    });
    const doomed = fleet.addWorker({ FAULT_INTAKE_CRASH_AFTER_ACCEPTS: '20' });
    doomed.ready.catch(() => {}); // it may die before it says it is ready
    expect(await doomed.exited).toBe('SIGKILL');
    fleet.addWorker();
    fleet.addWorker();
    const results = (await run.reports).flatMap((r) => r.results);
    expect(results).toHaveLength(run.messages);
    for (const r of results) expect(r.seq, `${r.userId} message ${r.s}`).toBe(r.s);
    expect(new Set(results.map((r) => r.turnId)).size).toBe(results.length);
    // Its whole batch was taken back: the messages it had accepted are replayed (created false),
    // the others accepted by the worker that took over.
    const takenBack = results.filter((r) => r.stalled > 0);
    expect(takenBack).toHaveLength(64);
    expect(takenBack.filter((r) => !r.created).length).toBeGreaterThanOrEqual(20);
    expect(takenBack.filter((r) => r.created).length).toBeGreaterThan(0);
    expect(results.filter((r) => !r.created).length).toBe(takenBack.filter((r) => !r.created).length);
    const users = run.users;
    await waitFor(
      async () =>
        Number((await fleet.pool.query<{ n: string }>('SELECT count(*) AS n FROM turns')).rows[0]!.n) ===
        users.length * PER_USER,
      { timeoutMs: 120_000, describe: () => 'not every turn was recorded' },
    );
    await verifyStrictOrder(fleet, users, PER_USER);
  });
});
