import { describe, expect, it } from 'vitest';
import { mapLimit, postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';
import { messageText, verifyStrictOrder } from './support/verify.ts';

describe('200 users x 10 messages through the gateway, 4 worker processes', () => {
  const USERS = 200;
  const PER_USER = 10;
  const { fleet } = useSimFleet({
    sim: { latencyMs: 5 },
    workers: 4,
    env: { HISTORY_TOKEN_BUDGET: '100000', WORKER_CONCURRENCY: '4', LOG_LEVEL: 'warn' },
  });

  it('completes every turn exactly once, in acceptance order, in Redis and Postgres', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `officer-${i}`);
    // Every user posts its messages one after another; all users at once.
    const accepted = await mapLimit(users, USERS, async (user) => {
      const seqs: number[] = [];
      for (let s = 1; s <= PER_USER; s++)
        seqs.push((await postMessage(fleet.gatewayUrl, user, messageText(user, s))).seq);
      return seqs;
    });
    for (const seqs of accepted) expect(seqs).toEqual(Array.from({ length: PER_USER }, (_, i) => i + 1));

    await waitFor(
      async () => {
        const r = await fleet.pool.query<{ n: string }>('SELECT count(*) AS n FROM turns');
        return Number(r.rows[0]!.n) === USERS * PER_USER;
      },
      {
        timeoutMs: 240_000,
        intervalMs: 500,
        describe: async () =>
          `turns recorded: ${(await fleet.pool.query('SELECT count(*) FROM turns')).rows[0].count}`,
      },
    );
    await verifyStrictOrder(fleet, users, PER_USER);

    // The gateway reports the same through its API.
    const history = (await (await fetch(`${fleet.gatewayUrl}/v1/users/officer-7/history`)).json()) as {
      messages: { seq: number }[];
    };
    expect(history.messages).toHaveLength(2 * PER_USER);
    expect(history.messages.map((m) => m.seq)).toEqual(
      Array.from({ length: PER_USER }, (_, i) => [i + 1, i + 1]).flat(),
    );
  });
});
