import { partitionOf } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { mapLimit, postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const PARTITIONS = 4;
const SLOW_USER = 'slow-user';

/** `count` user ids that share the slow user's partition. */
function neighbours(prefix: string, count: number): string[] {
  const target = partitionOf(SLOW_USER, PARTITIONS);
  const out: string[] = [];
  for (let i = 0; out.length < count; i++)
    if (partitionOf(`${prefix}-${i}`, PARTITIONS) === target) out.push(`${prefix}-${i}`);
  return out;
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

describe('no head-of-line blocking', () => {
  const { fleet } = useSimFleet({
    sim: { latencyMs: 100, rules: [{ match: { user: SLOW_USER }, latencyMs: 3000 }] },
    workers: 1,
    env: { PARTITIONS: String(PARTITIONS), WORKER_CONCURRENCY: '6', LOG_LEVEL: 'warn' },
  });

  /** Each user sends `perUser` messages, each after the previous one is answered; returns turn latencies. */
  async function closedLoop(users: string[], perUser: number): Promise<number[]> {
    const latencies: number[] = [];
    await mapLimit(users, users.length, async (user) => {
      for (let s = 0; s < perUser; s++) {
        const { turnId } = await postMessage(fleet.gatewayUrl, user, `question ${s} from ${user}`);
        let turn: { status: string; enqueuedAt: string; completedAt: string } | undefined;
        await waitFor(
          async () => {
            turn = (await (await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`)).json()) as typeof turn;
            return turn?.status === 'completed';
          },
          { timeoutMs: 60_000, intervalMs: 10 },
        );
        latencies.push(Date.parse(turn!.completedAt) - Date.parse(turn!.enqueuedAt));
      }
    });
    return latencies;
  }

  it('a user whose LLM calls take 3 s does not slow down the other users of the partition', async () => {
    await fleet.workersReady();
    await closedLoop(neighbours('warm', 10), 2);
    const baseline = p95(await closedLoop(neighbours('calm', 10), 6));

    // The slow user queues 10 turns at once: one runs (3 s each), the other nine must not hold slots.
    const slowTurns = [];
    for (let i = 0; i < 10; i++)
      slowTurns.push(await postMessage(fleet.gatewayUrl, SLOW_USER, `slow question ${i}`));
    const started = Date.now();
    const withSlow = p95(await closedLoop(neighbours('busy', 10), 6));
    const elapsed = Date.now() - started;

    const getTurn = async (id: string) =>
      (await (await fetch(`${fleet.gatewayUrl}/v1/turns/${id}`)).json()) as { status: string };
    const slowFirst = await getTurn(slowTurns[0]!.turnId);
    const slowLast = await getTurn(slowTurns[9]!.turnId);
    // The slow user really was running during the measurement, and its later turns were still queued.
    expect(['running', 'completed']).toContain(slowFirst.status);
    expect(slowLast.status).toBe('queued');
    expect(elapsed).toBeLessThan(30_000);

    process.stdout.write(
      `head-of-line: p95 without slow user ${baseline} ms, with slow user ${withSlow} ms\n`,
    );
    expect(withSlow).toBeLessThanOrEqual(2 * baseline);
  });
});
