import type { TurnJob } from '@agent-fleet/core';

/** The id of ada's turn `n` (32 times the digit: a valid turn id). */
export const turnId = (n: number) => `t_${String(n).repeat(32)}`;

/** Ada's chat turn `seq`, saying `message <seq>`, accepted at 100 + seq; `extra` overrides fields. */
export const chatJob = (seq: number, extra: Partial<TurnJob> = {}): TurnJob => ({
  v: 1,
  kind: 'chat',
  userId: 'ada',
  seq,
  turnId: turnId(seq),
  text: `message ${seq}`,
  enqueuedAt: 100 + seq,
  ...extra,
});
