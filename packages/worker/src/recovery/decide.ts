/** Where the job of a user's next turn (the head) stands when nothing runs it. */
export interface HeadView {
  /** Its job's state in the partition queue; 'missing' when there is no job (or BullMQ knows none). */
  state:
    | 'waiting'
    | 'prioritized'
    | 'active'
    | 'waiting-children'
    | 'delayed'
    | 'failed'
    | 'completed'
    | 'missing';
  /** Since the turn was accepted. */
  ageMs: number;
  /** Someone asked to cancel it. */
  cancelled: boolean;
  /** Times recovery ran its failed job again already. */
  recoveries: number;
  /** Why its job failed, when it did. */
  failedReason?: string;
}

/** What recovery does for a head nobody runs. */
export type RecoveryAction =
  /** On its way (waiting or running in the queue), or too young to judge. */
  | { kind: 'none' }
  /** Its job is gone: add it again from the payload kept at acceptance. */
  | { kind: 'add' }
  /** Parked or delayed while nothing runs before it: take it out of `delayed` now. */
  | { kind: 'promote' }
  /** Its job failed without the turn being recorded (attempts used up in an outage, say): run it again. */
  | { kind: 'retry' }
  /** Cancelled while stuck: record it cancelled. */
  | { kind: 'cancel' }
  /** Run again `MAX_RECOVERIES` times and failed each time: record it failed with the reason. */
  | { kind: 'fail'; reason: string };

/**
 * How many times recovery runs a head's failed job again before recording the turn failed. A run
 * that meets a permanent error records the turn failed itself (an unreadable checkpoint, a value
 * Postgres refuses), so a job that keeps failing unrecorded is one that kills its worker or
 * whose failure cannot be recorded: it is truly dead.
 */
export const MAX_RECOVERIES = 3;

/**
 * What to do for the head of a user whose lease nobody holds: the one decision the recovery sweep,
 * a parked turn repairing its predecessor, and the finisher waking the next turn share. Pure, so
 * every case is tested without Redis. A job missing for less than `graceMs` may still be on its way
 * from its producer, so it is left alone until then.
 */
export function decideRecovery(head: HeadView, graceMs: number): RecoveryAction {
  switch (head.state) {
    case 'waiting':
    case 'prioritized':
    case 'active':
    case 'waiting-children':
      return { kind: 'none' };
    case 'delayed':
      // It runs, and a cancelled turn ends cancelled when it starts.
      return { kind: 'promote' };
    case 'failed':
      if (head.cancelled) return { kind: 'cancel' };
      if (head.recoveries < MAX_RECOVERIES) return { kind: 'retry' };
      return {
        kind: 'fail',
        reason: `${head.failedReason || 'its job failed'} (gave up after ${head.recoveries} recoveries)`,
      };
    case 'missing':
    case 'completed':
      if (head.ageMs < graceMs) return { kind: 'none' };
      return head.cancelled ? { kind: 'cancel' } : { kind: 'add' };
  }
}
