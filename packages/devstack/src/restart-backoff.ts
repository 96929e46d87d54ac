/**
 * When a supervised process is restarted. The n-th consecutive restart waits
 * `initialDelayMs × factor^(n-1)`, never more than `maxDelayMs`, so a process that cannot start
 * (its port taken, its data directory locked) is retried ever more slowly instead of spinning the
 * CPU. A run that stayed up `stableAfterMs` counts as healthy: the next restart is the first again.
 */
export interface RestartBackoff {
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  stableAfterMs: number;
}

/** 0.25 s, 0.5 s, 1 s, … up to 30 s; reset after a minute up. */
export const DEFAULT_RESTART_BACKOFF: RestartBackoff = {
  initialDelayMs: 250,
  factor: 2,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
};

/** The wait before consecutive restart number `attempt` (1 for the first). */
export function restartDelayMs(policy: RestartBackoff, attempt: number): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.maxDelayMs, Math.round(policy.initialDelayMs * policy.factor ** exponent));
}
