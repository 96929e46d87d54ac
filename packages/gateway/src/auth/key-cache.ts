import { createHash } from 'node:crypto';
import type { ApiKey, ApiKeyStore } from '@agent-fleet/state';

/**
 * Verified API keys remembered for a short while, so a request costs no Postgres query. The price
 * is that a revoked key keeps working for at most `ttlMs` (the default 30 s) on each gateway.
 * Failures are remembered too, so a flood of bad keys does not reach Postgres either.
 */
export class ApiKeyCache {
  readonly #store: Pick<ApiKeyStore, 'verify'>;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #entries = new Map<string, { key: ApiKey | null; until: number }>();

  constructor(opts: { store: Pick<ApiKeyStore, 'verify'>; ttlMs?: number; maxEntries?: number }) {
    this.#store = opts.store;
    this.#ttlMs = opts.ttlMs ?? 30_000;
    this.#max = opts.maxEntries ?? 10_000;
  }

  async verify(token: string): Promise<ApiKey | null> {
    if (this.#ttlMs <= 0) return this.#store.verify(token);
    const id = createHash('sha256').update(token).digest('base64url');
    const hit = this.#entries.get(id);
    const now = Date.now();
    if (hit && hit.until > now) return hit.key;
    const key = await this.#store.verify(token);
    this.#entries.delete(id);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(id, { key, until: now + this.#ttlMs });
    return key;
  }
}
