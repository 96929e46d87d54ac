import { ATTR, type HistoryMessage, type Logger, NO_TENANT, type TurnJob } from '@agent-fleet/core';
import type { PoolMessage } from '@agent-fleet/llm';
import { CITATION_INSTRUCTIONS, formatPassages, type Retriever } from '@agent-fleet/rag';
import type { Profile } from '@agent-fleet/state';
import { decodePending, type HistoryMeta, type TurnControl, type TurnGate } from '@agent-fleet/turns';
import { type Memory, promptMessages } from '../memory.ts';
import { type StageTimer, UNTIMED } from '../stage-timer.ts';
import type { TurnMetering, TurnMeters } from '../usage/turn-meter.ts';
import { type CoalescedTurn, decodeCheckpoint, type Grounding, type TurnCheckpoint } from './checkpoint.ts';
import { CancelledError } from './errors.ts';
import { searchAgainInstructions } from './search-again.ts';

/** A turn ready to run: everything the agent loop starts from, decided before its first step. */
export interface PreparedTurn {
  job: TurnJob;
  profile: Profile | null;
  /** The later messages this turn answers too, in seq order. */
  coalesced: CoalescedTurn[];
  grounding: Grounding;
  /** System prompt, role context, summary and history, then the question with its passages. */
  prompt: PoolMessage[];
  /** What earlier deliveries of this turn checkpointed (no steps on a first delivery). */
  resumed: TurnCheckpoint;
  /** This delivery's metering: its model calls and embeddings count against the profile's tenant. */
  meter: TurnMetering;
}

/** What the gate handed over when it let the turn in. */
export interface BegunTurn {
  /** The lease this delivery holds (a rebuild of the history is written only under it). */
  lease: string;
  scratchpad: Record<string, string>;
  history: HistoryMessage[];
  meta: HistoryMeta;
}

/** The collaborators preparing a turn needs, and only those. */
export interface PreparePorts {
  control: Pick<TurnControl, 'isCancelled'>;
  memory: Pick<Memory, 'recall'>;
  profiles: { get(userId: string): Promise<Profile | null> };
  pending: Pick<TurnGate, 'pendingAfter'>;
  retriever: Pick<Retriever, 'search'>;
  /** The metering of a turn, for the tenant its profile names. */
  meters: TurnMeters;
  logger: Logger;
}

export interface PrepareSettings {
  systemPrompt: string;
  /** Passages retrieved per user message (0 turns retrieval off). */
  topK: number;
  /** Token budget of the passages in a prompt. */
  contextTokens: number;
}

/**
 * Prepares a turn the gate let in: refuses a cancelled one, reads its checkpoint, recalls the
 * history, loads the profile, and decides what the turn answers (coalesced messages) and with which
 * passages. A resumed turn keeps the decisions its checkpoint holds, so it asks the same question
 * with the same sources as the delivery that started it.
 */
export class TurnPreparer {
  readonly #ports: PreparePorts;
  readonly #settings: PrepareSettings;

  constructor(ports: PreparePorts, settings: PrepareSettings) {
    this.#ports = ports;
    this.#settings = settings;
  }

  /** `stages` times the loading (`load`) and the passages (`retrieval`). */
  async prepare(job: TurnJob, begun: BegunTurn, stages: StageTimer = UNTIMED): Promise<PreparedTurn> {
    const { resumed, history, meta, profile, coalesced } = await stages.time('load', () =>
      this.#load(job, begun),
    );
    const meter = this.#ports.meters.forTurn({
      tenant: profile?.tenant ?? NO_TENANT,
      userId: job.userId,
      turnId: job.turnId,
    });
    const question = [job.text, ...coalesced.map((c) => c.text)].join('\n\n');
    const grounding =
      resumed.grounding ??
      (await stages.time('retrieval', async (span) => {
        const found = await this.#retrieve(question, profile, meter);
        span.setAttribute(ATTR.passages, found.citations.length);
        return found;
      }));
    const prompt = [
      { role: 'system' as const, content: this.#system(profile) },
      ...promptMessages(history, meta),
      {
        role: 'user' as const,
        content: withPassages(question, grounding, searchAgainInstructions(question, grounding, profile)),
      },
    ];
    return { job, profile, coalesced, grounding, prompt, resumed, meter };
  }

  /** Refuses a cancelled turn; reads its checkpoint, history, profile and coalesced messages. */
  async #load(job: TurnJob, begun: BegunTurn) {
    const p = this.#ports;
    if (await p.control.isCancelled(job.userId, job.turnId)) throw new CancelledError();
    const resumed = decodeCheckpoint(begun.scratchpad);
    const { history, meta } = await p.memory.recall(
      job.userId,
      job.seq,
      begun.lease,
      begun.history,
      begun.meta,
    );
    const profile = await p.profiles.get(job.userId);
    const coalesced = resumed.coalesced ?? (await this.#coalesce(job));
    return { resumed, history, meta, profile, coalesced };
  }

  /** The later messages sent with `coalesce` right after this one and not started yet. */
  async #coalesce(job: TurnJob): Promise<CoalescedTurn[]> {
    const coalesced: CoalescedTurn[] = [];
    for (const { seq, payload } of await this.#ports.pending.pendingAfter(job.userId, job.seq)) {
      const next = decodePending(seq, payload);
      if (!next.coalesce) break;
      coalesced.push({ seq, turnId: next.turnId, text: next.text, enqueuedAt: next.enqueuedAt });
    }
    if (coalesced.length > 0)
      this.#ports.logger.info(
        { turnId: job.turnId, coalesced: coalesced.map((c) => c.seq) },
        'answering later messages in this turn',
      );
    return coalesced;
  }

  /**
   * Passages the user may read that match the question. Access comes only from the stored profile
   * (never from the request); a user without one gets no passages.
   */
  async #retrieve(question: string, profile: Profile | null, meter: TurnMetering): Promise<Grounding> {
    const { topK, contextTokens } = this.#settings;
    if (!profile || topK === 0) return { context: '', citations: [] };
    const access = { tenant: profile.tenant, groups: profile.groups };
    const hits = await this.#ports.retriever.search(access, question, {
      k: topK,
      onUsage: meter.onEmbedding,
    });
    return formatPassages(hits, { maxTokens: contextTokens });
  }

  #system(profile: Profile | null): string {
    const base = this.#settings.systemPrompt;
    return profile?.roleContext ? `${base}\n\n${profile.roleContext}` : base;
  }
}

/**
 * The newest user message. Passages go inside it only, so everything before it (system prompt,
 * role context, summary, history exactly as the last turn sent them) is a prefix the servers have
 * already cached. `searchAgain` (or '') follows the passages when they are weak.
 */
function withPassages(question: string, grounding: Grounding, searchAgain: string): string {
  if (!grounding.context) return question;
  const note = searchAgain ? `${searchAgain}\n\n` : '';
  return `${CITATION_INSTRUCTIONS}\n\nPassages:\n${grounding.context}\n\n${note}Question: ${question}`;
}
