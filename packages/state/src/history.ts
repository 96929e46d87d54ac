import { type HistoryMessage, LuaScript, userKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';

const historyAppend = new LuaScript(new URL('./lua/history-append-2.lua', import.meta.url));

/** Rough token count until the tokenizer lands: about four characters per token. */
export const CHARS_PER_TOKEN = 4;

/**
 * The hot copy of each user's conversation: one Redis list per user, appended once per turn (a
 * redelivered turn cannot append twice) and trimmed to a token budget, oldest messages first.
 */
export class HistoryStore {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #budgetChars: number;

  constructor(opts: { redis: Redis; namespace: string; tokenBudget: number }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#budgetChars = opts.tokenBudget * CHARS_PER_TOKEN;
  }

  async load(userId: string): Promise<HistoryMessage[]> {
    const items = await this.#redis.lrange(userKeys(this.#namespace, userId).history, 0, -1);
    return items.map((s) => JSON.parse(s) as HistoryMessage);
  }

  /** Returns false when this turn was already in the history. */
  async append(userId: string, seq: number, messages: HistoryMessage[]): Promise<boolean> {
    const k = userKeys(this.#namespace, userId);
    const added = await historyAppend.run(
      this.#redis,
      [k.history, k.historyMeta],
      [seq, this.#budgetChars, ...messages.map((m) => JSON.stringify(m))],
    );
    return added === 1;
  }
}
