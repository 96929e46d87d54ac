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
        test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'] },
      },
      {
        extends: true,
        // End-to-end tests start real processes; run them one file at a time on small machines.
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: CLUSTER_ONLY,
          fileParallelism: false,
          testTimeout: 600_000,
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
