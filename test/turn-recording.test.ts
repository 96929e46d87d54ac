import { describe, expect, it } from 'vitest';
import { FAST_RECOVERY_ENV, postMessage, settledTurn } from './support/fleet.ts';
import { acceptRaw } from './support/raw-accept.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/**
 * A value Postgres refuses got past the door (a producer that skipped the checks): the turn cannot
 * be recorded as it is, on any attempt. It must still end (failed, with Postgres's reason, its text
 * stored with the refused characters replaced) and the user's next turn must run.
 */
describe('a turn Postgres refuses to record (real worker, Redis and Postgres)', () => {
  const { fleet } = useSimFleet({
    workers: 1,
    env: { ...FAST_RECOVERY_ENV, LOG_LEVEL: 'warn' },
    untilWorkersReady: true,
  });

  it('ends failed with the reason, keeps the text storable, and lets the next turn of the user run', async () => {
    const user = 'nul-sender';
    const refused = await acceptRaw(fleet, user, 'before\u0000after');
    const next = await postMessage(fleet.gatewayUrl, user, 'a clean follow-up');
    expect(next.seq).toBe(refused.seq + 1);

    const failed = await settledTurn(fleet.gatewayUrl, refused.turnId, 15_000);
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/0x00/) });
    expect(await settledTurn(fleet.gatewayUrl, next.turnId, 15_000)).toMatchObject({
      status: 'completed',
      reply: 'Echo [n=2]: a clean follow-up',
    });

    const rows = await fleet.pool.query<{ seq: string; status: string; error: string | null }>(
      'SELECT seq, status, error FROM turns WHERE user_id = $1 ORDER BY seq',
      [user],
    );
    expect(rows.rows).toEqual([
      { seq: '1', status: 'failed', error: expect.stringMatching(/0x00/) },
      { seq: '2', status: 'completed', error: null },
    ]);
    const kept = await fleet.pool.query<{ role: string; content: string }>(
      'SELECT role, content FROM messages WHERE turn_id = $1 ORDER BY idx',
      [refused.turnId],
    );
    expect(kept.rows).toEqual([{ role: 'user', content: 'before\uFFFDafter' }]);
  });
});
