import { hotStateKeys, userKeys } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { getTurn, postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

/**
 * Hot state follows activity: a user idle past HOT_STATE_TTL (one second here) leaves
 * nothing of their numbering, history and summary in Redis, and their next turn rebuilds it from
 * Postgres; a user with a turn pending, parked or running keeps it, however long that takes.
 */
describe('hot state expires with idle users and comes back from Postgres (real processes)', () => {
  const { sim, fleet } = useSimFleet({ workers: 2, env: { HOT_STATE_TTL: '1', LOG_LEVEL: 'warn' } });

  const keys = (user: string) => userKeys(fleet.namespace, user);
  /** How many of the user's hot-state keys, pending turns and lease Redis still holds. */
  const stateLeft = (user: string) =>
    fleet.redis.exists(...hotStateKeys(keys(user)), keys(user).pending, keys(user).lease);
  const untilIdle = (user: string) =>
    waitFor(async () => (await stateLeft(user)) === 0, {
      timeoutMs: 30_000,
      intervalMs: 100,
      describe: async () => `${user} still has ${await stateLeft(user)} keys`,
    });
  async function turn(user: string, text: string) {
    const { turnId, seq } = await postMessage(fleet.gatewayUrl, user, text);
    return { ...(await settledTurn(fleet.gatewayUrl, turnId, 30_000)), seq, turnId };
  }
  const historySeqs = async (user: string) =>
    (await fleet.redis.lrange(keys(user).history, 0, -1)).map((s) => (JSON.parse(s) as { seq: number }).seq);
  const transcriptSeqs = async (user: string) =>
    (
      await fleet.pool.query<{ seq: string }>('SELECT seq FROM turns WHERE user_id = $1 ORDER BY seq', [user])
    ).rows.map((r) => Number(r.seq));

  it('idle users leave Redis, and their next turns go on numbering and remembering exactly', async () => {
    const users = ['ada', 'bo', 'cy'];
    await Promise.all(
      users.map(async (user) => {
        for (let i = 1; i <= 3; i++) expect((await turn(user, `fact ${i} of ${user}`)).seq).toBe(i);
      }),
    );
    await Promise.all(users.map(untilIdle));

    await Promise.all(
      users.map(async (user) => {
        const fourth = await turn(user, 'do you remember?');
        expect(fourth).toMatchObject({ seq: 4, status: 'completed' });
        // system + the three earlier turns (6 messages), rebuilt from Postgres, + this question
        expect(fourth.reply).toBe('Echo [n=8]: do you remember?');
        const fifth = await turn(user, 'and now?');
        expect(fifth).toMatchObject({ seq: 5, status: 'completed', reply: 'Echo [n=10]: and now?' });
        expect(await historySeqs(user)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        expect(await transcriptSeqs(user)).toEqual([1, 2, 3, 4, 5]);
      }),
    );
    // Idle again: the state leaves a second time, and numbering still goes on after it.
    await untilIdle('ada');
    expect(await turn('ada', 'once more')).toMatchObject({ seq: 6, reply: 'Echo [n=12]: once more' });
  });

  it('never lets the state of a user with a queued message expire, however long the turn before it runs', async () => {
    const user = 'dee';
    for (let i = 1; i <= 2; i++) expect((await turn(user, `fact ${i}`)).status).toBe('completed');
    // The third turn's model call takes three times the TTL; the fourth waits behind it.
    await fetch(`${sim.url.replace(/\/v1$/, '')}/sim/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ match: { contains: 'slow question' }, latencyMs: 3000 }] }),
    });
    const third = await postMessage(fleet.gatewayUrl, user, 'slow question');
    const fourth = await postMessage(fleet.gatewayUrl, user, 'quick follow-up');
    await waitFor(async () => (await getTurn(fleet.gatewayUrl, third.turnId)).status === 'running', {
      timeoutMs: 20_000,
      intervalMs: 20,
    });
    // While turns are pending the state has no TTL at all.
    expect(await fleet.redis.ttl(keys(user).seq)).toBe(-1);
    expect(await fleet.redis.ttl(keys(user).done)).toBe(-1);
    expect(await fleet.redis.ttl(keys(user).history)).toBe(-1);

    expect(await settledTurn(fleet.gatewayUrl, third.turnId, 30_000)).toMatchObject({
      status: 'completed',
      seq: 3,
      reply: 'Echo [n=6]: slow question',
    });
    expect(await settledTurn(fleet.gatewayUrl, fourth.turnId, 30_000)).toMatchObject({
      status: 'completed',
      seq: 4,
      reply: 'Echo [n=8]: quick follow-up',
    });
    expect(await historySeqs(user)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(await transcriptSeqs(user)).toEqual([1, 2, 3, 4]);
    // Nothing pending any more: now it expires.
    await untilIdle(user);
  });
});
