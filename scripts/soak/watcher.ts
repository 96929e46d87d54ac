import { setTimeout as sleep } from 'node:timers/promises';
import { TurnRecords } from '@agent-fleet/turns';
import { Redis } from 'ioredis';
import { isFinal, type Ledger } from './ledger.ts';

/**
 * Follows the accepted turns while the soak runs: every `intervalMs` it reads the Redis record of
 * each turn not yet seen final (one pipelined round trip) and notes its status and times in the
 * ledger. That is what the progress line counts and what recovery times are measured from (a
 * turn's `completedAt` is the worker's clock, on this machine). The final verdict does not rely on
 * it: it reads Redis and Postgres again after the drain. While Redis is down a poll simply fails.
 */
export class CompletionWatcher {
  readonly #redis: Redis;
  readonly #records: TurnRecords;
  readonly #ledger: Ledger;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(opts: { redisUrl: string; namespace: string; ledger: Ledger }) {
    this.#redis = new Redis(opts.redisUrl, {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    this.#redis.on('error', () => {});
    this.#records = new TurnRecords({ redis: this.#redis, namespace: opts.namespace, ttlSeconds: 60 });
    this.#ledger = opts.ledger;
  }

  start(intervalMs = 250): void {
    this.#loop ??= (async () => {
      while (!this.#stopped) {
        await this.poll().catch(() => {});
        await sleep(intervalMs);
      }
    })();
  }

  /** Reads the records of the turns not seen final yet; resolves with how many are still open. */
  async poll(): Promise<number> {
    const open = this.#ledger.openTurns();
    const records = await Promise.all(open.map((e) => this.#records.get(e.turnId!)));
    let stillOpen = 0;
    open.forEach((entry, i) => {
      const record = records[i];
      if (!record) return;
      entry.status = record.status;
      entry.enqueuedAt = record.enqueuedAt;
      if (record.completedAt !== undefined) entry.completedAt = record.completedAt;
      if (!isFinal(record.status)) stillOpen++;
    });
    return stillOpen + open.filter((_, i) => !records[i]).length;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    this.#redis.disconnect();
  }
}
