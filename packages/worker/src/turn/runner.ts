import { randomUUID } from 'node:crypto';
import {
  ATTR,
  contextOfCarrier,
  currentTraceCarrier,
  inSpan,
  type Logger,
  linkToCarrier,
  SPAN,
  type Span,
  SpanKind,
  type SpanSettings,
  type TurnJob,
  turnJobSchema,
} from '@agent-fleet/core';
import type { Citation } from '@agent-fleet/rag';
import type { TurnEvents, TurnGate } from '@agent-fleet/turns';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { FairShare } from '../fair-share.ts';
import type { TenantTokenWindow } from '../heartbeat/tenant-tokens.ts';
import type { Memory } from '../memory.ts';
import { stageHistograms, type WorkerMetrics } from '../metrics.ts';
import type { OutageWatch } from '../outage/outage-watch.ts';
import type { TurnRepair } from '../recovery/repair.ts';
import type { RunningTurns } from '../running-turns.ts';
import { TurnStages } from '../stage-timer.ts';
import type { TurnMeters } from '../usage/turn-meter.ts';
import { type CheckpointStore, CheckpointWriter } from './checkpoint.ts';
import { CancelledError, LeaseLostError } from './errors.ts';
import type { TurnExecutor } from './execute.ts';
import type { TurnFinisher } from './finisher.ts';
import { EventsObserver } from './observer.ts';
import { type OutagePolicy, OutageRide } from './outage-ride.ts';
import type { BegunTurn, PreparedTurn, TurnPreparer } from './prepare.ts';
import {
  type Outage,
  type Recording,
  settleError,
  settleOutageOver,
  settleRecordingError,
  settleRun,
} from './settle.ts';
import type { Settlement, TurnDelivery } from './settlement.ts';

export interface TurnPolicy {
  /** Attempts before a turn is recorded as failed. */
  attempts: number;
  /** Safety delay of a parked turn. */
  parkDelayMs: number;
  /** How long a parked turn waits behind its predecessor before repairing it. */
  gapGraceMs: number;
  /** Fault injection: SIGKILL this process right after the n-th checkpoint of a turn (0: never). */
  crashAfterCheckpoint: number;
  /** How a turn rides out a dependency that is away. */
  outage: OutagePolicy;
}

/** The parts a turn goes through, built once (deps.ts) and shared by every delivery. */
export interface TurnRunnerParts {
  gate: Pick<TurnGate, 'begin' | 'renew' | 'peek' | 'leaseMs'>;
  preparer: TurnPreparer;
  executor: TurnExecutor;
  finisher: TurnFinisher;
  /** Gets a user's next turn going when nothing runs it (a parked turn waited past the grace period). */
  repair: Pick<TurnRepair, 'repairUser'>;
  checkpoints: CheckpointStore & { load(userId: string, turnId: string): Promise<Record<string, string>> };
  /** What this process knows of dependencies that are away. */
  outages: Pick<OutageWatch, 'check' | 'whenUp'>;
  events: Pick<TurnEvents, 'publish'>;
  memory: Pick<Memory, 'foldIfNeeded'>;
  /** The metering of the summary a turn triggers (charged to that turn). */
  meters: TurnMeters;
  /** The tenant a turn counts under. */
  tenants: { of(job: TurnJob): Promise<string> };
  /** A tagged turn that starts moves its partition's virtual time; a parked one is requeued fairly. */
  fairness: Pick<FairShare, 'started' | 'requeue'>;
  metrics: WorkerMetrics;
  /** The turns this process runs, with their stages (the worker's heartbeat reports them). */
  running: RunningTurns;
  /** Tokens per tenant over the last minute (the heartbeat reports them). */
  tenantTokens: Pick<TenantTokenWindow, 'add'>;
  logger: Logger;
  policy: TurnPolicy;
}

/** Where one delivery stands: its attempt, the signal that stops it, its way through outages. */
interface RunContext {
  attempt: number;
  attempts: number;
  signal: AbortSignal;
  ride: OutageRide;
  stages: TurnStages;
  /** The delivery's span: what it resumed and how it ended are told there. */
  span: Span;
  /** Tells the running-turns registry the turn's tenant once its profile is loaded. */
  tenant(tenant: string): void;
}

/** Where a delivery that passed the gate came from, and how long the gate took. */
interface Admission {
  attempt: number;
  queue: string;
  gateMs: number;
  span: Span;
}

/** How waiting out an outage ended: try again, the window passed, or the turn was stopped meanwhile. */
type WaitOutcome =
  | { kind: 'again' }
  | { kind: 'over'; reason: string }
  | { kind: 'stopped'; settlement: Settlement };

export type TurnOutcome =
  | { status: 'completed'; turnId: string; seq: number; reply: string; citations: Citation[] }
  | { status: 'cancelled' | 'interrupted' | 'duplicate'; turnId: string; seq: number };

/**
 * Runs one delivery of a turn job: passes it through the per-user gate, then prepares the turn,
 * executes it and settles it (one `Settlement`, which the finisher records, commits and wakes the
 * user's next turn with). A delivery that may not run yet gives its worker slot back.
 */
export class TurnRunner {
  readonly #parts: TurnRunnerParts;
  /** The turns this process runs now, to stop one at once when it is cancelled. */
  readonly #running = new Map<string, AbortController>();

  constructor(parts: TurnRunnerParts) {
    this.#parts = parts;
  }

  /** Stop a turn this process runs (a cancellation was published); false when it runs elsewhere. */
  cancel(turnId: string): boolean {
    const controller = this.#running.get(turnId);
    controller?.abort(new CancelledError());
    return controller !== undefined;
  }

  /** Record a turn whose job failed for good without the runner seeing it (it stalled too often). */
  async recordFailure(job: TurnJob, reason: string): Promise<void> {
    await this.#parts.finisher.finish({ job, lease: '' }, { kind: 'failed', reason, cause: 'stalled' });
  }

  async process(job: Job, token: string | undefined): Promise<TurnOutcome> {
    const parsed = turnJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid turn job payload: ${z.prettifyError(parsed.error)}`);
    }
    const t = parsed.data;
    return inSpan(SPAN.delivery, deliverySpan(job, t), (span) => this.#deliver(job, token, t, span));
  }

  /** One delivery under its span: through the gate, then parked, skipped, or run. */
  async #deliver(job: Job, token: string | undefined, t: TurnJob, span: Span): Promise<TurnOutcome> {
    const { gate, metrics, policy } = this.#parts;
    await noteDelivery(job, t, span);
    const lease = `${job.id}.${token ?? randomUUID()}`;
    const gateStarted = performance.now();
    const decision = await gate.begin(t.userId, t.seq, t.turnId, lease);
    const gateMs = performance.now() - gateStarted;
    metrics.gate.inc({ decision: decision.kind });
    span.setAttribute(ATTR.gate, decision.kind);
    if (decision.kind !== 'acquired') metrics.stageSeconds.observe({ stage: 'gate' }, gateMs / 1000);
    switch (decision.kind) {
      case 'duplicate':
        return { status: 'duplicate', turnId: t.turnId, seq: t.seq };
      case 'busy':
        await job.moveToDelayed(Date.now() + Math.min(decision.leaseMsLeft + 25, gate.leaseMs), token);
        throw new DelayedError();
      case 'park':
        if (Date.now() - t.enqueuedAt > policy.gapGraceMs) await this.#repairAhead(t);
        return this.#park(job, token, t);
      case 'acquired': {
        // The turn started when its gate opened; moving the fair queue's clock is bookkeeping.
        const startedAt = Date.now();
        await this.#parts.fairness.started(t).catch((err: unknown) => {
          this.#parts.logger.warn(
            { err: (err as Error).message, turnId: t.turnId },
            'could not move the fair queue',
          );
        });
        const admission = { attempt: job.attemptsMade + 1, queue: job.queueName, gateMs, span };
        return this.#run({ job: t, lease, startedAt }, admission, { ...decision, lease });
      }
    }
  }

  /** This turn has waited past the grace period: get the one before it going (the sweep does too). */
  async #repairAhead(t: TurnJob): Promise<void> {
    await this.#parts.repair.repairUser(t.userId, this.#parts.policy.gapGraceMs).catch((err: unknown) => {
      this.#parts.logger.warn(
        { err: (err as Error).message, userId: t.userId },
        'could not repair the turn ahead',
      );
    });
  }

  /**
   * Hand the slot back: the job waits in `delayed` until its predecessor finishes and promotes it,
   * or until the safety delay passes. Checking `done` after the move closes the race with a finish
   * that tried to promote this job while it was still active.
   */
  async #park(job: Job, token: string | undefined, t: TurnJob): Promise<never> {
    await job.moveToDelayed(Date.now() + this.#parts.policy.parkDelayMs, token);
    const view = await this.#parts.gate.peek(t.userId);
    if (view.done >= t.seq - 1) {
      await this.#parts.fairness.requeue(job).catch(() => {});
      await job.promote().catch(() => {});
    }
    throw new DelayedError();
  }

  async #run(turn: TurnDelivery, admission: Admission, begun: BegunTurn): Promise<TurnOutcome> {
    const t = turn.job;
    const { attempt } = admission;
    const log = this.#parts.logger.child({ turnId: t.turnId, userId: t.userId, seq: t.seq, attempt });
    const stages = new TurnStages(stageHistograms(this.#parts.metrics));
    // Accepted until a worker first took it (parked time included); a retry's wait is not queueing.
    if (attempt === 1)
      stages.observe(
        'queue',
        Math.max(0, (turn.startedAt ?? Date.now()) - t.enqueuedAt),
        contextOfCarrier(t.trace),
      );
    stages.observe('gate', admission.gateMs);
    const registered = this.#parts.running.add({
      job: t,
      queue: admission.queue,
      attempt,
      startedAt: turn.startedAt ?? Date.now(),
      stages,
    });
    const abort = new AbortController();
    this.#running.set(t.turnId, abort);
    const stopRenewing = this.#keepLease(turn, abort);
    try {
      log.info('turn started');
      const ctx: RunContext = {
        attempt,
        attempts: this.#parts.policy.attempts,
        signal: abort.signal,
        ride: this.#ride(t),
        stages,
        span: admission.span,
        tenant: registered.tenant,
      };
      const settlement = await this.#attempt(turn, begun, ctx, log);
      return await this.#settle(turn, settlement, ctx, log);
    } finally {
      stopRenewing();
      registered.done();
      this.#running.delete(t.turnId);
    }
  }

  /**
   * Prepare and execute the turn; an outage is waited out and the turn tried again from its
   * checkpoint, using no attempt. Whatever happens becomes one settlement.
   */
  async #attempt(turn: TurnDelivery, begun: BegunTurn, ctx: RunContext, log: Logger): Promise<Settlement> {
    for (let from = begun; ; ) {
      const s = await this.#try(turn, from, ctx, log);
      if (s.kind !== 'outage') return s;
      const waited = await this.#waitOut(s.error, ctx, ctx.signal, log);
      if (waited.kind === 'over') return { kind: 'failed', reason: waited.reason, cause: 'outage' };
      if (waited.kind === 'stopped') return waited.settlement;
      const { userId, turnId } = turn.job;
      from = { ...from, scratchpad: await this.#parts.checkpoints.load(userId, turnId) };
    }
  }

  /** One try: prepare and execute the turn from `begun`. */
  async #try(
    turn: TurnDelivery,
    begun: BegunTurn,
    ctx: RunContext,
    log: Logger,
  ): Promise<Settlement | Outage> {
    let checkpoint: CheckpointWriter | undefined;
    try {
      const prepared = await this.#parts.preparer.prepare(turn.job, begun, ctx.stages);
      const tenant = prepared.profile?.tenant;
      if (tenant !== undefined) {
        ctx.tenant(tenant);
        ctx.span.setAttribute(ATTR.tenant, tenant);
      }
      const resumed = prepared.resumed.steps.length;
      if (resumed > 0) {
        ctx.span.setAttribute(ATTR.resumedSteps, resumed);
        log.info({ steps: resumed }, 'resuming from checkpoint');
        this.#parts.metrics.replays.inc();
      }
      checkpoint = this.#checkpoint(prepared);
      const { events, metrics, tenantTokens } = this.#parts;
      const observer = new EventsObserver({
        events,
        metrics,
        job: turn.job,
        attempt: ctx.attempt,
        ...(tenant === undefined ? {} : { tokens: { tenant, window: tenantTokens } }),
      });
      await observer.started(resumed);
      const run = { signal: ctx.signal, checkpoint, observer, stages: ctx.stages };
      return settleRun(prepared, await this.#parts.executor.execute(prepared, run));
    } catch (err) {
      const s = settleError(err, { ...ctx, partial: checkpoint?.partial() ?? '' });
      if (s.kind === 'retry' || s.kind === 'failed')
        log.warn({ err, final: s.kind === 'failed' }, 'turn attempt failed');
      return s;
    }
  }

  /**
   * Wait for what `error` found away to come back (or for a backoff delay). A cancellation or a
   * lost lease on `signal` meanwhile settles the turn as that would.
   */
  async #waitOut(
    error: Error,
    ctx: RunContext,
    signal: AbortSignal | undefined,
    log: Logger,
  ): Promise<WaitOutcome> {
    log.debug({ err: error.message }, 'waiting out an outage');
    try {
      const reason = await ctx.ride.wait(error, signal);
      if (reason === null) return { kind: 'again' };
      log.warn({ reason }, 'the outage outlasted the window');
      return { kind: 'over', reason };
    } catch (stopped) {
      const s = settleError(stopped, { ...ctx, partial: '' });
      return s.kind === 'outage' ? { kind: 'again' } : { kind: 'stopped', settlement: s };
    }
  }

  /**
   * Finish the settlement and turn it into the job's result. When recording it fails, that error
   * takes the recording ladder: wait out an outage and record again, fail the turn, retry it (its
   * work is checkpointed), or record a turn without an answer best-effort so it ends.
   */
  async #settle(turn: TurnDelivery, s: Settlement, ctx: RunContext, log: Logger): Promise<TurnOutcome> {
    let step: Recording = { kind: 'record', settlement: s, transcript: 'required' };
    let fin: Awaited<ReturnType<TurnFinisher['finish']>>;
    for (;;) {
      try {
        fin = await this.#parts.finisher.finish(turn, step.settlement, {
          transcript: step.transcript,
          stages: ctx.stages,
        });
        break;
      } catch (err) {
        step = await this.#afterRecordingError(err, step, ctx, log);
      }
    }
    ctx.span.setAttribute(ATTR.outcome, step.settlement.kind);
    if (step.settlement.kind === 'completed' && fin?.kind === 'finished')
      await this.#fold(turn.job, fin.historyTokens, log);
    return outcomeOf(turn.job, step.settlement);
  }

  /** What to record after recording `step` failed with `err` (rethrows when nothing is). */
  async #afterRecordingError(
    err: unknown,
    step: Recording,
    ctx: RunContext,
    log: Logger,
  ): Promise<Recording> {
    const s = step.settlement;
    const next = settleRecordingError(err, step, ctx);
    const level = next.kind === 'outage' ? 'debug' : 'warn';
    log[level]({ err, settlement: s.kind, next: next.kind }, 'could not record the turn');
    if (next.kind === 'throw') throw next.error;
    if (next.kind === 'record') return next;
    // A cancellation still counts while the outcome waits to be recorded; once it has, never again.
    const waited = await this.#waitOut(next.error, ctx, ctx.signal.aborted ? undefined : ctx.signal, log);
    if (waited.kind === 'again' || s.kind === 'retry') return step;
    if (waited.kind === 'over') return settleOutageOver(s, waited.reason);
    return { kind: 'record', settlement: waited.settlement, transcript: 'required' };
  }

  /** A delivery's way through outages; its waits are told to the turn's watchers. */
  #ride(t: TurnJob): OutageRide {
    const { events, outages, policy, logger } = this.#parts;
    return new OutageRide({
      watch: outages,
      policy: policy.outage,
      onWaiting: (on, retryInMs) => {
        events
          .publish(t.userId, t.turnId, { type: 'status', status: 'waiting', reason: on, retryInMs })
          .catch((err: unknown) =>
            logger.debug({ err: (err as Error).message }, 'could not publish waiting'),
          );
      },
    });
  }

  /**
   * The turn is done; folding old turns into the summary must not undo or fail it. The summary's
   * call is charged to this turn (its record, its ledger rows, its tenant's and user's budgets; a
   * used-up budget leaves the history unfolded until a later turn).
   */
  async #fold(t: TurnJob, historyTokens: number, log: Logger): Promise<void> {
    const { memory, meters, tenants, finisher } = this.#parts;
    try {
      const meter = meters.forTurn({ tenant: await tenants.of(t), userId: t.userId, turnId: t.turnId });
      await memory.foldIfNeeded(t.userId, historyTokens, { llm: meter.llm('summary') });
      if (meter.tokens > 0) await finisher.recordUsage(t);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not fold the history; will try after the next turn');
    }
  }

  /** Renew the user's lease while the turn runs; once it is lost, abort (another delivery may hold it). */
  #keepLease(turn: TurnDelivery, abort: AbortController): () => void {
    const { gate } = this.#parts;
    const renew = setInterval(
      () => {
        gate.renew(turn.job.userId, turn.job.seq, turn.lease).then(
          (ok) => {
            if (!ok) abort.abort(new LeaseLostError());
          },
          () => {},
        );
      },
      Math.max(250, Math.floor(gate.leaseMs / 3)),
    );
    return () => clearInterval(renew);
  }

  #checkpoint(prepared: PreparedTurn): CheckpointWriter {
    const { checkpoints, logger, policy } = this.#parts;
    const { job } = prepared;
    return new CheckpointWriter({
      store: checkpoints,
      turn: job,
      resumed: prepared.resumed,
      decided: { grounding: prepared.grounding, coalesced: prepared.coalesced },
      onSaved: (index) => {
        if (policy.crashAfterCheckpoint === index) {
          logger.warn({ turnId: job.turnId, checkpoint: index }, 'fault injection: killing this worker');
          process.kill(process.pid, 'SIGKILL');
        }
      },
    });
  }
}

/** What the job returns for a settlement; a failed turn fails its job for good, a retry fails this attempt. */
function outcomeOf(t: TurnJob, s: Settlement): TurnOutcome {
  switch (s.kind) {
    case 'completed':
      return { status: 'completed', turnId: t.turnId, seq: t.seq, reply: s.reply, citations: s.citations };
    case 'cancelled':
    case 'interrupted':
      return { status: s.kind, turnId: t.turnId, seq: t.seq };
    case 'failed':
      throw new UnrecoverableError(s.reason);
    case 'retry':
      throw s.error;
  }
}

/**
 * A delivery's span: a child of the turn's accepting span (one trace per turn, whichever worker
 * takes it and however often), linked to the delivery before it (a park, a crash, a retry).
 */
function deliverySpan(job: Job, t: TurnJob): SpanSettings {
  return {
    kind: SpanKind.CONSUMER,
    parent: contextOfCarrier(t.trace),
    links: linkToCarrier(t.trace?.delivery ? { traceparent: t.trace.delivery } : undefined),
    attributes: {
      [ATTR.userId]: t.userId,
      [ATTR.turnId]: t.turnId,
      [ATTR.seq]: t.seq,
      [ATTR.attempt]: job.attemptsMade + 1,
      'messaging.system': 'bullmq',
      'messaging.destination.name': job.queueName,
    },
    // A park or a busy user hands the job back to BullMQ with this error: not a failure.
    expected: (err) => err instanceof DelayedError,
  };
}

/** Keeps this delivery's span in the job, for the next delivery to link to (only while traced). */
async function noteDelivery(job: Job, t: TurnJob, span: Span): Promise<void> {
  const delivery = span.isRecording() ? currentTraceCarrier()?.traceparent : undefined;
  if (!delivery || !t.trace) return;
  await job.updateData({ ...job.data, trace: { ...t.trace, delivery } }).catch(() => {});
}
