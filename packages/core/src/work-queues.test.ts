import { describe, expect, it } from 'vitest';
import { INTAKE_QUEUE, intakeQueuePrefix } from './intake.ts';
import { partitionQueuePrefix, REVIEW_QUEUES, reviewQueuePrefix } from './keys.ts';
import { workQueues } from './work-queues.ts';

describe('the work-queue catalogue', () => {
  it('lists every partition queue, the intake queue and the review queues, each with its hash tag', () => {
    const queues = workQueues('ns', 3);
    expect(queues.slice(0, 4)).toEqual([
      { name: 'agent.p0', prefix: partitionQueuePrefix('ns', 0), kind: 'partition' },
      { name: 'agent.p1', prefix: 'ns:{agent.p1~2}', kind: 'partition' },
      { name: 'agent.p2', prefix: 'ns:{agent.p2~160}', kind: 'partition' },
      { name: INTAKE_QUEUE, prefix: intakeQueuePrefix('ns'), kind: 'intake' },
    ]);
    expect(queues.slice(4)).toEqual(
      Object.values(REVIEW_QUEUES).map((name) => ({ name, prefix: reviewQueuePrefix('ns'), kind: 'review' })),
    );
    expect(queues.map((q) => q.name)).toContain('review.docs');
    expect(new Set(queues.map((q) => q.name)).size).toBe(queues.length);
  });
});
