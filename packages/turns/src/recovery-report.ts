import { type RecoveryReport, RedisStore, recoveryReportKey, recoveryReportSchema } from '@agent-fleet/core';

/**
 * What the last recovery sweep found, kept in Redis by whichever worker swept (one at a time holds
 * the sweep's lock) and read by the gateway, which exports it for the whole fleet: a number that
 * stays with the fleet, not with the worker that last happened to sweep.
 */
export class RecoveryReports extends RedisStore {
  readonly #key = recoveryReportKey(this.namespace);

  /** Keeps `report` for `ttlMs`: a fleet whose sweeps stopped has no report rather than an old one. */
  async write(report: RecoveryReport, ttlMs: number): Promise<void> {
    await this.redis.set(this.#key, JSON.stringify(report), 'PX', ttlMs);
  }

  async read(): Promise<RecoveryReport | null> {
    const text = await this.redis.get(this.#key);
    if (text === null) return null;
    const parsed = recoveryReportSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  }
}
