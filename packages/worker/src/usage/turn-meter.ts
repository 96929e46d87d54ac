import { billableTokens, type UsageKind } from '@agent-fleet/core';
import type { LlmPool, PoolChatRequest, PoolChatResult, PoolStreamEvent } from '@agent-fleet/llm';
import type { EmbeddingUsage } from '@agent-fleet/rag';
import type { Attribution, Hold, UsageMeter } from './meter.ts';

/** What the agent loop and the memory ask of the LLM pool. */
export type ChatPort = Pick<LlmPool, 'chat' | 'chatStream'>;

/** What a turn's parts use of its meter. */
export type TurnMetering = Pick<TurnMeter, 'llm' | 'onEmbedding' | 'flush' | 'tokens'>;

/** Makes the metering of a turn (or of the summary it triggered). */
export interface TurnMeters {
  forTurn(who: { tenant: string; userId: string; turnId: string }): TurnMetering;
}

/**
 * The metering of one turn's delivery (or of the summary a turn triggered): its model calls go
 * through `llm(kind)`, which holds tokens from the budgets before each call and settles them to
 * the real usage after, so a turn whose budget ran out stops before its next call with
 * `quota_exceeded`; its embeddings requests report through `onEmbedding`. `tokens` is what this
 * delivery was charged, for the fair queue's correction.
 */
export class TurnMeter {
  readonly #meter: UsageMeter;
  readonly #llm: ChatPort;
  readonly #who: Omit<Attribution, 'kind'>;
  readonly #pending = new Set<Promise<void>>();
  readonly #onError: (err: unknown) => void;
  readonly #fairShare: boolean;
  /** The terms of the last hold: what an embeddings charge (which holds nothing) settles with. */
  #terms: Hold['terms'] | undefined;
  #tokens = 0;

  constructor(
    meter: UsageMeter,
    llm: ChatPort,
    who: Omit<Attribution, 'kind'>,
    /** Told when a background charge failed (it is then missing from the counts). */
    onError: (err: unknown) => void,
    /** QUEUE_ORDER=fair: calls waiting for a model server slot share the slots fairly by tenant. */
    fairShare = true,
  ) {
    this.#meter = meter;
    this.#llm = llm;
    this.#who = who;
    this.#onError = onError;
    this.#fairShare = fairShare;
  }

  get tenant(): string {
    return this.#who.tenant;
  }

  /** Billable tokens (prompt + completion) charged through this meter so far. */
  get tokens(): number {
    return this.#tokens;
  }

  /** The LLM pool, metered as calls of `kind`. */
  llm(kind: UsageKind = 'chat'): ChatPort {
    const a: Attribution = { ...this.#who, kind };
    return {
      chat: async (req: PoolChatRequest) => {
        const hold = await this.#hold(a, req.signal);
        let result: PoolChatResult;
        try {
          result = await this.#llm.chat(this.#shared(req, a.tenant, hold));
        } catch (err) {
          await this.#meter.release(a, hold);
          throw err;
        }
        await this.#settle(a, result, hold);
        return result;
      },
      chatStream: (req: PoolChatRequest) => this.#stream(a, req),
    };
  }

  /** Charges an embeddings request's share of tokens to the turn (settled in the background). */
  readonly onEmbedding = (u: EmbeddingUsage): void => {
    const charge = this.#settle(
      { ...this.#who, kind: 'embedding' },
      { model: u.model, promptTokens: u.promptTokens, completionTokens: 0, cachedTokens: 0 },
      this.#terms ? { id: '', terms: this.#terms } : undefined,
    )
      .catch(this.#onError)
      .finally(() => this.#pending.delete(charge));
    this.#pending.add(charge);
  };

  /** Waits for background charges (embeddings): call before reading what the turn used. */
  async flush(): Promise<void> {
    await Promise.all(this.#pending);
  }

  async *#stream(a: Attribution, req: PoolChatRequest): AsyncGenerator<PoolStreamEvent> {
    const hold = await this.#hold(a, req.signal);
    let settled = false;
    try {
      for await (const ev of this.#llm.chatStream(this.#shared(req, a.tenant, hold))) {
        if (ev.type === 'done') {
          await this.#settle(a, ev.result, hold);
          settled = true;
        }
        yield ev;
      }
    } finally {
      if (!settled) await this.#meter.release(a, hold);
    }
  }

  #shared(req: PoolChatRequest, tenant: string, hold: Hold): PoolChatRequest {
    return this.#fairShare ? withFairShare(req, tenant, hold) : req;
  }

  async #hold(a: Attribution, signal: AbortSignal | undefined): Promise<Hold> {
    const hold = await this.#meter.hold(a, signal);
    this.#terms = hold.terms;
    return hold;
  }

  async #settle(
    a: Attribution,
    u: { model: string; promptTokens: number; completionTokens: number; cachedTokens: number },
    hold: Hold | undefined,
  ): Promise<void> {
    this.#tokens += billableTokens(u);
    await this.#meter.settle(a, u, hold);
  }
}

/**
 * The request with its tenant's share for the pool's wait queue: its weight, and the call's
 * tokens estimated from the size of what it sends (about four characters a token).
 */
export function withFairShare(req: PoolChatRequest, tenant: string, hold: Hold): PoolChatRequest {
  const chars = req.messages.reduce((n, m) => n + JSON.stringify(m.content ?? '').length, 0);
  return { ...req, fair: { tenant, weight: hold.terms.weight, cost: Math.ceil(chars / 4) } };
}
