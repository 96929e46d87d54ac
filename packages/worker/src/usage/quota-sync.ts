import type { Logger } from '@agent-fleet/core';
import type { QuotaStore } from '@agent-fleet/state';
import type { QuotaBook } from '@agent-fleet/turns';

/**
 * Copies every quota from Postgres (the durable copy) into Redis (where the checks read them), at
 * start and every QUOTA_SYNC_INTERVAL_MS: a Redis that lost its data, or a write that reached
 * Postgres but not Redis, is put right within one interval. Every worker runs it; the writes are
 * idempotent.
 */
export class QuotaSync {
  readonly #store: Pick<QuotaStore, 'listTenants' | 'listUsers'>;
  readonly #book: Pick<QuotaBook, 'putTenant' | 'putUser'>;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: {
    store: Pick<QuotaStore, 'listTenants' | 'listUsers'>;
    book: Pick<QuotaBook, 'putTenant' | 'putUser'>;
    intervalMs: number;
    logger: Logger;
  }) {
    this.#store = opts.store;
    this.#book = opts.book;
    this.#intervalMs = opts.intervalMs;
    this.#logger = opts.logger;
  }

  start(): void {
    const run = () => {
      this.syncOnce().catch((err: unknown) =>
        this.#logger.warn(
          { err: (err as Error).message },
          'could not copy the quotas into Redis; will try again',
        ),
      );
    };
    run();
    this.#timer = setInterval(run, this.#intervalMs);
    this.#timer.unref();
  }

  /** Copies every tenant's and user's quota; resolves how many were copied. */
  async syncOnce(): Promise<number> {
    let copied = 0;
    for (const q of await this.#store.listTenants()) {
      await this.#book.putTenant(q.tenant, q);
      copied++;
    }
    for (let after = ''; ; ) {
      const page = await this.#store.listUsers({ after, limit: 1000 });
      for (const q of page) await this.#book.putUser(q.userId, q);
      copied += page.length;
      if (page.length < 1000) break;
      after = page.at(-1)!.userId;
    }
    return copied;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
