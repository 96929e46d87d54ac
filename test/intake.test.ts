import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSim } from '@agent-fleet/llm-sim';
import { ApiKeyStore } from '@agent-fleet/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFleet, type TestFleet } from './support/fleet.ts';
import { keysMatching, redisEnv } from './support/stack.ts';
import { verifyStrictOrder } from './support/verify.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const PRODUCER = join(root, 'test/fixtures/intake-producer.ts');
const SCHEMA = join(root, 'packages/client/schema/intake-message.v1.json');

interface ProducerReport {
  results: { userId: string; s: number; id: string; turnId: string; seq: number; created: boolean }[];
  bad: { schemaRefusesBad: boolean; failure: string; attemptsMade: number; state: string };
  nul: { schemaRefusesNul: boolean; failure: string; attemptsMade: number; state: string };
}

function runProducer(env: Record<string, string>): Promise<ProducerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRODUCER, SCHEMA], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`intake producer exited ${code}:\n${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ProducerReport);
    });
  });
}

describe('the intake queue: a plain BullMQ producer with the JSON Schema, no project code', () => {
  let sim: Awaited<ReturnType<typeof startSim>>;
  let fleet: TestFleet;

  beforeAll(async () => {
    sim = await startSim({ latencyMs: 5, engine: { timeScale: 0 } });
    fleet = await startTestFleet({
      llmUrl: sim.url,
      workers: 2,
      env: { HISTORY_TOKEN_BUDGET: '100000', LOG_LEVEL: 'warn' },
    });
    await fleet.workersReady();
  });
  afterAll(async () => {
    await fleet?.stop();
    await sim?.close();
  });

  it('takes intake jobs in arrival order, gives each its per-user seq, and the workers complete them in order', async () => {
    const USERS = 20;
    const PER_USER = 5;
    const report = await runProducer({
      ...redisEnv(),
      FLEET_NAMESPACE: fleet.namespace,
      USERS: String(USERS),
      PER_USER: String(PER_USER),
    });
    expect(report.results).toHaveLength(USERS * PER_USER);
    for (const r of report.results)
      expect(r, `${r.userId} message ${r.s}`).toMatchObject({ seq: r.s, created: true });

    // The job's return value is how a non-Node producer learns the turn; the gateway reports it.
    const users = Array.from({ length: USERS }, (_, i) => `py-like-${i}`);
    const { key } = await new ApiKeyStore({ pool: fleet.pool }).create({
      name: 'intake test',
      scopes: ['admin'],
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const n = Number((await fleet.pool.query<{ n: string }>('SELECT count(*) AS n FROM turns')).rows[0]!.n);
      if (n === USERS * PER_USER) break;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${USERS * PER_USER} turns recorded`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await verifyStrictOrder(fleet, users, PER_USER);
    const last = report.results.at(-1)!;
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
    expect(report.bad.failure).toMatch(/^invalid intake message: userId: userId must be 1-128 characters/);
    const badUser = await keysMatching(fleet.redis, `${fleet.namespace}:{u:has spaces}*`);
    expect(badUser).toEqual([]);
    // Text with a NUL, which Postgres cannot store, is refused by the schema and by the fleet alike.
    expect(report.nul).toMatchObject({ schemaRefusesNul: true, attemptsMade: 1, state: 'failed' });
    expect(report.nul.failure).toMatch(/^invalid intake message: text: must not contain NUL/);
    expect(await keysMatching(fleet.redis, `${fleet.namespace}:{u:nul-user}*`)).toEqual([]);
  });
});
