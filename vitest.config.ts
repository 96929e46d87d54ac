import { defineConfig } from 'vitest/config';

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
        test: { name: 'e2e', include: ['test/**/*.test.ts'], fileParallelism: false, testTimeout: 600_000 },
      },
    ],
  },
});
