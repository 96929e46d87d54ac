import { defineConfig } from 'vitest/config';

/** End-to-end tests that also run against a Redis Cluster (test/support/global-cluster.ts). */
const ON_CLUSTER_TOO = [
  'test/ordering.test.ts',
  'test/chaos.test.ts',
  'test/intake.test.ts',
  'test/double-texting.test.ts',
  'test/sdk.test.ts',
  'test/hot-state.test.ts',
];
/** Tests of the cluster itself: its slot spread, a failover, `fleet start` on it. */
const CLUSTER_ONLY = ['test/redis-cluster.test.ts', 'test/redis-failover.test.ts'];
/**
 * End-to-end tests that measure time or load the machine (latency ratios, recovery within seconds,
 * timeouts, the soak, image builds): they run one at a time, with nothing beside them. The others
 * run two at a time, each with its own processes, key namespace and database.
 */
const ALONE = [
  'test/fairness.test.ts',
  'test/soak.test.ts',
  'test/review-chat-latency.test.ts',
  'test/head-of-line.test.ts',
  'test/fleet-autoscale.test.ts',
  'test/fleet-supervision.test.ts',
  'test/postgres-outage.test.ts',
  'test/redis-outage.test.ts',
  'test/outage-window.test.ts',
  'test/llm-wait.test.ts',
  'test/recovery-sweep.test.ts',
  'test/key-revocation.test.ts',
  'test/event-streams.test.ts',
  'test/gateway-limits.test.ts',
  'test/cancel.test.ts',
  'test/openai.test.ts',
  'test/turn-timings.test.ts',
  'test/docker-targets.test.ts',
];
/** Workers of the first group (unit tests and the end-to-end tests that may share the machine). */
const SHARED_WORKERS = 2;

// One Redis and one Postgres for the whole run (test/support/global-stack.ts); each test isolates
// itself with its own key namespace and a fresh database cloned from a migrated template.
export default defineConfig({
  test: {
    globalSetup: ['./test/support/global-stack.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], maxWorkers: SHARED_WORKERS },
      },
      {
        extends: true,
        // End-to-end tests start real processes: two files at a time on small machines.
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: [...CLUSTER_ONLY, ...ALONE],
          maxWorkers: SHARED_WORKERS,
          testTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e-alone',
          include: ALONE,
          fileParallelism: false,
          testTimeout: 600_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        // The same end-to-end tests with every client on a 3-master Redis Cluster, in a group of its
        // own: never beside the unit tests or the other end-to-end tests.
        test: {
          name: 'e2e-cluster',
          include: [...ON_CLUSTER_TOO, ...CLUSTER_ONLY],
          globalSetup: ['./test/support/global-cluster.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
