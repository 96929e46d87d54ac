import { createHash } from 'node:crypto';
import type { ApiKey, ApiKeyStore } from '@agent-fleet/state';

/**
 * Verified API keys remembered for a short while, so a request costs no Postgres query. Failures
 * are remembered too, so a flood of bad keys does not reach Postgres either. A revocation announced
 * by `ApiKeyRevocations` reaches `drop` and ends the key here at once, also when a lookup of that
 * key was under way as it came; `ttlMs` (API_KEY_CACHE_SECONDS) bounds how long a key stays
 * accepted only should every announcement be lost.
 */
export class ApiKeyCache {
  readonly #store: Pick<ApiKeyStore, 'verify'>;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #entries = new Map<string, { key: ApiKey | null; until: number }>();
  /** Counts drops and clears; a lookup that began before one of them does not trust its answer. */
  #epoch = 0;
  #clearedAt = 0;
  /** keyId -> the epoch it was dropped at, for lookups still under way (bounded). */
  readonly #dropped = new Map<string, number>();

  constructor(opts: { store: Pick<ApiKeyStore, 'verify'>; ttlMs?: number; maxEntries?: number }) {
    this.#store = opts.store;
    this.#ttlMs = opts.ttlMs ?? 30_000;
    this.#max = opts.maxEntries ?? 10_000;
  }

  async verify(token: string): Promise<ApiKey | null> {
    const started = this.#epoch;
    if (this.#ttlMs <= 0) return this.#checked(await this.#store.verify(token), started);
    const id = createHash('sha256').update(token).digest('base64url');
    const hit = this.#entries.get(id);
    const now = Date.now();
    if (hit && hit.until > now) return hit.key;
    const key = this.#checked(await this.#store.verify(token), started);
    this.#entries.delete(id);
    if (this.#clearedAt > started) return key;
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(id, { key, until: now + this.#ttlMs });
    return key;
  }

  /** Forget the key `keyId` (it was revoked): its next request is checked against Postgres. */
  drop(keyId: string): void {
    this.#epoch++;
    for (const [id, entry] of this.#entries) if (entry.key?.id === keyId) this.#entries.delete(id);
    this.#dropped.delete(keyId);
    this.#dropped.set(keyId, this.#epoch);
    if (this.#dropped.size > 1000) this.#dropped.delete(this.#dropped.keys().next().value!);
  }

  /** Forget everything (revocations may have been missed). */
  clear(): void {
    this.#epoch++;
    this.#clearedAt = this.#epoch;
    this.#entries.clear();
  }

  /** A key looked up before its revocation arrived is refused: Postgres may have answered first. */
  #checked(key: ApiKey | null, started: number): ApiKey | null {
    return key && (this.#dropped.get(key.id) ?? 0) > started ? null : key;
  }
}
