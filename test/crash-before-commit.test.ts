import { userKeys } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, postMessage, settledTurn } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { messageText, verifyStrictOrder } from './support/verify.ts';

/**
 * A worker SIGKILLed between a turn's transcript rows and its commit in Redis: the transcript is
 * complete before the history is. The job's next delivery commits the turn, and the history gets
 * it exactly once, in order (the chaos test's kills land there by chance; this one on purpose).
 */
describe('a worker killed after recording a turn, before committing it', () => {
  const { fleet } = useSimFleet({
    sim: { latencyMs: 20 },
    workers: 0,
    env: { ...FAST_RECOVERY_ENV, LOG_LEVEL: 'warn' },
  });

  it('leaves the commit to the next delivery, which appends the turn to the history once', async () => {
    const user = 'record-crash';
    const doomed = fleet.addWorker({ FAULT_CRASH_AFTER_RECORD: '1' });
    await doomed.ready;
    const first = await postMessage(fleet.gatewayUrl, user, messageText(user, 1));
    expect(await doomed.exited).toBe('SIGKILL');
    fleet.workers.splice(fleet.workers.indexOf(doomed), 1);

    // The transcript has the turn; Redis has not committed it.
    const rows = await fleet.pool.query<{ seq: string; status: string }>(
      'SELECT seq, status FROM turns WHERE user_id = $1',
      [user],
    );
    expect(rows.rows).toEqual([{ seq: '1', status: 'completed' }]);
    const k = userKeys(fleet.namespace, user);
    expect(Number((await fleet.redis.get(k.done)) ?? 0)).toBe(0);
    expect(await fleet.redis.llen(k.history)).toBe(0);

    // The stores are compared once Redis committed the turn too, as the replacement worker does.
    fleet.addWorker();
    await verifyStrictOrder(fleet, [user], 1);
    expect(await settledTurn(fleet.gatewayUrl, first.turnId)).toMatchObject({
      status: 'completed',
      attempts: 2,
    });

    const second = await postMessage(fleet.gatewayUrl, user, messageText(user, 2));
    expect(await settledTurn(fleet.gatewayUrl, second.turnId, 60_000)).toMatchObject({ status: 'completed' });
    await verifyStrictOrder(fleet, [user], 2);
  });
});
