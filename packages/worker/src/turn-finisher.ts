import type { FinalStatus, HistoryMessage, Logger, TurnJob } from '@agent-fleet/core';
import type { Citation } from '@agent-fleet/rag';
import type { Transcript } from '@agent-fleet/state';
import {
  type CommitResult,
  decodePending,
  type PartitionQueues,
  type TurnEvents,
  type TurnGate,
  type TurnRecords,
} from '@agent-fleet/turns';
import { messageTokens } from './memory.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { CoalescedTurn } from './turn/checkpoint.ts';

/**
 * How turns end: committing them in the gate and waking the user's next turn, and recording the
 * turns that end otherwise than with an answer (failed, cancelled, interrupted, answered by an
 * earlier turn), and repairing a predecessor that got stuck. Each is idempotent.
 */
export interface TurnFinisherOptions {
  gate: TurnGate;
  records: TurnRecords;
  partitions: PartitionQueues;
  transcript: Transcript;
  events: TurnEvents;
  metrics: WorkerMetrics;
  logger: Logger;
  gapGraceMs: number;
}

export class TurnFinisher {
  readonly #o: TurnFinisherOptions;

  constructor(opts: TurnFinisherOptions) {
    this.#o = opts;
  }

  /**
   * Finish the turns this one answered for: each completed with the same reply, in order (their
   * own jobs are then duplicates), and wake the user's turn after the last.
   */
  async merged(t: TurnJob, merged: CoalescedTurn[], reply: string, citations: Citation[], log: Logger) {
    const o = this.#o;
    let fin: CommitResult = { kind: 'already-finished' };
    for (const m of merged) {
      await o.transcript.record({
        turnId: m.turnId,
        userId: t.userId,
        seq: m.seq,
        status: 'completed',
        enqueuedAt: m.enqueuedAt,
        completedAt: Date.now(),
        messages: [],
        citations,
      });
      fin = await o.gate.commit({
        userId: t.userId,
        seq: m.seq,
        turnId: m.turnId,
        token: '',
        status: 'completed',
        outcome: reply,
        ...(citations.length ? { citations } : {}),
      });
      await o.events.publish(t.userId, m.turnId, { type: 'done', status: 'completed', reply, citations });
    }
    const last = merged.at(-1)!;
    if (fin.kind === 'finished' && fin.nextPayload)
      await this.#wake(decodePending(last.seq + 1, fin.nextPayload));
    log.info({ coalesced: merged.length }, 'coalesced turns finished');
    return fin;
  }

  /**
   * Record a turn a newer message interrupted: its user message and whatever the model had said go
   * into the transcript and the history, so the newer turn runs with that context.
   */
  async interrupted(t: TurnJob, lease: string, partial: string, log: Logger): Promise<void> {
    const o = this.#o;
    const said = partial
      ? `${partial}\n\n[interrupted by a newer message]`
      : '[interrupted by a newer message]';
    await o.transcript.record({
      turnId: t.turnId,
      userId: t.userId,
      seq: t.seq,
      ...(t.threadId ? { threadId: t.threadId } : {}),
      status: 'interrupted',
      error: 'interrupted by a newer message',
      enqueuedAt: t.enqueuedAt,
      completedAt: Date.now(),
      messages: [
        { role: 'user', content: t.text },
        { role: 'assistant', content: said },
      ],
    });
    await this.commit(t, lease, 'interrupted', 'interrupted by a newer message', [
      { role: 'user', content: t.text, turnId: t.turnId, seq: t.seq, tokens: messageTokens(t.text) },
      { role: 'assistant', content: said, turnId: t.turnId, seq: t.seq, tokens: messageTokens(said) },
    ]);
    await o.events.publish(t.userId, t.turnId, {
      type: 'done',
      status: 'interrupted',
      error: 'interrupted by a newer message',
    });
    o.metrics.turns.inc({ outcome: 'interrupted' });
    log.info('turn interrupted');
  }

  /** Record a cancelled turn (its user message stays in the transcript) and let the next one run. */
  async cancelled(t: TurnJob, lease: string, log: Logger): Promise<void> {
    const o = this.#o;
    await o.transcript.record({
      turnId: t.turnId,
      userId: t.userId,
      seq: t.seq,
      ...(t.threadId ? { threadId: t.threadId } : {}),
      status: 'cancelled',
      error: 'cancelled by request',
      enqueuedAt: t.enqueuedAt,
      completedAt: Date.now(),
      messages: [{ role: 'user', content: t.text }],
    });
    await this.commit(t, lease, 'cancelled', 'cancelled by request');
    await o.events.publish(t.userId, t.turnId, {
      type: 'done',
      status: 'cancelled',
      error: 'cancelled by request',
    });
    o.metrics.turns.inc({ outcome: 'cancelled' });
    log.info('turn cancelled');
  }

  /**
   * Record a turn that will not complete (attempts exhausted, or its job failed for good) as failed,
   * then finish it so the user's next turn runs. Idempotent. `lease` '' finishes it only while no
   * delivery holds the lease.
   */
  async failure(t: TurnJob, error: string, lease: string): Promise<void> {
    const o = this.#o;
    const now = Date.now();
    await o.transcript.record({
      turnId: t.turnId,
      userId: t.userId,
      seq: t.seq,
      ...(t.threadId ? { threadId: t.threadId } : {}),
      status: 'failed',
      error,
      enqueuedAt: t.enqueuedAt,
      completedAt: now,
      messages: [{ role: 'user', content: t.text }],
    });
    await this.commit(t, lease, 'failed', error);
    await o.events.publish(t.userId, t.turnId, { type: 'done', status: 'failed', error }).catch(() => {});
    o.metrics.turns.inc({ outcome: 'failed' });
    o.logger.error({ turnId: t.turnId, userId: t.userId, seq: t.seq, error }, 'turn failed');
  }

  async commit(
    t: TurnJob,
    lease: string,
    status: FinalStatus,
    outcome: string,
    messages?: HistoryMessage[],
    citations?: Citation[],
    wake = true,
  ): Promise<CommitResult> {
    const fin = await this.#o.gate.commit({
      userId: t.userId,
      seq: t.seq,
      turnId: t.turnId,
      token: lease,
      status,
      outcome,
      ...(messages ? { messages } : {}),
      ...(citations?.length ? { citations } : {}),
    });
    if (wake && fin.kind === 'finished' && fin.nextPayload) {
      await this.#wake(decodePending(t.seq + 1, fin.nextPayload));
    }
    return fin;
  }

  /** Promote the user's next turn out of `delayed`; add its job if its producer never did. */
  async #wake(next: TurnJob): Promise<void> {
    const job = await this.#o.partitions.getJob(next.userId, next.turnId);
    if (!job) {
      await this.#o.records.ensure(next);
      await this.#o.partitions.add(next);
      return;
    }
    await job.promote().catch(() => {});
  }

  /**
   * A turn has waited past the grace period behind predecessor `done+1`. If that predecessor's job
   * is gone, add it again from the payload kept at acceptance; if it failed for good without being
   * recorded, record it as failed and finish it. Otherwise it is on its way and nothing is done.
   */
  async repairPredecessor(userId: string, done: number): Promise<void> {
    const o = this.#o;
    const view = await o.gate.peek(userId);
    if (view.done !== done || view.leaseHolder || !view.nextPayload) return;
    const pred = decodePending(done + 1, view.nextPayload);
    if (Date.now() - pred.enqueuedAt < o.gapGraceMs) return;
    const job = await o.partitions.getJob(userId, pred.turnId);
    const state = job ? await job.getState() : 'unknown';
    const log = o.logger.child({ turnId: pred.turnId, userId, seq: pred.seq });
    if (state === 'failed' && job) {
      log.warn({ reason: job.failedReason }, 'repair: predecessor failed without being recorded');
      o.metrics.repairs.inc({ action: 'record-failed' });
      await this.failure(pred, job.failedReason || 'job failed', '');
    } else if (state === 'unknown' || state === 'completed') {
      log.warn({ state }, 'repair: predecessor job missing; adding it again');
      o.metrics.repairs.inc({ action: 'requeue' });
      if (job) await job.remove().catch(() => {});
      await o.records.ensure(pred);
      await o.partitions.add(pred);
    }
  }
}
