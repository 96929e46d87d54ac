import { describe, expect, it } from 'vitest';
import { decideRecovery, type HeadView, MAX_RECOVERIES } from './decide.ts';

const head = (view: Partial<HeadView>): HeadView => ({
  state: 'missing',
  ageMs: 60_000,
  cancelled: false,
  recoveries: 0,
  ...view,
});

describe('decideRecovery: what recovery does for a head nobody runs', () => {
  it('leaves a head alone that is waiting or running in its queue', () => {
    for (const state of ['waiting', 'prioritized', 'active', 'waiting-children'] as const) {
      expect(decideRecovery(head({ state }), 0), state).toEqual({ kind: 'none' });
      expect(decideRecovery(head({ state, cancelled: true }), 0), state).toEqual({ kind: 'none' });
    }
  });

  it('promotes a parked or delayed head: nothing runs before it', () => {
    expect(decideRecovery(head({ state: 'delayed' }), 0)).toEqual({ kind: 'promote' });
    expect(decideRecovery(head({ state: 'delayed', cancelled: true }), 0)).toEqual({ kind: 'promote' });
  });

  it('adds a missing job again once it is older than the grace period', () => {
    expect(decideRecovery(head({ state: 'missing', ageMs: 500 }), 1000)).toEqual({ kind: 'none' });
    expect(decideRecovery(head({ state: 'missing', ageMs: 1500 }), 1000)).toEqual({ kind: 'add' });
    expect(decideRecovery(head({ state: 'completed', ageMs: 1500 }), 1000)).toEqual({ kind: 'add' });
  });

  it('retries a job that failed without being recorded, a bounded number of times, then fails the turn', () => {
    expect(decideRecovery(head({ state: 'failed', failedReason: 'connect ECONNREFUSED' }), 0)).toEqual({
      kind: 'retry',
    });
    expect(decideRecovery(head({ state: 'failed', recoveries: MAX_RECOVERIES - 1 }), 0)).toEqual({
      kind: 'retry',
    });
    expect(
      decideRecovery(
        head({
          state: 'failed',
          recoveries: MAX_RECOVERIES,
          failedReason: 'job stalled more than allowable limit',
        }),
        0,
      ),
    ).toEqual({
      kind: 'fail',
      reason: `job stalled more than allowable limit (gave up after ${MAX_RECOVERIES} recoveries)`,
    });
  });

  it('records a stuck head cancelled when someone asked to cancel it', () => {
    expect(decideRecovery(head({ state: 'failed', cancelled: true }), 0)).toEqual({ kind: 'cancel' });
    expect(decideRecovery(head({ state: 'missing', cancelled: true }), 0)).toEqual({ kind: 'cancel' });
    // A job that may still be on its way is left to run (it ends cancelled when it starts).
    expect(decideRecovery(head({ state: 'missing', cancelled: true, ageMs: 10 }), 1000)).toEqual({
      kind: 'none',
    });
  });
});
