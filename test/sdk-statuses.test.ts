import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTurn, settledTurn, waitFor } from './support/fleet.ts';
import { buildClient } from './support/sdk-build.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const WAITER = join(root, 'test/fixtures/sdk-waiter.ts');
/** What the SDK waits at most: a wait that does not see a final status fails long after this test's bound. */
const WAIT_TIMEOUT_MS = 20_000;
/** How late a wait may end after the turn did: the SDK polls at most once a second. */
const PROMPT_MS = 2500;

interface WaitLine {
  turnId: string;
  via: string;
  status?: string;
  error?: string;
  at: number;
}

/**
 * Every final status ends the built SDK's `waitForTurn` and `streamTurn` (both clients) promptly:
 * the waiting process follows each turn before it ends, and must see it end within PROMPT_MS.
 */
describe('the built SDK ends its waits on every final status', () => {
  const { sim, fleet } = useSimFleet({
    sim: {
      rules: [
        { match: { user: 'st-done' }, latencyMs: 800 },
        { match: { user: 'st-cancel' }, latencyMs: 5000 },
        { match: { user: 'st-interrupt' }, latencyMs: 1500 },
        { match: { user: 'st-coalesce' }, latencyMs: 1500 },
        { match: { user: 'st-fail' }, latencyMs: 800 },
      ],
    },
    workers: 1,
    env: { LOG_LEVEL: 'warn', TURN_ATTEMPTS: '1', LLM_MAX_ATTEMPTS: '1' },
    untilWorkersReady: true,
  });
  let waiter: ChildProcessWithoutNullStreams;
  const lines: WaitLine[] = [];
  let stderr = '';
  const simAdmin = () => sim.url.replace(/\/v1$/, '');
  const configureSim = (patch: Record<string, unknown>) =>
    fetch(`${simAdmin()}/sim/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(patch),
    });

  beforeAll(async () => {
    waiter = spawn(process.execPath, [WAITER, buildClient()], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: fleet.env.REDIS_URL!,
        FLEET_NAMESPACE: fleet.namespace,
        GATEWAY_URL: fleet.gatewayUrl,
        TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
      },
    });
    waiter.stderr.on('data', (d) => {
      stderr += d;
    });
    createInterface({ input: waiter.stdout }).on('line', (l) => lines.push(JSON.parse(l) as WaitLine));
  });
  afterAll(async () => {
    waiter?.kill();
  });

  const post = async (userId: string, text: string, doubleTexting?: string) => {
    const res = await fetch(`${fleet.gatewayUrl}/v1/users/${userId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text, ...(doubleTexting ? { doubleTexting } : {}) }),
    });
    expect(res.status).toBe(202);
    const { turnId } = (await res.json()) as { turnId: string };
    return turnId;
  };
  /** Hands the turn to the waiting process. */
  const follow = (turnId: string) => waiter.stdin.write(`${turnId}\n`);
  const running = (turnId: string) =>
    waitFor(async () => (await getTurn(fleet.gatewayUrl, turnId)).status === 'running', {
      timeoutMs: 10_000,
      intervalMs: 20,
    });

  /** The turn ends with `status`, and all four waits end with it within PROMPT_MS of its end. */
  const expectPromptly = async (turnId: string, status: string) => {
    expect((await settledTurn(fleet.gatewayUrl, turnId)).status).toBe(status);
    const { completedAt } = (await (await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`)).json()) as {
      completedAt: string;
    };
    const ended = Date.parse(completedAt);
    const mine = () => lines.filter((l) => l.turnId === turnId);
    await waitFor(async () => mine().length === 4, {
      timeoutMs: WAIT_TIMEOUT_MS + 5000,
      intervalMs: 50,
      describe: () => `${JSON.stringify(mine())} ${stderr}`,
    });
    for (const line of mine()) {
      expect(line, line.via).toMatchObject({ status });
      expect(line.at - ended, `${line.via} ended ${line.at - ended} ms after the turn`).toBeLessThan(
        PROMPT_MS,
      );
    }
  };

  it('completed', async () => {
    const turnId = await post('st-done', 'a question');
    follow(turnId);
    await expectPromptly(turnId, 'completed');
  });

  it('cancelled', async () => {
    const turnId = await post('st-cancel', 'a long question');
    follow(turnId);
    await running(turnId);
    const res = await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    await expectPromptly(turnId, 'cancelled');
  });

  it('interrupted', async () => {
    // The simulator calls the tool the message names: the turn has a step boundary to stop at.
    const first = await post('st-interrupt', 'please run recall_notes about my digest');
    follow(first);
    await running(first);
    const second = await post('st-interrupt', 'forget that', 'interrupt');
    await expectPromptly(first, 'interrupted');
    expect((await settledTurn(fleet.gatewayUrl, second)).status).toBe('completed');
  });

  it('answered by coalescing', async () => {
    await post('st-coalesce', 'first');
    // Once the first turn is busy with its model call, it takes no more messages: the next two
    // run as one turn.
    await waitFor(
      async () => {
        const stats = (await (await fetch(`${simAdmin()}/sim/stats`)).json()) as {
          byUser: Record<string, number>;
        };
        return stats.byUser['st-coalesce'] === 1;
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    const merged = await post('st-coalesce', 'second', 'coalesce');
    const absorbed = await post('st-coalesce', 'third', 'coalesce');
    follow(merged);
    follow(absorbed);
    await expectPromptly(merged, 'completed');
    await expectPromptly(absorbed, 'completed');
    expect((await getTurn(fleet.gatewayUrl, absorbed)).reply).toBe(
      (await getTurn(fleet.gatewayUrl, merged)).reply,
    );
  });

  it('failed', async () => {
    await configureSim({ errorRate: 1 });
    try {
      const turnId = await post('st-fail', 'this one fails');
      follow(turnId);
      await expectPromptly(turnId, 'failed');
    } finally {
      await configureSim({ errorRate: 0 });
    }
  });
});
