import { createLogger, type TurnJob } from '@agent-fleet/core';
import { encodePending, type GateView } from '@agent-fleet/turns';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../metrics.ts';
import { chatJob, turnId } from '../testing/turn-jobs.ts';
import type { Settlement, TurnDelivery } from '../turn/settlement.ts';
import { MAX_RECOVERIES } from './decide.ts';
import { HeadJobs } from './head-jobs.ts';
import { TurnRepair } from './repair.ts';

const logger = createLogger('repair-test', 'silent');

type State = 'waiting' | 'delayed' | 'failed' | 'completed' | 'active';

/** A partition queue with one job per turn id, in the given states; `log` lists what was done to them. */
function queue(states: Record<string, State>, opts: { cancelled?: string[]; recoveries?: number } = {}) {
  const log: string[] = [];
  const jobOf = (id: string) =>
    ({
      getState: async () => states[id],
      failedReason: states[id] === 'failed' ? 'connect ECONNREFUSED 127.0.0.1:5432' : undefined,
      promote: async () => {
        if (states[id] !== 'delayed') throw new Error('Job is not in the delayed state');
        log.push(`promote ${id}`);
        states[id] = 'waiting';
      },
      retry: async (_state: string, o: object) => {
        log.push(`retry ${id} ${JSON.stringify(o)}`);
        states[id] = 'waiting';
      },
      remove: async () => {
        log.push(`remove ${id}`);
        delete states[id];
      },
    }) as unknown as Job<TurnJob>;
  const heads = new HeadJobs({
    partitions: {
      getJob: async (_userId, id) => (id in states ? jobOf(id) : undefined),
      add: async (j) => {
        log.push(`add ${j.turnId}`);
        states[j.turnId] = 'waiting';
      },
    },
    records: {
      ensure: async (j) => void log.push(`ensure ${j.turnId}`),
      recoveries: async () => opts.recoveries ?? 0,
      addRecovery: async (_userId, id) => {
        log.push(`count recovery ${id}`);
        return (opts.recoveries ?? 0) + 1;
      },
    },
    control: { isCancelled: async (_userId, id) => opts.cancelled?.includes(id) ?? false },
  });
  return { heads, log, states };
}

/** A repair over a fake gate whose head is turn `done + 1`, and a finisher that logs what it records. */
function repair(gate: Partial<GateView> & { done: number }, q: ReturnType<typeof queue>) {
  const finished: { turn: TurnDelivery; s: Settlement }[] = [];
  const metrics = createWorkerMetrics();
  const r = new TurnRepair({
    gate: {
      peek: async () => ({ nextPayload: encodePending(chatJob(gate.done + 1)), leaseHolder: null, ...gate }),
    },
    heads: q.heads,
    finisher: {
      finish: async (turn, s) => {
        finished.push({ turn, s });
        return { kind: 'finished', nextPayload: null, historyTokens: 0 };
      },
    },
    metrics,
    logger,
  });
  const repairs = async () => (await metrics.repairs.get()).values.map((v) => [v.labels.action, v.value]);
  return { r, finished, repairs };
}

describe('TurnRepair: the one repair path for a head nobody runs (fake gate and queue)', () => {
  it('nothing pending, or a delivery holding the lease: nothing to do', async () => {
    const q = queue({});
    expect(await repair({ done: 3, nextPayload: null }, q).r.repairUser('ada', 0)).toEqual({ kind: 'idle' });
    expect(await repair({ done: 3, leaseHolder: 'x' }, q).r.repairUser('ada', 0)).toEqual({
      kind: 'running',
    });
    expect(q.log).toEqual([]);
  });

  it('a job that failed in the queue runs again, its attempts given back, and the recovery counted', async () => {
    const q = queue({ [turnId(4)]: 'failed' });
    const { r, repairs } = repair({ done: 3 }, q);
    expect(await r.repairUser('ada', 0)).toEqual({ kind: 'retry' });
    expect(q.log).toEqual([
      `count recovery ${turnId(4)}`,
      `retry ${turnId(4)} {"resetAttemptsMade":true,"resetAttemptsStarted":true}`,
    ]);
    expect(await repairs()).toEqual([['retry', 1]]);
  });

  it('a job failing again after every recovery: the turn is recorded failed with the reason', async () => {
    const q = queue({ [turnId(4)]: 'failed' }, { recoveries: MAX_RECOVERIES });
    const { r, finished } = repair({ done: 3 }, q);
    expect(await r.repairUser('ada', 0)).toMatchObject({ kind: 'fail' });
    expect(finished).toEqual([
      {
        turn: { job: chatJob(4), lease: '' },
        s: {
          kind: 'failed',
          reason: `connect ECONNREFUSED 127.0.0.1:5432 (gave up after ${MAX_RECOVERIES} recoveries)`,
          cause: 'recovery',
        },
      },
    ]);
  });

  it('a stuck head someone cancelled is recorded cancelled, never run', async () => {
    const q = queue({ [turnId(4)]: 'failed' }, { cancelled: [turnId(4)] });
    const { r, finished } = repair({ done: 3 }, q);
    expect(await r.repairUser('ada', 0)).toEqual({ kind: 'cancel' });
    expect(finished.map((f) => [f.turn.job.turnId, f.turn.lease, f.s])).toEqual([
      [turnId(4), '', { kind: 'cancelled' }],
    ]);
    expect(q.log).toEqual([]);
  });

  it('a missing job is added again after the grace period; a parked head is promoted', async () => {
    const missing = queue({});
    expect(await repair({ done: 3 }, missing).r.repairUser('ada', Date.now())).toEqual({ kind: 'none' });
    expect(await repair({ done: 3 }, missing).r.repairUser('ada', 1000)).toEqual({ kind: 'add' });
    expect(missing.log).toEqual([`ensure ${turnId(4)}`, `add ${turnId(4)}`]);

    const parked = queue({ [turnId(4)]: 'delayed' });
    expect(await repair({ done: 3 }, parked).r.repairUser('ada', 0)).toEqual({ kind: 'promote' });
    expect(parked.log).toEqual([`promote ${turnId(4)}`]);

    const finishedJob = queue({ [turnId(4)]: 'completed' });
    expect(await repair({ done: 3 }, finishedJob).r.repairUser('ada', 0)).toEqual({ kind: 'add' });
    expect(finishedJob.log).toEqual([`remove ${turnId(4)}`, `ensure ${turnId(4)}`, `add ${turnId(4)}`]);
  });
});

describe('HeadJobs.wake: the finisher wakes the next turn', () => {
  it('promotes a parked job, adds a missing one, runs a failed one again, leaves a waiting one', async () => {
    const q = queue({ [turnId(4)]: 'delayed', [turnId(5)]: 'failed', [turnId(6)]: 'waiting' });
    for (const seq of [4, 5, 6, 7]) await q.heads.wake(chatJob(seq));
    expect(q.log).toEqual([
      `promote ${turnId(4)}`,
      `count recovery ${turnId(5)}`,
      `retry ${turnId(5)} {"resetAttemptsMade":true,"resetAttemptsStarted":true}`,
      `ensure ${turnId(7)}`,
      `add ${turnId(7)}`,
    ]);
  });
});
