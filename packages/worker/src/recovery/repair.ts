import type { Logger } from '@agent-fleet/core';
import { decodePending, type TurnGate } from '@agent-fleet/turns';
import type { WorkerMetrics } from '../metrics.ts';
import type { TurnFinisher } from '../turn/finisher.ts';
import { decideRecovery, type RecoveryAction } from './decide.ts';
import type { HeadJobs } from './head-jobs.ts';

/** What a repair found: nothing pending, a delivery running the head, or what it did. */
export type RepairResult = { kind: 'idle' } | { kind: 'running' } | RecoveryAction;

export interface RepairPorts {
  gate: Pick<TurnGate, 'peek'>;
  heads: Pick<HeadJobs, 'inspect' | 'start' | 'requeueDeferred'>;
  finisher: Pick<TurnFinisher, 'finish'>;
  metrics: Pick<WorkerMetrics, 'repairs'>;
  logger: Logger;
}

/**
 * The one repair path for a user whose next turn (the head) nobody runs: its job missing, failed
 * in the queue without being recorded, parked although nothing runs before it, or cancelled while
 * stuck. The recovery sweep calls it for every user with pending turns, and a parked turn for its
 * user when it has waited past the grace period. Every action is idempotent (job ids are turn ids,
 * a commit with no lease finishes a turn only while nobody holds the lease), so two repairs of one
 * user at once do no harm.
 */
export class TurnRepair {
  readonly #ports: RepairPorts;

  constructor(ports: RepairPorts) {
    this.#ports = ports;
  }

  async repairUser(userId: string, graceMs: number): Promise<RepairResult> {
    const { gate, heads, finisher, metrics, logger } = this.#ports;
    const gateView = await gate.peek(userId);
    if (!gateView.nextPayload) return { kind: 'idle' };
    if (gateView.leaseHolder) return { kind: 'running' };
    const head = decodePending(gateView.done + 1, gateView.nextPayload);
    const { view, job } = await heads.inspect(head);
    const action = decideRecovery(view, graceMs);
    if (action.kind === 'none') {
      if (job && view.state === 'prioritized' && (await heads.requeueDeferred(job)))
        logger.warn({ turnId: head.turnId, userId }, 'tagged a head left at the back of the fair queue');
      return action;
    }
    const log = logger.child({ turnId: head.turnId, userId, seq: head.seq });
    log[action.kind === 'promote' ? 'debug' : 'warn'](
      { action: action.kind, state: view.state, failedReason: view.failedReason },
      'recovering a turn left behind',
    );
    metrics.repairs.inc({ action: action.kind });
    const stuck = { job: head, lease: '' };
    if (action.kind === 'cancel') await finisher.finish(stuck, { kind: 'cancelled' });
    else if (action.kind === 'fail')
      await finisher.finish(stuck, { kind: 'failed', reason: action.reason, cause: 'recovery' });
    else await heads.start(head, action.kind, job);
    return action;
  }
}
