import { describe, expect, it } from 'vitest';
import { turnResultSchema } from './intake.ts';
import { FINAL_STATUSES, isFinalStatus, isTurnStatus, TURN_STATUSES } from './statuses.ts';

describe('turn statuses', () => {
  it('final statuses are the statuses after queued and running', () => {
    expect(TURN_STATUSES.filter(isFinalStatus)).toEqual([...FINAL_STATUSES]);
    expect(FINAL_STATUSES).toEqual(['completed', 'failed', 'cancelled', 'interrupted']);
    expect(isFinalStatus('queued') || isFinalStatus('running')).toBe(false);
  });

  it('the published turn result accepts exactly these statuses', () => {
    const base = { turnId: `t_${'0'.repeat(32)}`, userId: 'ann', seq: 1 };
    for (const status of TURN_STATUSES)
      expect(turnResultSchema.safeParse({ ...base, status }).success).toBe(true);
    expect(turnResultSchema.safeParse({ ...base, status: 'coalesced' }).success).toBe(false);
    expect([isTurnStatus('running'), isTurnStatus('done'), isTurnStatus(undefined)]).toEqual([
      true,
      false,
      false,
    ]);
  });
});
