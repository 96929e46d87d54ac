import { userKeys } from '@agent-fleet/core';
import { expect } from 'vitest';
import type { TestFleet } from './fleet.ts';

/** Longer than a redelivery takes after a SIGKILL, under FAST_RECOVERY_ENV's timings or the defaults. */
const COMMIT_WAIT_MS = 60_000;

export const messageText = (userId: string, seq: number) => `${userId} says message ${seq}`;

/**
 * The ordering guarantee, checked from the stores themselves: every turn of every user completed
 * exactly once; the transcript rows were written in seq order; the Redis history holds each turn
 * once, in seq order; and turn s was answered with exactly the s-1 earlier turns in its prompt
 * (the simulator echoes the number of messages it was sent: system + 2(s-1) + 1 = 2s).
 *
 * A turn's transcript row is written before its commit appends it to the Redis history (so a
 * committed turn is always durable): a transcript that is complete does not mean every commit is
 * done. A worker SIGKILLed between the two leaves its turn's commit to the job's next delivery,
 * seconds later. The Redis histories are compared once every user's last turn is committed there
 * (`done`), or after COMMIT_WAIT_MS, when whatever is missing fails the comparison.
 */
export async function verifyStrictOrder(fleet: TestFleet, users: string[], perUser: number): Promise<void> {
  const turns = await fleet.pool.query<{ user_id: string; seq: string; turn_id: string; status: string }>(
    'SELECT user_id, seq, turn_id, status FROM turns ORDER BY user_id, seq',
  );
  expect(turns.rowCount).toBe(users.length * perUser);
  expect(turns.rows.filter((r) => r.status !== 'completed')).toEqual([]);

  const msgs = await fleet.pool.query<{ user_id: string; seq: string; role: string; content: string }>(
    'SELECT user_id, seq, role, content FROM messages ORDER BY id',
  );
  const byUser = new Map<string, { seq: number; role: string; content: string }[]>();
  for (const m of msgs.rows) {
    const list = byUser.get(m.user_id) ?? [];
    list.push({ seq: Number(m.seq), role: m.role, content: m.content });
    byUser.set(m.user_id, list);
  }
  await committedInRedis(fleet, users, perUser, COMMIT_WAIT_MS);
  for (const user of users) {
    const expected = Array.from({ length: perUser }, (_, i) => i + 1).flatMap((s) => [
      { seq: s, role: 'user', content: messageText(user, s) },
      { seq: s, role: 'assistant', content: `Echo [n=${2 * s}]: ${messageText(user, s)}` },
    ]);
    expect(byUser.get(user), `transcript of ${user}`).toEqual(expected);

    const hot = (await fleet.redis.lrange(userKeys(fleet.namespace, user).history, 0, -1)).map(
      (s) => JSON.parse(s) as { seq: number; role: string; content: string },
    );
    expect(
      hot.map((m) => ({ seq: m.seq, role: m.role, content: m.content })),
      `Redis history of ${user}`,
    ).toEqual(expected);
  }
}

/** Waits until every user's turns up to `perUser` are committed in Redis, or `timeoutMs` passed. */
async function committedInRedis(fleet: TestFleet, users: string[], perUser: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let behind = users;
  while (behind.length > 0 && Date.now() < deadline) {
    const done = await Promise.all(behind.map((u) => fleet.redis.get(userKeys(fleet.namespace, u).done)));
    behind = behind.filter((_, i) => Number(done[i] ?? 0) < perUser);
    if (behind.length > 0) await new Promise((r) => setTimeout(r, 100));
  }
}
