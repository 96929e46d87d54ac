/**
 * Timings shortened so crash recovery happens within a test's patience. A module of its own (no
 * vitest import), so the soak command, a plain Node script, runs the fleet with the same timings.
 */
export const FAST_RECOVERY_ENV = {
  JOB_LOCK_MS: '4000',
  STALLED_INTERVAL_MS: '1500',
  TURN_LEASE_MS: '3000',
  PARK_DELAY_MS: '5000',
  GAP_GRACE_MS: '10000',
  TURN_BACKOFF_MS: '100',
  MAX_STALLED_COUNT: '20',
  SHUTDOWN_GRACE_MS: '5000',
};
