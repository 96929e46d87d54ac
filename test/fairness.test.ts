import type { ServiceHandle } from '@agent-fleet/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FairnessResult, FairnessScenario, modelCapacity } from '../scripts/bench/fairness-scenario.ts';
import { startTestFleet, type TestFleet } from './support/fleet.ts';
import { freePort, simProcess } from './support/sim-process.ts';

/**
 * The model servers are the bottleneck, as GPUs are: the simulator answers in 300 to 700 ms and
 * each worker keeps at most 16 calls in flight (64 calls/s for the fleet), under what the fleet's
 * processes can push on this 2-core machine (about 100 turns/s at most, less while other suites
 * run), so the order the schedulers pick is what decides who waits. With 107 calls/s the
 * fleet's processes became a bottleneck too, the weighted tenants' calls no longer always waited
 * at the model servers, and their shares fell towards 1:1 (2.62 and 2.68:1).
 */
const MODEL = { workers: 2, inFlight: 16, latencyMs: 300, jitterMs: 400 };
/**
 * What the load itself adds to B's p95 queue wait on two cores shared by the load generator,
 * gateway, workers, Redis, Postgres, the simulator (and other suites): B never waits for a queue
 * position here (worker slots are free, and its jobs go ahead of A's backlog), but every stage
 * (the gateway's accept and enqueue, a worker taking the job, the gate) waits for CPU. Measured
 * at this size: p95 22 to 246 ms during the burst against 4 to 35 ms alone (the most with the
 * machine's load at 8 to 11), with p50 2 to 6 ms against 2 to 3 ms. Where the model servers are the bottleneck, FIFO's harm is not in this wait
 * either (180 ms at p95 in bench:fairness) but at the servers: B's calls queue behind A's backlog
 * there, which the answer time shows.
 */
const CPU_CONTENTION_MS = 250;

/**
 * Weighted fair queueing across tenants on real processes (a gateway, two workers, Redis,
 * Postgres, the simulator over HTTP): tenant B's 20 users chat at a steady rate on an idle fleet,
 * then while tenant A posts 5,000 messages over 500 users at once; then tenants weighted 3:1 both
 * post bursts. The scenario is the one `pnpm bench:fairness` prints
 * (scripts/bench/fairness-scenario.ts), at the size.
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
        burstMessages: 5000,
        burstUsers: 500,
        steadyUsers: 20,
        periodMs: 2000,
        idleMs: 8000,
        weighted: { messages: 576, users: 96, weights: [3, 1] },
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

  it("keeps B's queue wait during A's burst within 2x of B's wait on the idle fleet", () => {
    expect(result.burst.turns).toBeGreaterThan(0);
    // The median holds the aim as it is (a few milliseconds each; the slack is a shared machine's
    // scheduling jitter); the p95 holds it plus the CPU contention the load brings.
    expect(result.burst.wait.p50).toBeLessThanOrEqual(2 * result.idle.wait.p50 + 15);
    expect(result.burst.wait.p95).toBeLessThanOrEqual(2 * result.idle.wait.p95 + CPU_CONTENTION_MS);
  });

  it("answers B within 2x of its answer time on the idle fleet (FIFO: B's calls wait behind A's backlog)", () => {
    // Fair queueing at the model servers: B's calls wait for a slot, not for A's backlog. FIFO
    // gives 12.6x (bench:fairness).
    expect(result.burst.latency.p95).toBeLessThanOrEqual(2 * result.idle.latency.p95);
  });

  it("drains A's backlog at the fleet's full rate minus B's share (work-conserving)", () => {
    const fleetCapacity = modelCapacity(MODEL);
    // Nobody waits while a model slot is free: the fleet runs near the model servers' capacity,
    // and what B does not use goes to A.
    expect(result.burst.utilisation).toBeGreaterThan(0.6);
    expect(result.burst.aRate).toBeGreaterThan(0.6 * fleetCapacity * (1 - result.burst.bShare));
  });

  it('serves tenants weighted 3:1 within 10% of 3:1 while both have a backlog', () => {
    expect(result.weighted!.ratio).toBeGreaterThan(2.7);
    expect(result.weighted!.ratio).toBeLessThan(3.3);
  });
});
