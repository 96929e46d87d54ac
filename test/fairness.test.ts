import type { ServiceHandle } from '@agent-fleet/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FairnessResult, FairnessScenario, modelCapacity } from '../scripts/bench/fairness-scenario.ts';
import { startTestFleet, type TestFleet } from './support/fleet.ts';
import { freePort, simProcess } from './support/sim-process.ts';

/**
 * The model servers are the bottleneck, as GPUs are: the simulator answers in 500 to 1000 ms and
 * each worker keeps at most 16 calls in flight (43 calls/s for the fleet), under what the fleet's
 * processes can push on a small machine, so the order the scheduler picks is what decides who
 * waits.
 */
const MODEL = { workers: 2, inFlight: 16, latencyMs: 500, jitterMs: 500 };
/** How much a shared machine's scheduling moves a p95 of a few milliseconds between two phases. */
const SCHEDULING_JITTER_MS = 15;

/**
 * Weighted fair queueing across tenants on real processes (a gateway, two workers, Redis,
 * Postgres, the simulator over HTTP): tenant B's 20 users chat at a steady rate on an idle fleet,
 * then while tenant A posts a burst over many users at once. The scenario is the one
 * `pnpm bench:fairness` prints (scripts/bench/fairness-scenario.ts), without its weighted phase:
 * the shares of tenants weighted 3:1 are not yet steady (2.65:1 to 3.23:1 across runs of this
 * size), so they are measured by the benchmark, not asserted here.
 */
describe('weighted fair queueing across tenants', () => {
  let sim: ServiceHandle;
  let fleet: TestFleet;
  let result: FairnessResult;

  beforeAll(async () => {
    sim = simProcess(await freePort(), 0, {
      SIM_LATENCY_MS: String(MODEL.latencyMs),
      SIM_LATENCY_JITTER_MS: String(MODEL.jitterMs),
    });
    const simUrl = (await sim.ready)!.url;
    fleet = await startTestFleet({
      llmUrl: simUrl,
      workers: MODEL.workers,
      env: {
        LOG_LEVEL: 'warn',
        QUEUE_ORDER: 'fair',
        PARTITIONS: '2',
        WORKER_CONCURRENCY: '140',
        LLM_MAX_IN_FLIGHT_PER_SERVER: String(MODEL.inFlight),
        RATE_LIMIT_USER_PER_SECOND: '0',
        RATE_LIMIT_KEY_PER_SECOND: '0',
        RATE_LIMIT_IP_PER_SECOND: '0',
      },
    });
    await fleet.workersReady();
    const scenario = new FairnessScenario(
      {
        gatewayUrl: fleet.gatewayUrl,
        redis: fleet.redis,
        namespace: fleet.namespace,
        capacity: modelCapacity(MODEL),
      },
      {
        burstMessages: 1000,
        burstUsers: 100,
        steadyUsers: 20,
        periodMs: 2000,
        idleMs: 8000,
        clients: 32,
        log: (line) => process.stderr.write(`fairness: ${line}\n`),
      },
    );
    result = await scenario.run();
  }, 300_000);

  afterAll(async () => {
    await fleet?.stop();
    await sim?.stop();
  });

  it("keeps B's p95 queue wait during A's burst within 2x of B's wait on the idle fleet", () => {
    expect(result.burst.turns).toBeGreaterThan(0);
    // Both are a few milliseconds here (B waits behind none of A's backlog; under FIFO it waits
    // hundreds), and on two shared cores the scheduler alone moves a p95 of a few milliseconds by
    // about as much: the slack is that jitter, not queueing.
    expect(result.burst.wait.p95).toBeLessThanOrEqual(2 * result.idle.wait.p95 + SCHEDULING_JITTER_MS);
  });

  it("drains A's backlog at the fleet's full rate minus B's share (work-conserving)", () => {
    const fleetCapacity = modelCapacity(MODEL);
    // Nobody waits while a model slot is free: the fleet runs near the model servers' capacity,
    // and what B does not use goes to A.
    expect(result.burst.utilisation).toBeGreaterThan(0.6);
    expect(result.burst.aRate).toBeGreaterThan(0.6 * fleetCapacity * (1 - result.burst.bShare));
  });
});
