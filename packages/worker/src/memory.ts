import { countTokens, type HistoryMessage, type Logger } from '@agent-fleet/core';
import type { LlmPool, PoolMessage } from '@agent-fleet/llm';
import type { Transcript } from '@agent-fleet/state';
import type { HistoryMeta, RebuiltHistory, TurnGate } from '@agent-fleet/turns';
import { LeaseLostError } from './turn/errors.ts';

/** What one message costs in a prompt: its tokens plus the chat template's markers around it. */
export const MESSAGE_OVERHEAD_TOKENS = 4;

export function messageTokens(content: string): number {
  return countTokens(content) + MESSAGE_OVERHEAD_TOKENS;
}

/** The summary (if any) and the history as prompt messages, oldest first. */
export function promptMessages(history: HistoryMessage[], meta: HistoryMeta): PoolMessage[] {
  return [
    ...(meta.summary
      ? [{ role: 'system' as const, content: `Summary of the earlier conversation:\n${meta.summary}` }]
      : []),
    ...history.map((m) => ({ role: m.role, content: m.content }) as PoolMessage),
  ];
}

const SUMMARY_INSTRUCTIONS =
  'You keep the running summary of a conversation between a user and their assistant. Rewrite the ' +
  'summary so it also covers the new turns below: keep facts, figures, decisions, commitments and ' +
  'open questions; drop small talk. Write plain prose in at most 200 words, no preamble.';

export interface MemoryOptions {
  gate: Pick<TurnGate, 'rebuild' | 'historyState' | 'fold'>;
  transcript: Pick<Transcript, 'latestSummary' | 'conversation' | 'saveSummary'>;
  llm: Pick<LlmPool, 'chat'>;
  /** Tokens the history may hold in Redis (and so in a prompt) before old turns are folded. */
  tokenBudget: number;
  logger: Logger;
}

/**
 * An agent's memory within a token budget. History grows turn by turn; when it passes the budget,
 * the oldest turns are folded into a rolling summary written by the model, in one large step (down
 * to half the budget), so the prompt prefix the servers have cached stays the same for many turns
 * between folds. A user's history leaves Redis with the rest of their hot state once they are idle
 * (HOT_STATE_TTL), or when Redis loses it; their next turn rebuilds it from the Postgres
 * transcript and the last durable summary, under the turn's lease.
 */
export class Memory {
  readonly #o: MemoryOptions;

  constructor(opts: MemoryOptions) {
    this.#o = opts;
  }

  /**
   * The history turn `seq` starts from. When Redis has none although earlier turns exist (the hot
   * state expired, or Redis lost it), rebuild it from the transcript while `lease` is this
   * delivery's; a delivery that lost the lease stops (another one runs the turn).
   */
  async recall(
    userId: string,
    seq: number,
    lease: string,
    history: HistoryMessage[],
    meta: HistoryMeta,
  ): Promise<{ history: HistoryMessage[]; meta: HistoryMeta }> {
    if (meta.lastSeq > 0 || history.length > 0 || seq <= 1) return { history, meta };
    const rebuilt = await this.#fromTranscript(userId, seq);
    if (!rebuilt) return { history, meta };
    const restored = await this.#o.gate.rebuild(userId, lease, rebuilt);
    if (!restored) throw new LeaseLostError();
    this.#o.logger.debug({ userId, seq, messages: rebuilt.messages.length }, 'history rebuilt from Postgres');
    return { history: restored.messages, meta: restored.meta };
  }

  /**
   * The newest messages before `seq` that fit the budget (whole turns) and the last summary, read
   * side by side (one round trip of a cold turn): the messages the summary covers are dropped.
   */
  async #fromTranscript(userId: string, seq: number): Promise<RebuiltHistory | null> {
    const { transcript } = this.#o;
    const [summary, recent] = await Promise.all([
      transcript.latestSummary(userId, seq),
      transcript.conversation(userId, { afterSeq: 0, beforeSeq: seq, limit: 400 }),
    ]);
    const rows = recent.filter((r) => r.seq > (summary?.upToSeq ?? 0));
    if (rows.length === 0 && !summary) return null;
    const kept: HistoryMessage[] = [];
    let tokens = 0;
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i]!;
      const m: HistoryMessage = { ...r, tokens: messageTokens(r.content) };
      if (tokens + m.tokens! > this.#o.tokenBudget && kept.length > 0 && kept[0]!.seq !== m.seq) break;
      kept.unshift(m);
      tokens += m.tokens!;
    }
    return {
      messages: kept,
      lastSeq: rows.at(-1)?.seq ?? summary?.upToSeq ?? 0,
      ...(summary ? { summary: summary.summary } : {}),
      summaryUpTo: summary?.upToSeq ?? 0,
    };
  }

  /**
   * After a turn is committed: if the history passed its budget, fold its oldest whole turns into
   * the summary until it is at most half the budget. Never folds the newest turn. The summary's
   * call goes through `opts.llm` when given: the turn that triggered the fold meters it.
   */
  async foldIfNeeded(
    userId: string,
    historyTokens: number,
    opts: { signal?: AbortSignal; llm?: Pick<LlmPool, 'chat'> } = {},
  ): Promise<boolean> {
    const { signal } = opts;
    if (historyTokens <= this.#o.tokenBudget) return false;
    const { messages, meta } = await this.#o.gate.historyState(userId);
    const target = Math.floor(this.#o.tokenBudget / 2);
    const newestSeq = messages.at(-1)?.seq;
    let left = meta.tokens;
    let cut = 0;
    while (cut < messages.length && left > target && messages[cut]!.seq !== newestSeq) {
      const seq = messages[cut]!.seq;
      while (cut < messages.length && messages[cut]!.seq === seq) left -= messages[cut++]!.tokens ?? 0;
    }
    const folded = messages.slice(0, cut);
    if (folded.length === 0) return false;
    const transcript = folded
      .map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`)
      .join('\n');
    const res = await (opts.llm ?? this.#o.llm).chat({
      userId,
      priority: 'batch',
      ...(signal ? { signal } : {}),
      messages: [
        { role: 'system', content: SUMMARY_INSTRUCTIONS },
        {
          role: 'user',
          content: `${meta.summary ? `Summary so far:\n${meta.summary}\n\n` : ''}New turns:\n${transcript}`,
        },
      ],
    });
    const upTo = folded.at(-1)!.seq;
    await this.#o.transcript.saveSummary(userId, upTo, res.content);
    const remaining = await this.#o.gate.fold(userId, folded, res.content);
    this.#o.logger.info(
      { userId, foldedTurns: new Set(folded.map((m) => m.seq)).size, upTo, remaining },
      'history folded',
    );
    return remaining !== null;
  }
}
