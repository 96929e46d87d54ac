import { hotStateKeys, userKeys } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { postMessage, settledTurn, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

describe('memory within a token budget (real processes)', () => {
  const BUDGET = 240;
  const { fleet } = useSimFleet({
    workers: 1,
    env: { HISTORY_TOKEN_BUDGET: String(BUDGET), LOG_LEVEL: 'warn' },
  });

  async function turn(userId: string, text: string) {
    const { turnId, seq } = await postMessage(fleet.gatewayUrl, userId, text);
    return { ...(await settledTurn(fleet.gatewayUrl, turnId, 30_000)), seq };
  }
  const meta = (userId: string) => fleet.redis.hgetall(userKeys(fleet.namespace, userId).historyMeta);

  it('folds the oldest turns into a summary in large steps and keeps the history within budget', async () => {
    const user = 'long-talker';
    const replies: string[] = [];
    for (let i = 1; i <= 14; i++) {
      const t = await turn(
        user,
        `Question number ${i} about the retention of records for customers of the bank.`,
      );
      expect(t.status).toBe('completed');
      replies.push(t.reply ?? '');
      const m = await meta(user);
      // Right after a commit the history may pass the budget; the fold that follows brings it back.
      await waitFor(async () => Number((await meta(user)).tokens) <= BUDGET, {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      expect(Number(m.lastSeq)).toBe(i);
    }
    const m = await meta(user);
    expect(m.summary).toBeTruthy();
    expect(Number(m.summaryUpTo)).toBeGreaterThan(0);
    const folds = await fleet.pool.query<{ up_to_seq: string }>(
      'SELECT up_to_seq FROM summaries WHERE user_id = $1 ORDER BY up_to_seq',
      [user],
    );
    expect(folds.rowCount).toBeGreaterThan(0);
    // Large steps: a fold frees half the budget, so several turns pass between folds.
    expect(folds.rowCount!).toBeLessThanOrEqual(14 / 3);
    // Every prompt stayed bounded: without folding turn 14 would carry 1 + 26 + 1 = 28 messages.
    // With it: system + summary + at most a budget's worth of history (messages here are >= 20
    // tokens) + the question.
    const sizes = replies.map((r) => Number(/^Echo \[n=(\d+)\]/.exec(r)?.[1]));
    for (const n of sizes) expect(n).toBeLessThanOrEqual(3 + Math.floor(BUDGET / 20));
    // And once a summary exists, it rides in the prompt as its own message: prompts after the first
    // fold are one longer than the history they carry would make them.
    expect(sizes.at(-1)! % 2).toBe(1);
  });

  it('rebuilds the summary and the turns after it from Postgres when the hot state is gone', async () => {
    const user = 'long-talker';
    const before = await meta(user);
    const kept = (await fleet.redis.lrange(userKeys(fleet.namespace, user).history, 0, -1)).length;
    await fleet.redis.del(...hotStateKeys(userKeys(fleet.namespace, user)));
    const t = await turn(
      user,
      'Question number 15 about the retention of records for customers of the bank.',
    );
    expect(t).toMatchObject({ seq: 15, status: 'completed' });
    // system + the summary + the same history as before + the question
    expect(t.reply).toMatch(new RegExp(`^Echo \\[n=${kept + 3}\\]`));
    const after = await meta(user);
    expect(after.summary).toBe(before.summary);
    expect(after.summaryUpTo).toBe(before.summaryUpTo);
    const seqs = (await fleet.redis.lrange(userKeys(fleet.namespace, user).history, 0, -1)).map(
      (s) => (JSON.parse(s) as { seq: number }).seq,
    );
    expect(Math.min(...seqs)).toBe(Number(before.summaryUpTo) + 1);
    expect(seqs.at(-1)).toBe(15);
  });

  it('rebuilds a history Redis lost from Postgres, and numbering goes on', async () => {
    const user = 'forgotten';
    for (let i = 1; i <= 3; i++) expect((await turn(user, `fact ${i}`)).status).toBe('completed');
    // Lose everything Redis knew about the user, as a flush or failover would.
    const keys = await fleet.redis.keys(`${fleet.namespace}:{u:${user}}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await fleet.redis.del(...keys);

    const t = await turn(user, 'do you remember?');
    expect(t.seq).toBe(4);
    expect(t.status).toBe('completed');
    // system + the three earlier turns (6 messages) + this question
    expect(t.reply).toBe('Echo [n=8]: do you remember?');
    const history = (await fleet.redis.lrange(userKeys(fleet.namespace, user).history, 0, -1)).map(
      (s) => JSON.parse(s) as { seq: number; content: string },
    );
    expect(history.map((m) => m.seq)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    const transcript = await fleet.pool.query<{ seq: string }>(
      'SELECT seq FROM turns WHERE user_id = $1 ORDER BY seq',
      [user],
    );
    expect(transcript.rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
  });
});
