/**
 * bench:pipeline's latency part: turns sent at a fixed rate (open loop), each turn's own timings read
 * back from GET /v1/turns/:id, and the stage breakdown and fleet overhead (accepted -> committed
 * minus model time) over them.
 */
import { isFinalStatus, TURN_STAGES, type TurnStatus, type TurnTimings } from '@agent-fleet/core';
import { percentile } from './stack.ts';

/** Sends `count` messages at `perSecond` without waiting for answers; resolves with their turn ids. */
export async function openLoop(
  count: number,
  perSecond: number,
  send: (i: number) => Promise<string>,
): Promise<string[]> {
  const ids: Promise<string>[] = [];
  const started = performance.now();
  while (ids.length < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * perSecond) + 1);
    while (ids.length < due) ids.push(send(ids.length));
    await new Promise((r) => setTimeout(r, 2));
  }
  return Promise.all(ids);
}

interface TurnAnswer {
  status: TurnStatus;
  timings?: TurnTimings;
}

/** The turn's timings once it has ended (undefined when the fleet records none, as before they existed). */
async function timingsOf(gatewayUrl: string, turnId: string): Promise<TurnTimings | undefined> {
  let finalSeen = 0;
  for (;;) {
    const turn = (await (await fetch(`${gatewayUrl}/v1/turns/${turnId}`)).json()) as TurnAnswer;
    if (turn.timings) return turn.timings;
    if (isFinalStatus(turn.status) && ++finalSeen > 20) return undefined;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every turn's timings, read with a few requests in flight. */
export async function collectTimings(gatewayUrl: string, turnIds: string[]): Promise<TurnTimings[]> {
  const out: TurnTimings[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < turnIds.length) {
        const t = await timingsOf(gatewayUrl, turnIds[next++]!);
        if (t) out.push(t);
      }
    }),
  );
  return out;
}

/** What the fleet adds to a turn: accepted -> committed, minus the time its model calls took. */
export const overheadMs = (t: TurnTimings) => t.totalMs - t.stages.model;

/** One line per stage (p50, p99 in ms), then the total, the model time and the fleet overhead. */
export function breakdown(label: string, timings: TurnTimings[]): string[] {
  if (timings.length === 0) return [`${label}: no timings recorded`];
  const f = (xs: number[]) =>
    `p50 ${percentile(xs, 0.5).toFixed(2).padStart(8)}  p99 ${percentile(xs, 0.99).toFixed(2).padStart(8)} ms`;
  const rows: [string, number[]][] = [
    ...TURN_STAGES.map((s): [string, number[]] => [s, timings.map((t) => t.stages[s])]),
    ['between stages', timings.map((t) => t.totalMs - Object.values(t.stages).reduce((a, b) => a + b, 0))],
    ['accepted -> committed', timings.map((t) => t.totalMs)],
    ['fleet overhead (minus model)', timings.map(overheadMs)],
  ];
  return [`${label} (${timings.length} turns)`, ...rows.map(([name, xs]) => `  ${name.padEnd(30)} ${f(xs)}`)];
}
