import type { TenantTokens } from '@agent-fleet/core';
import { WindowedCounters } from './windowed-counters.ts';

/**
 * Tokens the model calls of this worker's turns used per tenant, as the servers reported them,
 * over the last minute (what `fleet top` ranks tenants by). The tenant comes from the turn's stored
 * profile; tenants are few, so the map stays small.
 */
export class TenantTokenWindow {
  readonly #totals = new Map<string, number>();
  readonly #window: WindowedCounters;

  constructor(windowMs: number) {
    this.#window = new WindowedCounters(windowMs);
  }

  add(tenant: string, promptTokens: number, completionTokens: number): void {
    this.#bump(`${tenant}\u0000prompt`, promptTokens);
    this.#bump(`${tenant}\u0000completion`, completionTokens);
  }

  /** Samples the totals at `at` and returns every tenant's tokens over the window. */
  read(at: number): TenantTokens[] {
    this.#window.sample(at, this.#totals);
    const byTenant = new Map<string, TenantTokens>();
    for (const [key, n] of this.#window.gained()) {
      const [tenant, kind] = key.split('\u0000') as [string, 'prompt' | 'completion'];
      const t = byTenant.get(tenant) ?? { tenant, promptTokens: 0, completionTokens: 0 };
      if (kind === 'prompt') t.promptTokens += n;
      else t.completionTokens += n;
      byTenant.set(tenant, t);
    }
    return [...byTenant.values()].filter((t) => t.promptTokens + t.completionTokens > 0);
  }

  #bump(key: string, n: number): void {
    this.#totals.set(key, (this.#totals.get(key) ?? 0) + n);
  }
}
